"""Deterministic checks: pure functions of a model's reply.

``run_check(check, text)`` returns a ``CheckResult``: whether the reply passes, a score in
``[0, 1]`` and a short human-readable piece of evidence ("reply has 143 words; at most 100
allowed"). ``validate_check(check)`` lists what is wrong with a check itself (an invalid JSON
Schema, a regex that does not compile) so the rubric compiler can reject it before any reply is
graded. A ``JudgeCheck`` is never guessed: ``run_check`` raises ``JudgeRequired``.

How each kind reads the reply:

* **valid_json / json_schema**: see ``json_checks`` (strict JSON, optional single code fence,
  Draft 2020-12 schemas with ``format`` checked).
* **regex** looks at the first ``MAX_TEXT_CHARS`` characters only; ``fullmatch`` applies to the
  reply with surrounding whitespace removed. Python's ``re`` has no timeout, so
  ``validate_check`` also refuses patterns that nest unbounded repeats (``(a+)+``), the usual
  cause of catastrophic backtracking (a star-height heuristic: ``(a|aa)+`` is not caught).
* **contains / not_contains** are substring tests; **starts_with / ends_with** ignore leading
  and trailing whitespace of the reply.
* **Markdown** kinds (headings, lists, code blocks): see ``markdown``; fenced code is skipped.
* **length**: words are whitespace-separated tokens, characters the length of the stripped
  reply, lines the non-empty lines, sentences what ``sentence_spans`` finds.

Scores are 1.0 or 0.0, except length: over the maximum the score falls linearly to 0 at twice
the maximum (``1 - (n - max) / max``), under the minimum it is ``n / min``. ``passed`` stays
strict either way.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from skill_adapter.contracts import (
    BulletListCheck,
    Check,
    CodeBlockCheck,
    ContainsCheck,
    EndsWithCheck,
    JsonSchemaCheck,
    LengthCheck,
    MarkdownHeadingsCheck,
    NotContainsCheck,
    NumberedListCheck,
    RegexCheck,
    StartsWithCheck,
    ValidJsonCheck,
)

from .evidence import CheckResult, JudgeRequired, plural, quote, result
from .json_checks import check_json_schema, check_valid_json, compile_schema
from .markdown import (
    atx_heading,
    check_code_blocks,
    check_headings,
    check_list,
    heading_key,
    headings,
    normalize_language,
)
from .sentences import sentence_spans

__all__ = [
    "MAX_TEXT_CHARS",
    "CheckResult",
    "JudgeRequired",
    "atx_heading",
    "compile_schema",
    "count_units",
    "heading_key",
    "headings",
    "nested_quantifier",
    "normalize_language",
    "run_check",
    "sentence_spans",
    "validate_check",
]

MAX_TEXT_CHARS = 100_000
"""Regex checks examine at most this many characters of a reply."""


# --- length ---------------------------------------------------------------------------------


def count_units(text: str, unit: str) -> int:
    """How many words, characters, lines or sentences ``text`` has (see the module docs)."""
    if unit == "words":
        return len(text.split())
    if unit == "characters":
        return len(text.strip())
    if unit == "lines":
        return sum(1 for line in text.splitlines() if line.strip())
    if unit == "sentences":
        return len(sentence_spans(text))
    raise ValueError(f"unknown length unit {unit!r}")


def _length(check: LengthCheck, text: str) -> CheckResult:
    n = count_units(text, check.unit)
    has = f"reply has {plural(n, check.unit)}"
    if check.max is not None and n > check.max:
        score = max(0.0, 1.0 - (n - check.max) / check.max) if check.max else 0.0
        return CheckResult(False, score, f"{has}; at most {check.max} allowed")
    if check.min is not None and n < check.min:
        return CheckResult(False, n / check.min, f"{has}; at least {check.min} required")
    if check.min is not None and check.max is not None:
        bound = f"between {check.min} and {check.max}"
    elif check.max is not None:
        bound = f"at most {check.max}"
    else:
        bound = f"at least {check.min}"
    return CheckResult(True, 1.0, f"{has} ({bound} allowed)")


# --- regex ----------------------------------------------------------------------------------

_FLAGS = {"IGNORECASE": re.IGNORECASE, "MULTILINE": re.MULTILINE, "DOTALL": re.DOTALL}


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str, flags: tuple[str, ...]) -> re.Pattern[str]:
    value = 0
    for flag in flags:
        value |= _FLAGS[flag]
    try:
        return re.compile(pattern, value)
    except re.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None


def nested_quantifier(pattern: str) -> bool:
    """Whether ``pattern`` repeats something that itself repeats without bound, as ``(a+)+``.

    Such patterns can backtrack exponentially; the rubric compiler refuses them.
    """
    import re._parser as parser  # the stdlib's own regex parser

    unbounded = parser.MAXREPEAT
    repeats = (parser.MAX_REPEAT, parser.MIN_REPEAT, parser.POSSESSIVE_REPEAT)

    def walk(items: Any, inside: bool) -> bool:
        for op, arg in items:
            if op in repeats:
                _, high, sub = arg
                if high == unbounded and inside:
                    return True
                if walk(sub, inside or high == unbounded):
                    return True
            elif op is parser.SUBPATTERN and walk(arg[-1], inside):
                return True
            elif op is parser.BRANCH and any(walk(b, inside) for b in arg[1]):
                return True
            elif op in (parser.ASSERT, parser.ASSERT_NOT) and walk(arg[1], inside):
                return True
        return False

    try:
        return walk(parser.parse(pattern), False)
    except re.error:
        return False


def _regex(check: RegexCheck, text: str) -> CheckResult:
    compiled = _compiled(check.pattern, tuple(check.flags))
    note = f" (first {MAX_TEXT_CHARS} characters examined)" if len(text) > MAX_TEXT_CHARS else ""
    examined = text[:MAX_TEXT_CHARS]
    if check.mode == "fullmatch":
        if compiled.fullmatch(examined.strip()):
            return result(True, f"whole reply matches /{check.pattern}/{note}")
        return result(False, f"reply does not fully match /{check.pattern}/{note}")
    found = compiled.search(examined)
    if found:
        return result(True, f"matched {quote(found.group())} at offset {found.start()}")
    return result(False, f"no match for /{check.pattern}/{note}")


# --- text -----------------------------------------------------------------------------------


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _contains(check: ContainsCheck | NotContainsCheck, text: str) -> CheckResult:
    at = _fold(text, check.case_sensitive).find(_fold(check.text, check.case_sensitive))
    wanted = isinstance(check, ContainsCheck)
    if at >= 0:
        return result(wanted, f"found {quote(check.text)} on line {_line_of(text, at)}")
    return result(not wanted, f"{quote(check.text)} not found")


def _edge(check: StartsWithCheck | EndsWithCheck, text: str) -> CheckResult:
    reply = text.strip()
    expected = check.text.strip()
    starts = isinstance(check, StartsWithCheck)
    folded, target = _fold(reply, check.case_sensitive), _fold(expected, check.case_sensitive)
    ok = folded.startswith(target) if starts else folded.endswith(target)
    verb = "starts" if starts else "ends"
    if ok:
        return result(True, f"reply {verb} with {quote(expected)}")
    if not reply:
        return result(False, f"reply is empty; expected it to {verb[:-1]} with {quote(expected)}")
    actual = reply[: len(expected) + 10] if starts else reply[-(len(expected) + 10) :]
    return result(False, f"reply {verb} with {quote(actual)}; expected {quote(expected)}")


# --- entry points ---------------------------------------------------------------------------


def run_check(check: Check, text: str) -> CheckResult:
    """Run a deterministic check on a reply. ``JudgeRequired`` for a judge check.

    Never raises on any reply text; a check that is itself invalid (see ``validate_check``)
    raises ``ValueError``.
    """
    match check:
        case ValidJsonCheck():
            return check_valid_json(check, text)
        case JsonSchemaCheck():
            return check_json_schema(check, text)
        case RegexCheck():
            return _regex(check, text)
        case ContainsCheck() | NotContainsCheck():
            return _contains(check, text)
        case StartsWithCheck() | EndsWithCheck():
            return _edge(check, text)
        case MarkdownHeadingsCheck():
            return check_headings(check, text)
        case BulletListCheck() | NumberedListCheck():
            return check_list(check, text)
        case CodeBlockCheck():
            return check_code_blocks(check, text)
        case LengthCheck():
            return _length(check, text)
    raise JudgeRequired(check.instruction)


def validate_check(check: Check) -> list[str]:
    """Problems with the check itself, in words; empty when it can be run."""
    problems: list[str] = []
    match check:
        case JsonSchemaCheck():
            try:
                compile_schema(check.json_schema)
            except ValueError as exc:
                problems.append(str(exc))
        case RegexCheck():
            try:
                _compiled(check.pattern, tuple(check.flags))
            except ValueError as exc:
                problems.append(str(exc))
            else:
                if nested_quantifier(check.pattern):
                    problems.append(
                        f"regex {check.pattern!r} nests unbounded repeats (as in (a+)+) and can "
                        "backtrack catastrophically; rewrite it"
                    )
        case ContainsCheck() | NotContainsCheck() | StartsWithCheck() | EndsWithCheck():
            if not check.text.strip():
                problems.append(f"{check.kind} text is only whitespace")
        case MarkdownHeadingsCheck():
            if any(not heading_key(h) for h in check.headings):
                problems.append("a heading is empty")
        case BulletListCheck() | NumberedListCheck():
            if check.max_items is not None and check.min_items > check.max_items:
                problems.append(f"min_items {check.min_items} exceeds max_items {check.max_items}")
        case CodeBlockCheck():
            if check.language is not None and not check.language.strip():
                problems.append("code block language is empty")
    return problems
