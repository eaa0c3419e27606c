"""The words the pattern table is written in, and the row type of that table.

Regex fragments for quoted text, lists, numbers, units and quantities; readers that turn a
match into values (``number``, ``bounds``, ``count``, ``char_limit``) or tell whether a
sentence is negated or about a part of the reply (``negated``, ``names_part``); and
``Pattern``, one row of ``patterns.PATTERNS``. The rules these encode are documented in
``patterns``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from skill_adapter.contracts import Check

# --- regex fragments ------------------------------------------------------------------------

QUOTED = r"(?:`[^`\n]+`|\"[^\"\n]+\"|\u201c[^\u201d\n]+\u201d|(?<![\w'])'[^'\n]+'(?![\w'])|\u2018[^\u2019\n]+\u2019)"
SEP = r"(?:\s*,\s*(?:(?:and|or)\s+)?|\s+(?:and|or|&)\s+(?:(?:a|an|the)\s+)?|\s*/\s*)"
QLIST = rf"(?>{QUOTED}(?:{SEP}{QUOTED})*)"
IDENT = r"[A-Za-z_][\w-]*"
BARE_LIST = rf"{IDENT}(?:{SEP}{IDENT})*(?=\s*(?:[.;:!)]|$))"
NUMBER_WORDS = {
    **{
        w: i
        for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())
    },
    **{"thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18},
    **{"nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70},
    **{"eighty": 80, "ninety": 90, "a hundred": 100, "one hundred": 100, "a single": 1, "single": 1},
}
NUM = r"(?:\d{1,3}(?:,\d{3}){1,2}|\d{1,9}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")\b"
UNIT = r"(?P<unit>words?|characters?|chars?|lines?|sentences?)\b"
CHARS = r"(?:characters?|chars?|columns?)\b"
MAX_OPS = (
    r"at\s+most|at\s+the\s+most|no\s+more\s+than|not\s+more\s+than|up\s+to|a\s+maximum\s+of|maximum\s+of|"
    r"max(?:imum)?|within|no\s+longer\s+than|not\s+longer\s+than|(?:do\s+not|don't|never|must\s+not|"
    r"should\s+not)\s+exceed|not\s+exceeding|fewer\s+than|less\s+than|under|below|shorter\s+than"
)
MIN_OPS = r"at\s+least|no\s+fewer\s+than|no\s+less\s+than|a\s+minimum\s+of|minimum\s+of|more\s+than|over|longer\s+than"
REPLY = r"(?:reply|replies|response|responses|answer|answers|message|messages|output|outputs|turn|time)"
FENCE = "`" * 3

_UNITS = {"word": "words", "character": "characters", "char": "characters", "line": "lines"}
_STRICT = re.compile(r"^(?:fewer|less|under|below|shorter|more|over|longer)\b")
_PART = re.compile(
    rf"\b(?:(?:each|every|per)(?!\s+(?:single\s+)?{REPLY}\b)|subject|title|headline|headings?|headers?|"
    r"captions?|first|last|opening|closing|bullets?|items?|paragraphs?|sections?|fields?|keys?|values?|"
    r"lines?|columns?|rows?|cells?|comments?|docstrings?|functions?|variables?|names?|labels?|descriptions?|"
    r"summary|summaries|body|steps?|entry|entries|tables?|code(?!\s*(?:blocks?|fences?))|snippets?|examples?|"
    r"strings?)\b",
    re.IGNORECASE,
)
_QUOTED_SUBJECT = re.compile(
    rf"^(?:the\s+)?{QUOTED}\s+(?:\w+\s+)?(?:is|are|must|should|has|have|field|key|value|property)\b",
    re.IGNORECASE,
)
_CONDITIONAL = re.compile(
    r"^(?:if|when|whenever|unless|once|after|before|while|where|for|in\s+case|otherwise|except)\b"
    r"|(?<!even)\s(?:if|when|whenever|unless|in\s+case\s+of|except(?:\s+when)?|only\s+if)\s",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:not|never|no|avoid|without|nor|cannot)\b|n't\b|\bdont\b", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[,;:.]|\b(?:but|and|then)\b", re.IGNORECASE)

# --- readers --------------------------------------------------------------------------------


def unquote(item: str) -> str:
    return item[1:-1].strip()


def quoted(text: str) -> list[str]:
    """The texts in quotes or backticks in ``text``, in order."""
    return [unquote(m.group()) for m in re.finditer(QUOTED, text)]


def number(text: str) -> int:
    word = " ".join(text.lower().split())
    return NUMBER_WORDS[word] if word in NUMBER_WORDS else int(word.replace(",", ""))


def unit(text: str) -> Any:
    """The length unit ("words", "characters", "lines", "sentences") a word names."""
    word = text.lower().removesuffix("s")
    return _UNITS.get(word, word + "s")


def mask_quotes(sentence: str) -> str:
    """``sentence`` with quoted text blanked out, so that only its own words are read."""
    return re.sub(QUOTED, lambda m: "_" * len(m.group()), sentence)


def conditional(sentence: str) -> bool:
    """Whether the sentence holds only under a condition ("If ...", "When ...", "... unless ...")."""
    return _CONDITIONAL.search(mask_quotes(sentence)) is not None


def negated(sentence: str, position: int) -> bool:
    """Whether a negation precedes ``position`` in its clause (quoted text ignored)."""
    clause = _CLAUSE_BREAK.split(mask_quotes(sentence)[:position])[-1]
    return bool(_NEGATION.search(clause))


def names_part(sentence: str, allowed: frozenset[str] = frozenset(), span: tuple[int, int] = (0, 0)) -> bool:
    """Whether the sentence, outside ``span``, is about a part of the reply ("each bullet", "the title")."""
    if _QUOTED_SUBJECT.match(sentence):
        return True
    outside = (m for m in _PART.finditer(mask_quotes(sentence)) if not span[0] <= m.start() < span[1])
    return bool({m.group().lower() for m in outside} - allowed)


def strict(op: str) -> bool:
    """Whether a quantity operator excludes its number ("under 100", "more than 3")."""
    return _STRICT.match(" ".join(op.lower().split())) is not None


def bounds(op: str, n: int, is_negated: bool) -> tuple[int | None, int | None] | None:
    """``(min, max)`` for "<op> n"; "fewer than 5" is at most 4; "not more than 5" at most 5."""
    op = " ".join(op.lower().split())
    is_max = re.fullmatch(MAX_OPS, op) is not None
    is_strict = strict(op)
    if is_negated:
        if not is_strict:
            return None
        return (n, None) if is_max else (None, n)
    if is_max:
        return (None, n - 1 if is_strict else n) if n > 0 or not is_strict else None
    return (n + 1 if is_strict else n), None


def count(sentence: str, units: str) -> tuple[int, int | None] | None:
    """``(min, max)`` items from "at most 5 bullets", "3-5 items", "exactly 4 steps"... if said."""
    span = re.search(
        rf"\b(?:between\s+)?(\d{{1,9}})\s*(?:-|\u2013|to|and)\s*(\d{{1,9}})\s+(?:{units})\b", sentence, re.I
    )
    if span:
        return int(span.group(1)), int(span.group(2))
    ops = re.search(rf"\b({MAX_OPS}|{MIN_OPS})\s+({NUM})\s+(?:{units})\b", sentence, re.I)
    if ops:
        found = bounds(ops.group(1), number(ops.group(2)), negated(sentence, ops.start()))
        return None if found is None else (found[0] or 0, found[1])
    exact = re.search(rf"\b(?:exactly|in|of|with|use)\s+({NUM})\s+(?:{units})\b", sentence, re.I)
    if exact:
        n = number(exact.group(1))
        return n, n
    return None


_CHAR_LIMITS = (  # (form, how to read it)
    (re.compile(rf"\b(?P<op>{MAX_OPS}|{MIN_OPS})\s+(?P<n>{NUM})\s+{CHARS}", re.I), "op"),
    (
        re.compile(
            rf"\b(?P<n>{NUM})\s+{CHARS}\s+(?:or\s+(?:less|fewer)|max(?:imum)?|at\s+most|tops)\b", re.I
        ),
        "max",
    ),
    (re.compile(rf"\b(?P<n>{NUM})\s+{CHARS}\s+or\s+more\b", re.I), "min"),
    (
        re.compile(
            rf"\b(?:limit|cap|wrap|break)(?:s|ed|ped|ping|ing)?\b[^.;]{{0,60}}?\b(?:to|at|after)\s+(?P<n>{NUM})\s+{CHARS}",
            re.I,
        ),
        "max",
    ),
    (re.compile(rf"\b(?P<n>\d{{1,9}})[\s-]*{CHARS}\s+(?:limit|max(?:imum)?|width)\b", re.I), "max"),
    (re.compile(rf"\bexceed(?:s|ing)?\s+(?P<n>{NUM})\s+{CHARS}", re.I), "negated-max"),
)


def char_limit(sentence: str) -> int | None:
    """The one maximum number of characters ``sentence`` states, or ``None``.

    ``None`` also when it states a minimum, two different maxima, or negates a bound in a way
    that is not a maximum ("not at most 50 characters").
    """
    found: set[int] = set()
    for form, reading in _CHAR_LIMITS:
        for match in form.finditer(sentence):
            n, is_negated = number(match.group("n")), negated(sentence, match.start())
            if reading == "op":
                limits = bounds(match.group("op"), n, is_negated)
                if limits is None or limits[0] is not None or limits[1] is None:
                    return None
                found.add(limits[1])
            elif reading == "min" or is_negated != (reading == "negated-max"):
                return None
            else:
                found.add(n)
    return found.pop() if len(found) == 1 else None


# --- the table's rows -----------------------------------------------------------------------

Builder = Callable[[re.Match[str], str], list[Check]]


@dataclass(frozen=True)
class Pattern:
    """One way of saying a constraint, the checks it means, and examples of both.

    ``examples`` are sentences and every check each compiles to; ``near_misses`` are sentences
    that look alike but must compile to nothing. A pattern with ``needs_json_reply`` only fires
    in a skill whose reply is known to be a JSON object ("The object has the keys ..."); its
    examples compile that way, and to nothing without that knowledge.
    """

    name: str
    family: str
    regex: re.Pattern[str]
    build: Builder
    examples: tuple[tuple[str, tuple[Check, ...]], ...]
    whole_reply: bool = True
    negatable: bool = False
    needs_json_reply: bool = False
    near_misses: tuple[str, ...] = ()


def pattern(
    name: str,
    family: str,
    regex: str,
    build: Builder,
    examples: list[tuple[str, Check | tuple[Check, ...]]],
    near_misses: tuple[str, ...] = (),
    **options: bool,
) -> Pattern:
    """A table row; each example lists every check its sentence compiles to (one, or a tuple)."""
    cases = tuple(
        (text, expected if isinstance(expected, tuple) else (expected,)) for text, expected in examples
    )
    return Pattern(
        name, family, re.compile(regex, re.IGNORECASE), build, cases, near_misses=near_misses, **options
    )
