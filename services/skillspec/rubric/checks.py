"""Deterministic checks: pure functions of a model's reply.

``run_check(check, text)`` returns a ``CheckResult``: whether the reply passes, a score in
``[0, 1]`` and a short human-readable piece of evidence ("reply has 143 words; at most 100
allowed"). ``validate_check(check)`` lists what is wrong with a check itself (an invalid JSON
Schema, a regex that does not compile) so the rubric compiler can reject it before any reply is
graded. A ``JudgeCheck`` is never guessed: ``run_check`` raises ``JudgeRequired``.

How each kind reads the reply:

* **valid_json / json_schema** parse the reply with surrounding whitespace removed, strictly
  (``NaN`` and ``Infinity`` are not JSON). With ``allow_code_fence`` a reply that is exactly one
  fenced block (```` ```json ```` or a bare ```` ``` ````) is unwrapped first. Schemas are
  Draft 2020-12 unless they name another ``$schema``; ``format`` is checked.
* **regex** looks at the first ``MAX_TEXT_CHARS`` characters only; ``fullmatch`` applies to the
  reply with surrounding whitespace removed. Python's ``re`` has no timeout, so
  ``validate_check`` also refuses patterns that nest unbounded repeats (``(a+)+``), the usual
  cause of catastrophic backtracking (a star-height heuristic: ``(a|aa)+`` is not caught).
* **contains / not_contains** are substring tests; **starts_with / ends_with** ignore leading
  and trailing whitespace of the reply.
* **Markdown** kinds skip fenced code. Headings are ATX (``# Title``); a heading's text is
  compared case-insensitively after removing closing ``#``, emphasis, a leading number
  ("1. ") and a trailing colon. List items are lines starting with ``-``, ``*`` or ``+``
  (bullets) or ``1.`` / ``1)`` (numbered), nested ones included. Only closed fences count as
  code blocks; the language is the first word of the info string, with a few aliases
  (``py`` is ``python``, ``js`` is ``javascript``...).
* **length**: words are whitespace-separated tokens, characters the length of the stripped
  reply, lines the non-empty lines, sentences what ``sentence_spans`` finds.

Scores are 1.0 or 0.0, except length: over the maximum the score falls linearly to 0 at twice
the maximum (``1 - (n - max) / max``), under the minimum it is ``n / min``. ``passed`` stays
strict either way.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
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

MAX_TEXT_CHARS = 100_000
"""Regex checks examine at most this many characters of a reply."""


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    score: float
    evidence: str


class JudgeRequired(Exception):
    """A judge check cannot be decided by a program; it needs an LLM judge."""

    def __init__(self, instruction: str) -> None:
        self.instruction = instruction
        super().__init__(f"needs an LLM judge: {instruction}")


def _result(passed: bool, evidence: str) -> CheckResult:
    return CheckResult(passed=passed, score=1.0 if passed else 0.0, evidence=evidence)


def _quote(text: str, limit: int = 60) -> str:
    """``text`` as a short quoted snippet for evidence."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit if n != 1 else unit.removesuffix('s')}"


# --- sentences ------------------------------------------------------------------------------

_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s|$)|\n[ \t]*\n")
_ABBREVIATIONS = frozenset("e.g i.e vs cf viz al approx mr mrs ms dr prof sr jr fig eq ca resp".split())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence in ``text``.

    A sentence ends at ``.``, ``!`` or ``?`` (repeated, and followed by closing quotes or
    brackets, as in ``?!`` or ``.)``) that is followed by whitespace or the end of the text, or
    at a blank line. A period does not end a sentence inside a number (``3.14``) or after a
    common abbreviation (e.g., i.e., vs., cf., Dr., Mr., ...); ``etc.`` ends one only before a
    capital letter. Spans without a letter or digit are dropped.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        mark = match.group()
        if (
            mark.startswith(".")
            and mark.rstrip("\"'\u201d\u2019)]") == "."
            and match.end() < len(text.rstrip())
        ):
            tokens = text[max(start, match.start() - 40) : match.start()].split()
            before = tokens[-1].lstrip("([{\"'\u201c\u2018").lower() if tokens else ""
            if before in _ABBREVIATIONS:
                continue
            following = text[match.end() :].lstrip()[:1]
            if before == "etc" and not following.isupper():
                continue
        _add_span(text, start, match.end(), spans)
        start = match.end()
    _add_span(text, start, len(text), spans)
    return spans


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    if any(ch.isalnum() for ch in piece):
        stripped_start = start + (len(piece) - len(piece.lstrip()))
        spans.append((stripped_start, start + len(piece.rstrip())))


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
    has = f"reply has {_plural(n, check.unit)}"
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


# --- JSON -----------------------------------------------------------------------------------


def _unfenced(payload: str) -> str:
    """The inside of a reply that is exactly one ```json (or bare ```) block, else the reply."""
    first, _, rest = payload.partition("\n")
    if not (first.startswith("```") and first[3:].strip().lower() in ("", "json") and rest.endswith("```")):
        return payload
    inner = rest[:-3]
    if any(line.lstrip().startswith("```") for line in inner.splitlines()):
        return payload
    return inner.strip()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(text: str, allow_code_fence: bool) -> tuple[Any, str | None]:
    """The parsed reply, or ``(None, evidence)`` when it is not JSON."""
    payload = text.strip()
    if allow_code_fence:
        payload = _unfenced(payload)
    if not payload:
        return None, "reply is empty; expected JSON"
    try:
        return json.loads(payload, parse_constant=_reject_constant), None
    except json.JSONDecodeError as exc:
        hint = " (the reply is in a code fence)" if payload.startswith("```") else ""
        return None, f"JSON error at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}"
    except ValueError as exc:
        return None, f"JSON error: {exc}"
    except RecursionError:
        return None, "JSON error: nested too deeply"


_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _valid_json(check: ValidJsonCheck, text: str) -> CheckResult:
    data, problem = _parse_json(text, check.allow_code_fence)
    if problem is not None:
        return _result(False, problem)
    return _result(True, f"reply is valid JSON ({_JSON_TYPES.get(type(data), 'value')})")


@functools.lru_cache(maxsize=256)
def _validator(canonical: str) -> Any:
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import SchemaError

    schema = json.loads(canonical)
    cls = validators.validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise ValueError(f"invalid JSON Schema at {where}: {exc.message}") from None
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def compile_schema(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for ``schema``; ``ValueError`` when the schema is invalid."""
    try:
        canonical = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"JSON Schema is not plain JSON: {exc}") from None
    return _validator(canonical)


def _json_schema(check: JsonSchemaCheck, text: str) -> CheckResult:
    from jsonschema.exceptions import best_match
    from referencing.exceptions import Unresolvable

    validator = compile_schema(check.json_schema)
    data, problem = _parse_json(text, check.allow_code_fence)
    if problem is not None:
        return _result(False, problem)
    try:
        errors = []
        for error in validator.iter_errors(data):
            errors.append(error)
            if len(errors) >= 50:
                break
        best = best_match(errors)
    except Unresolvable as exc:
        return _result(False, f"JSON Schema reference cannot be resolved: {exc}")
    except RecursionError:
        return _result(False, "JSON is nested too deeply to validate")
    if best is None:
        return _result(True, "reply is JSON that matches the schema")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    message = best.message if len(best.message) <= 200 else best.message[:199] + "…"
    return _result(False, f"JSON Schema violation at {best.json_path}: {message}{more}")


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
            return _result(True, f"whole reply matches /{check.pattern}/{note}")
        return _result(False, f"reply does not fully match /{check.pattern}/{note}")
    found = compiled.search(examined)
    if found:
        return _result(True, f"matched {_quote(found.group())} at offset {found.start()}")
    return _result(False, f"no match for /{check.pattern}/{note}")


# --- text -----------------------------------------------------------------------------------


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _contains(check: ContainsCheck | NotContainsCheck, text: str) -> CheckResult:
    at = _fold(text, check.case_sensitive).find(_fold(check.text, check.case_sensitive))
    wanted = isinstance(check, ContainsCheck)
    if at >= 0:
        return _result(wanted, f"found {_quote(check.text)} on line {_line_of(text, at)}")
    return _result(not wanted, f"{_quote(check.text)} not found")


def _edge(check: StartsWithCheck | EndsWithCheck, text: str) -> CheckResult:
    reply = text.strip()
    expected = check.text.strip()
    starts = isinstance(check, StartsWithCheck)
    folded, target = _fold(reply, check.case_sensitive), _fold(expected, check.case_sensitive)
    ok = folded.startswith(target) if starts else folded.endswith(target)
    verb = "starts" if starts else "ends"
    if ok:
        return _result(True, f"reply {verb} with {_quote(expected)}")
    if not reply:
        return _result(False, f"reply is empty; expected it to {verb[:-1]} with {_quote(expected)}")
    actual = reply[: len(expected) + 10] if starts else reply[-(len(expected) + 10) :]
    return _result(False, f"reply {verb} with {_quote(actual)}; expected {_quote(expected)}")


# --- Markdown -------------------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]|$)")
_BULLET = re.compile(r"^[ \t]*[-*+][ \t]+\S")
_THEMATIC_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_NUMBERED = re.compile(r"^[ \t]*\d{1,9}[.)][ \t]+\S")
_LANGUAGE_ALIASES = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "node": "javascript",
    "ts": "typescript",
    "yml": "yaml",
    "sh": "bash",
    "shell": "bash",
}


def _scan_markdown(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Lines outside fenced code, and ``(info string, content)`` of each closed fenced block."""
    prose: list[str] = []
    blocks: list[tuple[str, str]] = []
    fence: str | None = None
    info = ""
    body: list[str] = []
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if fence is None:
            if opened and not (opened.group(1)[0] == "`" and "`" in opened.group(2)):
                fence, info, body = opened.group(1), opened.group(2).strip(), []
            else:
                prose.append(line)
        elif (
            opened
            and opened.group(1)[0] == fence[0]
            and len(opened.group(1)) >= len(fence)
            and not (opened.group(2).strip())
        ):
            blocks.append((info, "\n".join(body)))
            fence = None
        else:
            body.append(line)
    return prose, blocks


def heading_key(heading: str) -> str:
    """A heading's text as compared: no ``#``, emphasis, numbering, trailing colon; casefolded."""
    text = heading.strip().lstrip("#").strip().rstrip("#").strip()
    text = re.sub(r"^\d+(?:\.\d+)*[.)]?\s+", "", text)
    text = text.strip("*_` ").rstrip(":").strip("*_` ")
    return " ".join(text.split()).casefold()


def headings(text: str) -> list[tuple[int, str]]:
    """``(level, text)`` of each ATX heading outside fenced code."""
    prose, _ = _scan_markdown(text)
    return [found for line in prose if (found := atx_heading(line)) is not None]


def atx_heading(line: str) -> tuple[int, str] | None:
    """``(level, text)`` when ``line`` is an ATX heading (``## Title ##``), else ``None``."""
    match = _ATX.match(line)
    if match is None:
        return None
    content = line[match.end() :].rstrip()
    unclosed = content.rstrip("#")
    if unclosed != content and (not unclosed or unclosed[-1] in " \t"):
        content = unclosed  # a closing sequence
    return len(match.group(1)), content.strip()


def _headings(check: MarkdownHeadingsCheck, text: str) -> CheckResult:
    present = [(level, heading_key(h)) for level, h in headings(text) if check.level in (None, level)]
    at = f" at level {check.level}" if check.level else ""
    missing = [h for h in check.headings if heading_key(h) not in {key for _, key in present}]
    if missing:
        names = ", ".join(_quote(h.strip().lstrip("#").strip()) for h in missing)
        return _result(False, f"missing heading{'s' if len(missing) > 1 else ''} {names}{at}")
    if check.in_order:
        position = -1
        for previous, wanted in zip([None, *check.headings], check.headings, strict=False):
            key = heading_key(wanted)
            after = [i for i, (_, h) in enumerate(present) if h == key and i > position]
            if not after:
                return _result(
                    False, f"heading {_quote(wanted)} does not come after {_quote(previous or '')}"
                )
            position = after[0]
        return _result(True, f"all {len(check.headings)} headings present, in order")
    return _result(True, f"all {len(check.headings)} headings present")


def _list(check: BulletListCheck | NumberedListCheck, text: str) -> CheckResult:
    prose, _ = _scan_markdown(text)
    if isinstance(check, BulletListCheck):
        kind = "bullet items"
        n = sum(1 for line in prose if _BULLET.match(line) and not _THEMATIC_BREAK.match(line))
    else:
        kind = "numbered items"
        n = sum(1 for line in prose if _NUMBERED.match(line))
    has = f"reply has {_plural(n, kind)}"
    if n < check.min_items:
        return _result(False, f"{has}; at least {check.min_items} required")
    if check.max_items is not None and n > check.max_items:
        return _result(False, f"{has}; at most {check.max_items} allowed")
    return _result(True, has)


def normalize_language(name: str) -> str:
    key = name.strip().casefold()
    return _LANGUAGE_ALIASES.get(key, key)


def _code_blocks(check: CodeBlockCheck, text: str) -> CheckResult:
    _, blocks = _scan_markdown(text)
    languages = [normalize_language(info.split()[0]) if info.split() else "" for info, _ in blocks]
    if check.language:
        wanted = normalize_language(check.language)
        n = languages.count(wanted)
        label = f"{check.language} code block"
    else:
        n = len(blocks)
        label = "fenced code block"
    has = f"reply has {_plural(n, label + 's')}"
    if n >= check.min_blocks:
        return _result(True, has)
    other = f" (other blocks: {', '.join(lang or 'no language' for lang in languages)})" if blocks else ""
    return _result(False, f"{has}; at least {check.min_blocks} required{other}")


# --- entry points ---------------------------------------------------------------------------


def run_check(check: Check, text: str) -> CheckResult:
    """Run a deterministic check on a reply. ``JudgeRequired`` for a judge check.

    Never raises on any reply text; a check that is itself invalid (see ``validate_check``)
    raises ``ValueError``.
    """
    match check:
        case ValidJsonCheck():
            return _valid_json(check, text)
        case JsonSchemaCheck():
            return _json_schema(check, text)
        case RegexCheck():
            return _regex(check, text)
        case ContainsCheck() | NotContainsCheck():
            return _contains(check, text)
        case StartsWithCheck() | EndsWithCheck():
            return _edge(check, text)
        case MarkdownHeadingsCheck():
            return _headings(check, text)
        case BulletListCheck() | NumberedListCheck():
            return _list(check, text)
        case CodeBlockCheck():
            return _code_blocks(check, text)
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
