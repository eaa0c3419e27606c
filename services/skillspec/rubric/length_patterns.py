"""Patterns about the length of the whole reply, in words, characters, lines or sentences.

"fewer than", "less than", "under", "below" and "shorter than" are strict ("under 100 words"
is at most 99); "more than", "over" and "longer than" likewise. A bound on a part of the reply
("each bullet under 15 words", "the title at most 72 characters") is not a bound on the reply:
those sentences go to a judge (or, for lines, to ``line_patterns``).
"""

from __future__ import annotations

import re

from skill_adapter.contracts import Check, LengthCheck

from .vocabulary import MAX_OPS, MIN_OPS, NUM, UNIT, bounds, negated, number, pattern, strict, unit


def _length_range(match: re.Match[str], sentence: str) -> list[Check]:
    found = match.groupdict()
    low = number(found["a"] or found["a2"] or found["a3"])
    high = number(found["b"] or found["b2"] or found["b3"])
    if found["op2"] and strict(found["op2"]):
        high -= 1
    return [LengthCheck(unit=unit(found["unit"]), min=low, max=high)] if low <= high else []


def _length_bound(match: re.Match[str], sentence: str) -> list[Check]:
    merged: dict[str, tuple[int | None, int | None]] = {}
    for found in match.re.finditer(sentence):
        limits = bounds(found.group("op"), number(found.group("n")), negated(sentence, found.start()))
        if limits is None:
            continue
        low, high = merged.get(unit(found.group("unit")), (None, None))
        merged[unit(found.group("unit"))] = (
            limits[0] if limits[0] is not None else low,
            limits[1] if limits[1] is not None else high,
        )
    return [
        LengthCheck(unit=name, min=low, max=high)  # type: ignore[arg-type]
        for name, (low, high) in merged.items()
        if low is None or high is None or low <= high
    ]


def _length_trailing(match: re.Match[str], sentence: str) -> list[Check]:
    n, op = number(match.group("n")), " ".join(match.group("op").lower().split())
    if op in ("or more", "min", "minimum", "at least"):
        return [LengthCheck(unit=unit(match.group("unit")), min=n)]
    return [LengthCheck(unit=unit(match.group("unit")), max=n)]


def _length_limit(match: re.Match[str], sentence: str) -> list[Check]:
    return [LengthCheck(unit=unit(match.group("unit")), max=number(match.group("n")))]


def _length_exact(match: re.Match[str], sentence: str) -> list[Check]:
    n = number(match.group("n"))
    return [LengthCheck(unit=unit(match.group("unit")), min=n, max=n)]


LENGTH_RANGE = pattern(
    "length-range",
    "length",
    rf"\b(?:between\s+(?P<a>{NUM})\s+and\s+(?P<b>{NUM})"
    rf"|(?:{MIN_OPS})\s+(?P<a2>{NUM})\s+(?:and|but)\s+(?P<op2>{MAX_OPS})\s+(?P<b2>{NUM})"
    rf"|(?P<a3>\d{{1,9}})\s*(?:-|\u2013|to)\s*(?P<b3>\d{{1,9}}))\s+{UNIT}",
    _length_range,
    [
        ("Answers must be between 50 and 150 words.", LengthCheck(unit="words", min=50, max=150)),
        ("Write 2-4 sentences.", LengthCheck(unit="sentences", min=2, max=4)),
        ("Write at least 20 but fewer than 40 lines.", LengthCheck(unit="lines", min=20, max=39)),
    ],
)

LENGTH_TRAILING = pattern(
    "length-trailing",
    "length",
    rf"\b(?P<n>{NUM})\s+{UNIT}\s+(?P<op>or\s+(?:less|fewer|more)|max(?:imum)?|min(?:imum)?|at\s+most|"
    r"at\s+least|tops)\b",
    _length_trailing,
    [
        ("Keep it to 280 characters or less.", LengthCheck(unit="characters", max=280)),
        ("Write 300 words or more.", LengthCheck(unit="words", min=300)),
    ],
)

LENGTH_BOUND = pattern(
    "length-bound",
    "length",
    rf"\b(?P<op>{MAX_OPS}|{MIN_OPS})\s+(?P<n>{NUM})\s+{UNIT}",
    _length_bound,
    [
        ("Keep your answer under 100 words.", LengthCheck(unit="words", max=99)),
        ("Respond in no more than 3 sentences.", LengthCheck(unit="sentences", max=3)),
        ("The reply has at most 50 words", LengthCheck(unit="words", max=50)),
        ("Write at least 200 words.", LengthCheck(unit="words", min=200)),
        ("Do not write more than 10 lines.", LengthCheck(unit="lines", max=10)),
        ("Never exceed 1,000 characters.", LengthCheck(unit="characters", max=1000)),
    ],
    negatable=True,
)

LENGTH_LIMIT = pattern(
    "length-limit",
    "length",
    rf"\blimit(?:ed)?\s+(?:(?:it|the|your|this|that|yourself)\s+)?(?:\w+\s+)?to\s+(?P<n>{NUM})\s+{UNIT}",
    _length_limit,
    [("Limit your response to 120 words.", LengthCheck(unit="words", max=120))],
)

LENGTH_EXACT = pattern(
    "length-exact",
    "length",
    rf"\b(?:exactly\s+|(?:in|with|using|as)\s+(?:(?:only|just|exactly)\s+)?)(?P<n>{NUM})\s+{UNIT}",
    _length_exact,
    [
        ("Answer in one sentence.", LengthCheck(unit="sentences", min=1, max=1)),
        ("Reply with exactly three lines.", LengthCheck(unit="lines", min=3, max=3)),
        ("Respond in a single line.", LengthCheck(unit="lines", min=1, max=1)),
    ],
)
