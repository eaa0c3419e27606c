"""Patterns about literal text: an explicit regex, how the reply starts or ends, words it must
or must not contain.

Only text in quotes or backticks is taken literally; a regex only in backticks after "regex",
"regular expression", "matching" or "match(es) the pattern" (so "use the format
`type(scope): summary`" stays a judge criterion).
"""

from __future__ import annotations

import re

from skill_adapter.contracts import (
    Check,
    ContainsCheck,
    EndsWithCheck,
    NotContainsCheck,
    RegexCheck,
    StartsWithCheck,
)

from .checks import nested_quantifier
from .vocabulary import QLIST, QUOTED, REPLY, mask_quotes, negated, pattern, quoted, unquote


def _regex(match: re.Match[str], sentence: str) -> list[Check]:
    rx = match.group("rx")
    try:
        re.compile(rx)
    except re.error:
        return []
    if nested_quantifier(rx):
        return []
    anchored = rx.startswith("^") and rx.endswith("$") and not rx.endswith("\\$")
    whole = re.search(r"\b(?:entire|whole|full|fully|complete|exactly)\b", sentence, re.IGNORECASE)
    if anchored or whole:
        return [RegexCheck(pattern=rx[1:-1] if anchored else rx, mode="fullmatch")]
    return [RegexCheck(pattern=rx)]


def _starts(match: re.Match[str], sentence: str) -> list[Check]:
    text = unquote(match.group("q"))
    if negated(sentence, match.start()):
        return [RegexCheck(pattern=rf"\A(?!\s*{re.escape(text)})", flags=["IGNORECASE"])]
    return [StartsWithCheck(text=text)]


def _ends(match: re.Match[str], sentence: str) -> list[Check]:
    return [EndsWithCheck(text=unquote(match.group("q")))]


def _forbidden(match: re.Match[str], sentence: str) -> list[Check]:
    return [NotContainsCheck(text=item) for item in quoted(match.group("list"))]


def _required(match: re.Match[str], sentence: str) -> list[Check]:
    raw = match.group("list")
    items = quoted(raw)
    if len(items) > 1 and re.search(r"(?:^|[\s,])or\s", mask_quotes(raw)):
        return [RegexCheck(pattern="(?:" + "|".join(re.escape(i) for i in items) + ")", flags=["IGNORECASE"])]
    return [ContainsCheck(text=item) for item in items]


REGEX = pattern(
    "regex",
    "regex",
    r"\b(?:(?:match(?:es|ing)?|conforms?\s+to|satisf(?:y|ies))\s+(?:the\s+)?(?:regex|regexp|regular\s+expression|"
    r"pattern)|regex|regexp|regular\s+expression|matching)\s*:?\s*`(?P<rx>[^`]+)`",
    _regex,
    [
        (
            "The reply must match the regex `^[A-Z]{3}-\\d+$`.",
            RegexCheck(pattern="[A-Z]{3}-\\d+", mode="fullmatch"),
        ),
        ("Output matches the pattern `\\bv\\d+\\.\\d+\\b`", RegexCheck(pattern="\\bv\\d+\\.\\d+\\b")),
    ],
)

STARTS_WITH = pattern(
    "starts-with",
    "starts",
    r"\b(?:start|begin|open|preface)(?:s|ning)?\b(?:\s+(?:every|each|all|your|the|its|it|any|single)\b)*"
    rf"(?:\s+{REPLY}\b)?\s+(?:with|by)\s+(?:(?:the|a|an)\s+)?(?:(?:exact|literal)\s+)?"
    rf"(?:(?:word|phrase|text|line|string|prefix|greeting|heading|header|token|marker)s?\s+)?(?P<q>{QUOTED})",
    _starts,
    [
        ("Start every reply with `Summary:`.", StartsWithCheck(text="Summary:")),
        ('The response begins with "Dear customer"', StartsWithCheck(text="Dear customer")),
        (
            "Never begin your answer with 'Great question'.",
            RegexCheck(pattern="\\A(?!\\s*Great\\ question)", flags=["IGNORECASE"]),
        ),
    ],
    negatable=True,
)

ENDS_WITH = pattern(
    "ends-with",
    "ends",
    r"\b(?:end|finish|close|conclude|sign\s+off|wrap\s+up)(?:s|ing)?\b(?:\s+(?:every|each|all|your|the|its|it)\b)*"
    rf"(?:\s+{REPLY}\b)?\s+(?:with|by\s+saying)\s+(?:(?:the|a|an)\s+)?(?:(?:exact|literal)\s+)?"
    rf"(?:(?:word|phrase|text|line|string|signature|sign-off|question|token|marker)s?\s+)?(?P<q>{QUOTED})",
    _ends,
    [
        (
            "End with `Let me know if you have questions.`",
            EndsWithCheck(text="Let me know if you have questions."),
        ),
        ('Always sign off with "-- The Support Team".', EndsWithCheck(text="-- The Support Team")),
    ],
)

NOT_CONTAINS = pattern(
    "not-contains",
    "forbidden",
    r"\b(?:never|do\s+not|don't|does\s+not|doesn't|must\s+not|mustn't|should\s+not|shouldn't|may\s+not|cannot|"
    r"can't|avoid|no\s+mention\s+of)\s+(?:ever\s+)?(?:(?:use|say|mention|include|write|output|print|contain|add|"
    r"emit|type)(?:s|ing)?\s+)?(?:(?:the|any)\s+)?(?:(?:word|phrase|term|string|text|expression|token|name)s?\s+)?"
    rf"(?:like\s+|such\s+as\s+)?(?P<list>{QLIST})",
    _forbidden,
    [
        ('Never use the word "delve".', NotContainsCheck(text="delve")),
        ("Do not mention `internal-api`.", NotContainsCheck(text="internal-api")),
        ("Does not contain 'As an AI'", NotContainsCheck(text="As an AI")),
        ("Avoid the phrase 'in conclusion'.", NotContainsCheck(text="in conclusion")),
    ],
    negatable=True,
)

CONTAINS = pattern(
    "contains",
    "required",
    r"\b(?:include|mention|contain|say|state|cite|quote|add|use\s+the\s+(?:exact\s+)?(?:word|phrase|term|string))"
    r"(?:s|d|ing)?\s+(?:(?:the|a|an)\s+)?(?:(?:exact|literal)\s+)?(?:(?:word|phrase|term|string|text|line|"
    r"sentence|disclaimer|note|warning|tag|label|keyword|marker|link|url|signature)s?\s+)?(?:like\s+)?"
    rf"(?P<list>{QLIST})(?!\s+(?:sections?|headings?|headers?|blocks?|lists?|tables?|keys?|fields?|"
    r"propert(?:y|ies)|columns?))",
    _required,
    [
        ("Always include the phrase `Not financial advice`.", ContainsCheck(text="Not financial advice")),
        ("The output includes 'TODO'", ContainsCheck(text="TODO")),
        (
            'Must contain the disclaimer "This is not legal advice".',
            ContainsCheck(text="This is not legal advice"),
        ),
        ("Mention `pip` or `uv`.", RegexCheck(pattern="(?:pip|uv)", flags=["IGNORECASE"])),
    ],
    whole_reply=False,
)
