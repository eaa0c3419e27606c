"""Pass rates with 95% Wilson score intervals, and the interval of a difference of two rates.

The Wilson interval stays inside [0, 1] and is sensible at 0/n and n/n, where the normal
approximation collapses to a zero-width interval: a 0/20 base model is "at most ~16%", not "0%".
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from skill_adapter.contracts import Rate

Z95 = 1.959963984540054
"""The standard normal quantile of 0.975."""


def wilson(passed: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``passed`` successes in ``total`` trials.

    >>> tuple(round(x, 4) for x in wilson(0, 20))
    (0.0, 0.1611)
    >>> tuple(round(x, 4) for x in wilson(20, 20))
    (0.8389, 1.0)
    >>> wilson(0, 0)
    (0.0, 1.0)
    """
    if total < 0 or not 0 <= passed <= total:
        raise ValueError(f"need 0 <= passed <= total, got {passed}/{total}")
    if total == 0:
        return 0.0, 1.0
    p = passed / total
    z2 = z * z
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def difference(first: Rate, second: Rate, z: float = Z95) -> tuple[float, float]:
    """The 95% interval of ``first.rate - second.rate`` (Newcombe's hybrid score interval, from
    both Wilson intervals). It treats the two rates as independent samples; for two arms graded
    on the same prompts (positively correlated) it is wider than it needs to be, never narrower.

    Newcombe (1998, Statistics in Medicine 17:873), table II, method 10:

    >>> tuple(round(x, 4) for x in difference(rate(56, 70), rate(48, 80)))
    (0.0524, 0.3339)
    >>> tuple(round(x, 4) for x in difference(rate(9, 10), rate(3, 10)))
    (0.1705, 0.809)

    A drop of 5 in 32 is not told from no drop at all:

    >>> tuple(round(x, 3) for x in difference(rate(19, 32), rate(14, 32)))
    (-0.084, 0.373)
    """
    (l1, u1), (l2, u2) = wilson(first.passed, first.total, z), wilson(second.passed, second.total, z)
    p1 = first.passed / first.total if first.total else 0.0
    p2 = second.passed / second.total if second.total else 0.0
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return max(-1.0, low), min(1.0, high)


def rate(passed: int, total: int) -> Rate:
    """``passed``/``total`` with its interval (a rate of 0 with [0, 1] when nothing was counted)."""
    low, high = wilson(passed, total)
    return Rate(
        passed=passed,
        total=total,
        rate=round(passed / total, 6) if total else 0.0,
        low=round(low, 6),
        high=round(high, 6),
    )


def rate_of(outcomes: Iterable[bool]) -> Rate:
    values = list(outcomes)
    return rate(sum(values), len(values))


def mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


def spread(values: Iterable[float]) -> dict[str, float]:
    """``mean``, ``stddev`` (sample), ``min``, ``max``, as Agent Skills benchmarks report them."""
    items = list(values)
    if not items:
        return {"mean": 0.0, "stddev": 0.0, "min": 0.0, "max": 0.0}
    average = sum(items) / len(items)
    variance = sum((x - average) ** 2 for x in items) / (len(items) - 1) if len(items) > 1 else 0.0
    return {
        "mean": round(average, 6),
        "stddev": round(math.sqrt(variance), 6),
        "min": round(min(items), 6),
        "max": round(max(items), 6),
    }
