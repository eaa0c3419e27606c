"""Patterns about lines: the reply on a single line, the first line's width, every line's width.

* "Write the reply on a single line", "The output is a single line" -> at most one line.
* "Keep the first line at most 72 characters", "The subject line must be under 50 characters"
  -> a regex on the first non-blank line (a leading ``Subject:`` label, as in an e-mail, is
  not counted when the sentence says "subject").
* "Do not end the subject line with a period" -> a regex on the end of the first line.
* "No line longer than 80 characters", "Use at most 100 characters per line" -> a full-match
  regex on every line; "Wrap every line of the body at 72 characters" -> every line after the
  first. Both regexes run in linear time.

A line width needs exactly one maximum in characters (or columns) in the sentence, and no
other part of the reply named ("each bullet", "the title" and "the summary" stay with a judge,
as do "the first line ... and the body ..." together). ``describe_line_regex`` reads these
regexes back into words for criterion descriptions.
"""

from __future__ import annotations

import re

from skill_adapter.contracts import Check, LengthCheck, RegexCheck

from .vocabulary import char_limit, mask_quotes, names_part, pattern

_WHOLE = r"(?:(?:whole|entire|full|complete)\s+)?"
_SAY = r"^(?:please\s+)?(?:always\s+)?(?:write|put|keep|output|print|return|give|format|emit|respond|reply|answer|fit)"
_IS = r"\s+(?:is|are|must\s+be|should\s+be|fits|must\s+fit|should\s+fit|stays|must\s+stay)\s+(?:(?:written|kept)\s+)?"
_ONE_LINE = r"(?:a\s+single|one)\s+line\b"
_SUBJECT_LABEL = r"(?:\*{0,2}(?i:subject):\*{0,2}[ \t]*)?"
_FIRST_LINE_PARTS = frozenset({"first", "subject", "line", "column", "columns"})
_WIDTH_PARTS = frozenset({"each", "every", "per", "line", "lines", "body", "column", "columns"})
_CLAUSE_BREAK = re.compile(r";|,\s*(?:and|but|while|whereas)\b|\s(?:but|while|whereas)\s", re.IGNORECASE)
_LIMIT = re.compile(r"\{0,(\d{1,9})\}")


def first_line_regex(limit: int, subject: bool = False) -> str:
    """A search regex: the first non-blank line has at most ``limit`` characters."""
    return rf"\A(?>\s*){_SUBJECT_LABEL if subject else ''}[^\n]{{0,{limit}}}(?:\n|\Z)"


def first_line_end_regex() -> str:
    """A search regex: the first non-blank line does not end with a period (trailing spaces aside)."""
    return r"\A(?>\s*)(?:[^\n]*[^.\s])?[ \t]*(?:\n|\Z)"


def width_regex(limit: int, skip_first: bool = False) -> str:
    """A full-match regex: every line (after the first, with ``skip_first``) has at most ``limit`` characters."""
    if skip_first:
        return rf"[^\n]*(?:\n[^\n]{{0,{limit}}})*"
    return rf"(?:[^\n]{{0,{limit}}}\n)*[^\n]{{0,{limit}}}"


def describe_line_regex(check: RegexCheck) -> str | None:
    """What a regex from this module asks, in words; ``None`` for any other regex."""
    limits = _LIMIT.findall(check.pattern)
    n = int(limits[-1]) if limits else 0
    said = {
        ("search", first_line_regex(n)): f"The first line of the reply has at most {n} characters",
        ("search", first_line_regex(n, subject=True)): (
            f"The first line of the reply has at most {n} characters (not counting a 'Subject:' label)"
        ),
        ("search", first_line_end_regex()): "The first line of the reply does not end with a period",
        ("fullmatch", width_regex(n)): f"Every line of the reply has at most {n} characters",
        (
            "fullmatch",
            width_regex(n, skip_first=True),
        ): f"Every line after the first has at most {n} characters",
    }
    return None if check.flags else said.get((check.mode, check.pattern))


def _clause(sentence: str, position: int) -> str:
    """The clause of ``sentence`` around ``position`` (split at ";", ", and", "but"...)."""
    breaks = list(_CLAUSE_BREAK.finditer(mask_quotes(sentence)))
    start = max([0, *(b.end() for b in breaks if b.end() <= position)])
    end = min([len(sentence), *(b.start() for b in breaks if b.start() >= position)])
    return sentence[start:end].strip()


def _single_line(match: re.Match[str], sentence: str) -> list[Check]:
    return [LengthCheck(unit="lines", max=1)]


def _first_line(match: re.Match[str], sentence: str) -> list[Check]:
    clause = _clause(sentence, match.start())
    limit = char_limit(clause)
    if limit is None or names_part(clause, _FIRST_LINE_PARTS):
        return []
    subject = "subject" in match.group("part").lower()
    return [RegexCheck(pattern=first_line_regex(limit, subject))]


def _first_line_end(match: re.Match[str], sentence: str) -> list[Check]:
    if names_part(_clause(sentence, match.start()), _FIRST_LINE_PARTS):
        return []
    return [RegexCheck(pattern=first_line_end_regex())]


def _width(match: re.Match[str], sentence: str) -> list[Check]:
    clause = _clause(sentence, match.start())
    limit = char_limit(clause)
    if limit is None or names_part(clause, _WIDTH_PARTS):
        return []
    skip_first = re.search(r"\bbody\b", mask_quotes(clause), re.IGNORECASE) is not None
    return [RegexCheck(pattern=width_regex(limit, skip_first), mode="fullmatch")]


SINGLE_LINE = pattern(
    "single-line",
    "single-line",
    rf"{_SAY}(?:\s+(?:everything|(?:your|the)\s+{_WHOLE}(?:reply|response|answer|output|message|JSON"
    rf"(?:\s+(?:object|array))?)))?\s+(?:on|to)\s+{_ONE_LINE}"
    rf"|^(?:the|your)\s+{_WHOLE}(?:reply|response|answer|output|message){_IS}(?:on\s+)?{_ONE_LINE}",
    _single_line,
    [
        ("Write the whole reply on a single line.", LengthCheck(unit="lines", max=1)),
        ("Answer on one line.", LengthCheck(unit="lines", max=1)),
        ("The output must fit on one line.", LengthCheck(unit="lines", max=1)),
        ("Keep your answer to a single line.", LengthCheck(unit="lines", max=1)),
    ],
    near_misses=(
        "Put each item on a single line.",
        "Write the address on one line.",
        "Write it on one line.",
    ),
)

SINGLE_LINE_OBJECT = pattern(
    "single-line-object",
    "single-line",
    rf"{_SAY}\s+(?:the|your)\s+{_WHOLE}object\s+(?:on|to|in)\s+{_ONE_LINE}"
    rf"|^(?:the|your)\s+{_WHOLE}object{_IS}(?:on\s+)?{_ONE_LINE}",
    _single_line,
    [
        ("Write the whole object on a single line.", LengthCheck(unit="lines", max=1)),
        ("The object is written on one line.", LengthCheck(unit="lines", max=1)),
    ],
    near_misses=("Write each object on a single line.", "Write the `meta` object on one line."),
    needs_json_reply=True,
)

FIRST_LINE = pattern(
    "first-line",
    "first-line",
    r"\b(?P<part>first[\s-]+line|subject[\s-]+line|(?:commit|e-?mail)\s+subject)\b",
    _first_line,
    [
        ("Keep the first line at most 72 characters.", RegexCheck(pattern=first_line_regex(72))),
        ("The first line is at most 72 characters", RegexCheck(pattern=first_line_regex(72))),
        (
            "The subject line must be under 50 characters.",
            RegexCheck(pattern=first_line_regex(49, subject=True)),
        ),
        ("Limit the subject line to 50 characters.", RegexCheck(pattern=first_line_regex(50, subject=True))),
        ("The first line must not exceed 72 characters.", RegexCheck(pattern=first_line_regex(72))),
        (
            "Keep the first line under 50 characters, and wrap the body at 72 characters.",
            (
                RegexCheck(pattern=first_line_regex(49)),
                RegexCheck(pattern=width_regex(72, skip_first=True), mode="fullmatch"),
            ),
        ),
    ],
    near_misses=(
        "The title must be at most 72 characters.",
        "Keep the first line of each bullet under 80 characters.",
        "Keep the first line under 50 characters and wrap the body at 72 characters.",
        "The first line must be at least 10 characters.",
        "The first line is a summary of at most 72 characters.",
        "Keep the subject line short; the reply must be under 200 characters.",
        "Stay on the subject and answer in under 200 characters.",
    ),
    whole_reply=False,
)

FIRST_LINE_END = pattern(
    "first-line-end",
    "first-line-end",
    r"(?:\b(?:never|do\s+not|don't|must\s+not|mustn't|should\s+not|shouldn't)\s+end\s+(?:the\s+)?"
    r"(?:first\s+line|subject(?:\s+line)?|commit\s+subject)"
    r"|^(?:the\s+)?(?:first|subject)\s+line\s+(?:(?:must|should|does|will)\s+not|never|doesn't|mustn't|"
    r"shouldn't)\s+ends?)\s+(?:in|with)\s+(?:a\s+)?(?:period|full\s+stop|dot)\b",
    _first_line_end,
    [
        ("Do not end the subject line with a period.", RegexCheck(pattern=first_line_end_regex())),
        ("The first line does not end with a period", RegexCheck(pattern=first_line_end_regex())),
    ],
    near_misses=(
        "Start the summary with a lowercase letter and never end it with a period.",
        "Do not end the first line of each bullet with a period.",
        "End the subject line with a period.",
    ),
    whole_reply=False,
    negatable=True,
)

LINE_WIDTH = pattern(
    "line-width",
    "line-width",
    r"\b(?:each|every|any|no|all)\s+(?:single\s+)?lines?\b|\bper\s+line\b|\b(?:hard[\s-]*)?wrap(?:s|ped|ping)?\b"
    r"|\bline\s+(?:length|width)s?\b|^(?:(?:always\s+)?keep\s+)?(?:the\s+)?(?:body\s+)?lines\b|\bbody\s+lines\b",
    _width,
    [
        ("No line longer than 80 characters.", RegexCheck(pattern=width_regex(80), mode="fullmatch")),
        ("Use at most 100 characters per line.", RegexCheck(pattern=width_regex(100), mode="fullmatch")),
        ("Lines must not exceed 100 characters.", RegexCheck(pattern=width_regex(100), mode="fullmatch")),
        ("Keep every line under 80 characters.", RegexCheck(pattern=width_regex(79), mode="fullmatch")),
        ("Hard-wrap the text at 80 columns.", RegexCheck(pattern=width_regex(80), mode="fullmatch")),
        (
            "Wrap every line of the body at 72 characters.",
            RegexCheck(pattern=width_regex(72, skip_first=True), mode="fullmatch"),
        ),
        (
            "Wrap the body at 72 characters.",
            RegexCheck(pattern=width_regex(72, skip_first=True), mode="fullmatch"),
        ),
    ],
    near_misses=(
        "Keep each bullet under 80 characters.",
        "Each line of the table must be at most 80 characters.",
        "Each line of code must be under 80 characters.",
        "Keep every line under 10 words.",
        "Wrap the summary at 72 characters.",
    ),
    whole_reply=False,
)
