"""The pattern library: from a sentence of a skill ("Respond with valid JSON") to a ``Check``.

``compile_checks`` turns a sentence into every check it can map with confidence;
``compile_sentence`` gives the first. Each ``Pattern`` of ``PATTERNS`` has a name, a family, a
regex, a builder, examples (``sentence -> checks``) and near misses (sentences that must compile
to nothing) that the tests run; ``NOT_COMPILED`` lists more sentences that must compile to
nothing. The families live in ``json_patterns``, ``json_property_patterns``,
``markdown_patterns``, ``line_patterns``, ``length_patterns`` and ``text_patterns``; a sentence
ending in ":" that introduces a list or block is read by ``lead_ins``. Rules that apply to every
pattern:

* Conditional sentences ("If the user asks for code, ...", "When ...", "Unless ...", "For
  bug reports, ...") compile to nothing: a check cannot know when the condition holds.
* A pattern about the whole reply (JSON, length, start, end, forbidden text, regex, and list
  counts with a maximum) does not fire when the sentence names a part of the reply ("each
  bullet", "the subject line", "the title", "per section"...). Presence patterns (contains,
  headings, code blocks, "use a bullet list") do: what a part contains, the reply contains.
  Line patterns accept exactly the parts they are about ("the first line", "every line").
* A positive pattern does not fire under a negation in its clause ("Do not respond with
  JSON"); negatable patterns read it ("Never use bullet points" -> at most 0 bullets, "Never
  begin with 'Sure'" -> a regex that refuses that start).
* Patterns marked ``needs_json_reply`` fire only when the caller knows the reply is a JSON
  object (``compile_checks(..., json_reply=True)``): "the object" and "`answer` is a string"
  mean nothing checkable otherwise.
* Families (json, length, ...) are tried in the order of ``PATTERNS``; in a family the first
  pattern that builds wins; a match overlapping text an earlier family used is skipped.
* Quantities: "fewer than", "less than", "under", "below" and "shorter than" are strict
  ("under 100 words" is at most 99); "more than", "over" and "longer than" likewise.
* Only text in quotes or backticks is taken literally; a regex only in backticks after "regex",
  "regular expression", "matching" or "match(es) the pattern" (so "use the format
  `type(scope): summary`" stays a judge criterion).

Anything else compiles to nothing, and the compiler makes the sentence a judge criterion.
"""

from __future__ import annotations

from pydantic import ValidationError

from skill_adapter.contracts import Check

from . import json_patterns as json_
from . import json_property_patterns as json_property
from . import length_patterns as length
from . import line_patterns as lines
from . import markdown_patterns as markdown
from . import text_patterns as text
from .lead_ins import LEAD_IN_EXAMPLES, LEAD_IN_NOT_COMPILED, compile_lead_in
from .sentences import is_constraint_sentence, normalize
from .vocabulary import FENCE, Pattern, conditional, names_part, negated

__all__ = [
    "FENCE",
    "LEAD_IN_EXAMPLES",
    "LEAD_IN_NOT_COMPILED",
    "MAX_SENTENCE_CHARS",
    "NOT_COMPILED",
    "PATTERNS",
    "Pattern",
    "compile_checks",
    "compile_lead_in",
    "compile_sentence",
    "is_constraint_sentence",
    "negated",
    "normalize",
]

PATTERNS: tuple[Pattern, ...] = (
    text.REGEX,
    json_.JSON_KEYS,
    json_.JSON_KEY_NAMED,
    json_property.JSON_OBJECT_KEYS,
    json_.JSON,
    json_.JSON_ALONE,
    json_property.JSON_OBJECT_ALONE,
    json_property.JSON_PROPERTY_ENUM,
    json_property.JSON_PROPERTY_TYPE,
    markdown.NO_CODE_FENCE,
    markdown.CODE_BLOCK,
    markdown.HEADINGS_QUOTED,
    markdown.HEADINGS_TITLED,
    markdown.HEADINGS_LISTED,
    markdown.HEADINGS_TITLE_CASE,
    markdown.BULLET_LIST,
    markdown.NUMBERED_LIST,
    lines.SINGLE_LINE,
    lines.SINGLE_LINE_OBJECT,
    lines.FIRST_LINE,
    lines.FIRST_LINE_END,
    lines.LINE_WIDTH,
    length.LENGTH_RANGE,
    length.LENGTH_TRAILING,
    length.LENGTH_BOUND,
    length.LENGTH_LIMIT,
    length.LENGTH_EXACT,
    text.STARTS_WITH,
    text.ENDS_WITH,
    text.NOT_CONTAINS,
    text.CONTAINS,
)

NOT_COMPILED: tuple[str, ...] = (
    "If the user asks for code, use a ```python code block.",
    "When summarizing, keep it under 100 words.",
    "Each bullet should be at most 15 words.",
    "Use the format `type(scope): summary`.",
    "Do not respond with JSON.",
    "Be concise and friendly.",
    "Write in a professional tone.",
    "Include a JSON snippet in the explanation.",
    "Start each bullet with a verb.",
    "End with a question to the user.",
    "Never use `var` in the examples.",
    "Match the pattern `(a+)+$` exactly.",
    "Never use emojis.",
    "Include a short summary section.",
    "Use the following sections: a summary, the risks, and next steps.",
    "Use `snake_case` for variable names.",
    "The title must be at most 72 characters.",
    "Use at most 3 bullet points per section.",
    "Output includes the name John Smith",
    "`answer` is a string of at most 300 characters.",
    "The object has exactly two keys, `answer` and `confidence`.",
    "Never use code fences in the summary.",
    "Write the whole object on a single line.",
    "Never add any text, greeting or explanation before or after the object.",
    "Start the summary with a lowercase letter and never end it with a period.",
    "Use only facts from the notes.",
    "Write the summary in the imperative mood.",
    "Pick the type from what the change does.",
    "For a breaking change, put `!` before the colon.",
)
"""Sentences that must compile to nothing without more context (a judge decides them); the
tests check each. Some (the object, `answer`) compile in a skill whose reply is a JSON object."""

MAX_SENTENCE_CHARS = 1000
"""Longer sentences are not compiled (a judge reads them): no one constraint is that long."""


def compile_checks(sentence: str, *, json_reply: bool = False) -> list[Check]:
    """Every check ``sentence`` maps to with confidence, in the order of ``PATTERNS``.

    ``json_reply``: the skill says elsewhere that its reply is a JSON object, so the patterns
    that need it (``Pattern.needs_json_reply``) may fire.
    """
    text = normalize(sentence)
    if not text or len(text) > MAX_SENTENCE_CHARS or conditional(text):
        return []
    checks: list[Check] = []
    used: list[tuple[int, int]] = []
    done: set[str] = set()
    for pattern in PATTERNS:
        if pattern.family in done or (pattern.needs_json_reply and not json_reply):
            continue
        match = pattern.regex.search(text)
        if match is None or any(match.start() < end and start < match.end() for start, end in used):
            continue
        if pattern.whole_reply and names_part(text, span=match.span()):
            continue
        if not pattern.negatable and negated(text, match.start()):
            continue
        try:
            built = pattern.build(match, text)
        except ValidationError:  # e.g. a regex that is empty once its anchors are gone
            continue
        if built:
            done.add(pattern.family)
            used.append(match.span())
            checks.extend(c for c in built if c not in checks)
    return checks


def compile_sentence(sentence: str, *, json_reply: bool = False) -> Check | None:
    """The first check ``sentence`` maps to, or ``None`` (then a judge decides)."""
    checks = compile_checks(sentence, json_reply=json_reply)
    return checks[0] if checks else None
