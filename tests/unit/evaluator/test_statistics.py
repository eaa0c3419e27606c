"""Wilson score intervals and Newcombe's interval of a difference, against published figures."""

from __future__ import annotations

import pytest

from skill_adapter.evaluator.statistics import difference, rate, spread, wilson

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("passed", "total", "low", "high"),
    [
        (0, 20, 0.0, 0.1611),  # the "0/20" base model: at most ~16%
        (20, 20, 0.8389, 1.0),
        (5, 10, 0.2366, 0.7634),
        (81, 263, 0.2553, 0.3662),  # Wilson (1927) as in statsmodels' proportion_confint(method="wilson")
        (1, 1, 0.2065, 1.0),
    ],
)
def test_wilson_matches_known_figures(passed: int, total: int, low: float, high: float) -> None:
    got = wilson(passed, total)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_an_empty_sample_says_nothing_and_bad_counts_are_refused() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    assert rate(0, 0).rate == 0.0
    with pytest.raises(ValueError, match="passed <= total"):
        wilson(3, 2)


def test_rate_carries_its_interval_and_spread_its_moments() -> None:
    r = rate(19, 20)
    assert (r.passed, r.total, r.rate) == (19, 20, 0.95)
    assert r.low < 0.95 < r.high <= 1.0
    assert spread([1.0, 3.0]) == {"mean": 2.0, "stddev": pytest.approx(1.414214), "min": 1.0, "max": 3.0}
    assert spread([]) == {"mean": 0.0, "stddev": 0.0, "min": 0.0, "max": 0.0}


@pytest.mark.parametrize(
    ("first", "second", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873, table II, method 10
        ((56, 70), (48, 80), 0.0524, 0.3339),
        ((9, 10), (3, 10), 0.1705, 0.8090),
        ((6, 7), (2, 7), 0.0582, 0.8062),
        ((5, 56), (0, 29), -0.0381, 0.1926),
        ((0, 10), (0, 20), -0.1611, 0.2775),
    ],
)
def test_the_difference_interval_matches_newcombes_table(
    first: tuple[int, int], second: tuple[int, int], low: float, high: float
) -> None:
    assert difference(rate(*first), rate(*second)) == pytest.approx((low, high), abs=5e-5)


def test_the_difference_interval_holds_its_estimate_and_stays_in_range() -> None:
    for first, second in [((19, 32), (14, 32)), ((32, 32), (0, 32)), ((0, 32), (32, 32)), ((3, 4), (3, 4))]:
        low, high = difference(rate(*first), rate(*second))
        d = first[0] / first[1] - second[0] / second[1]
        assert -1.0 <= low <= d <= high <= 1.0
