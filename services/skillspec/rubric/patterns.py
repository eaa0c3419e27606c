"""The pattern library: from a sentence of a skill ("Respond with valid JSON") to a ``Check``.

A *constraint sentence* asks something of the model: it has a modal or imperative marker
(always, never, must, should, do not, only, respond/reply/answer..., use, include, start/begin
with, end with, keep, limit, avoid...), a quantity ("at most 100 words"), or says what the reply
is ("The output is valid JSON", as eval assertions do). ``is_constraint_sentence`` finds them.

``compile_checks`` turns a sentence into every check it can map with confidence;
``compile_sentence`` gives the first. Each ``Pattern`` of ``PATTERNS`` has a name, a family, a
regex, a builder and examples (``sentence -> check``) that the tests run; ``NOT_COMPILED``
lists sentences that must compile to nothing. Rules that apply to every pattern:

* Conditional sentences ("If the user asks for code, ...", "When ...", "Unless ...", "For
  bug reports, ...") compile to nothing: a check cannot know when the condition holds.
* A pattern about the whole reply (JSON, length, start, end, forbidden text, regex, and list
  counts with a maximum) does not fire when the sentence names a part of the reply ("each
  bullet", "the subject line", "the title", "per section"...). Presence patterns (contains,
  headings, code blocks, "use a bullet list") do: what a part contains, the reply contains.
* A positive pattern does not fire under a negation in its clause ("Do not respond with
  JSON"); negatable patterns read it ("Never use bullet points" -> at most 0 bullets, "Never
  begin with 'Sure'" -> a regex that refuses that start).
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

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

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

from .checks import nested_quantifier, normalize_language

# --- phrase building blocks -----------------------------------------------------------------

_QUOTED = r"(?:`[^`\n]+`|\"[^\"\n]+\"|\u201c[^\u201d\n]+\u201d|(?<![\w'])'[^'\n]+'(?![\w'])|\u2018[^\u2019\n]+\u2019)"
_SEP = r"(?:\s*,\s*(?:(?:and|or)\s+)?|\s+(?:and|or|&)\s+(?:(?:a|an|the)\s+)?|\s*/\s*)"
_QLIST = rf"(?>{_QUOTED}(?:{_SEP}{_QUOTED})*)"
_IDENT = r"[A-Za-z_][\w-]*"
_BARE_LIST = rf"{_IDENT}(?:{_SEP}{_IDENT})*(?=\s*(?:[.;:!)]|$))"
_TITLE = r"(?-i:[A-Z])[\w'&-]*(?:\s+(?:(?-i:[A-Z])[\w'&-]*|of|to|for))*"
_ITEMS = r"[^.;!?`\"\u201c\u2018]+?(?=\s*(?:[.;!]|,?\s*in\s+\w+(?:\s+\w+)?\s+order\b|$))"
_TITLE_LIST = rf"{_TITLE}(?:{_SEP}{_TITLE})*(?=\s*(?:[.;!)]|,?\s*in\s+\w+(?:\s+\w+)?\s+order\b|$))"
_NUMBER_WORDS = {
    **{
        w: i
        for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())
    },
    **{"thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18},
    **{"nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70},
    **{"eighty": 80, "ninety": 90, "a hundred": 100, "one hundred": 100, "a single": 1, "single": 1},
}
_NUM = r"(?:\d{1,3}(?:,\d{3}){1,2}|\d{1,9}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\b"
_UNIT = r"(?P<unit>words?|characters?|chars?|lines?|sentences?)\b"
_UNITS = {
    "word": "words",
    "character": "characters",
    "char": "characters",
    "line": "lines",
    "sentence": "sentences",
}
_MAX_OPS = (
    r"at\s+most|at\s+the\s+most|no\s+more\s+than|not\s+more\s+than|up\s+to|a\s+maximum\s+of|maximum\s+of|"
    r"max(?:imum)?|within|no\s+longer\s+than|not\s+longer\s+than|(?:do\s+not|don't|never|must\s+not|"
    r"should\s+not)\s+exceed|not\s+exceeding|fewer\s+than|less\s+than|under|below|shorter\s+than"
)
_MIN_OPS = r"at\s+least|no\s+fewer\s+than|no\s+less\s+than|a\s+minimum\s+of|minimum\s+of|more\s+than|over|longer\s+than"
_STRICT = re.compile(r"^(?:fewer|less|under|below|shorter|more|over|longer)\b")
_REPLY = r"(?:reply|replies|response|responses|answer|answers|message|messages|output|outputs|turn|time)"
_PART = re.compile(
    rf"\b(?:(?:each|every|per)(?!\s+(?:single\s+)?{_REPLY}\b)|subject|title|headline|headings?|headers?|"
    r"captions?|first|last|opening|closing|bullets?|items?|paragraphs?|sections?|fields?|keys?|values?|"
    r"lines?|columns?|rows?|cells?|comments?|docstrings?|functions?|variables?|names?|labels?|descriptions?|"
    r"summary|summaries|body|steps?|entry|entries|tables?|code(?!\s*(?:blocks?|fences?))|snippets?|examples?|"
    r"strings?)\b",
    re.IGNORECASE,
)
_QUOTED_SUBJECT = re.compile(
    rf"^(?:the\s+)?{_QUOTED}\s+(?:\w+\s+)?(?:is|are|must|should|has|have|field|key|value|property)\b",
    re.IGNORECASE,
)
_CONDITIONAL = re.compile(
    r"^(?:if|when|whenever|unless|once|after|before|while|where|for|in\s+case|otherwise|except)\b"
    r"|(?<!even)\s(?:if|when|whenever|unless|in\s+case\s+of|except(?:\s+when)?|only\s+if)\s",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:not|never|no|avoid|without|nor|cannot)\b|n't\b|\bdont\b", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[,;:.]|\b(?:but|and|then)\b", re.IGNORECASE)
_JSON_FILLER = r"(?:a|an|the|one|single|valid|strict|raw|pure|plain|well-formed|minified|only)"
_JSON_SAY = (
    r"(?:(?:\b(?:respond|reply|answer|return|output|produce|emit|print|format)(?:ing|ted)?|(?:^|\b(?:it|reply|response|"
    r"output|answer|model|assistant)\s+(?:always\s+|only\s+)?)(?:respond|repl(?:y|ie)|answer|return|output|produce|"
    r"emit|print|format)s)\s+"
    r"(?:(?:only|strictly|just|exclusively|always|everything|it|the\s+\w+|your\s+\w+)\s+)*"
    rf"(?:(?:in|with|as|using)\s+)?(?:{_JSON_FILLER}\s+)*"
    r"|\b(?:output|reply|response|answer|result)\s+(?:is|must\s+be|should\s+be|will\s+be|parses\s+as)\s+"
    rf"(?:{_JSON_FILLER}\s+)*|^(?:only\s+)?(?:valid\s+)?|^(?:the|your)\s+(?=JSON\s+(?:object|array)\b))"
    r"JSON\b(?!\s+lines)"
)
_LEAD = (
    r"(?:use|using|uses|format\w*|write|writes|respond|reply|answer|present|list|summari[sz]e|give|provide|"
    r"return|output|structure|in|as|with|is|are|contains?|includes?|has|have|into)"
)
_LANGUAGES = (
    r"python|bash|sh|shell|zsh|javascript|js|typescript|ts|jsx|tsx|json|yaml|yml|toml|sql|go|rust|java|"
    r"kotlin|swift|c|cpp|c\+\+|csharp|c#|ruby|php|html|css|xml|markdown|md|diff|dockerfile|powershell|"
    r"r|scala|lua|perl|haskell|text|plaintext|console|hcl|graphql"
)
FENCE = "`" * 3
_LIST_PARTS = frozenset({"bullet", "bullets", "item", "items", "step", "steps"})


def _unquote(item: str) -> str:
    return item[1:-1].strip()


def _quoted(text: str) -> list[str]:
    return [_unquote(m.group()) for m in re.finditer(_QUOTED, text)]


def _number(text: str) -> int:
    word = " ".join(text.lower().split())
    return _NUMBER_WORDS[word] if word in _NUMBER_WORDS else int(word.replace(",", ""))


def _unit(text: str) -> Any:
    return _UNITS[text.lower().removesuffix("s")]


def _mask_quotes(sentence: str) -> str:
    return re.sub(_QUOTED, lambda m: "_" * len(m.group()), sentence)


def negated(sentence: str, position: int) -> bool:
    """Whether a negation precedes ``position`` in its clause (quoted text ignored)."""
    clause = _CLAUSE_BREAK.split(_mask_quotes(sentence)[:position])[-1]
    return bool(_NEGATION.search(clause))


def _names_part(sentence: str, allowed: frozenset[str] = frozenset(), span: tuple[int, int] = (0, 0)) -> bool:
    """Whether the sentence, outside ``span``, is about a part of the reply ("each bullet", "the title")."""
    if _QUOTED_SUBJECT.match(sentence):
        return True
    outside = (m for m in _PART.finditer(_mask_quotes(sentence)) if not span[0] <= m.start() < span[1])
    return bool({m.group().lower() for m in outside} - allowed)


def _bounds(op: str, n: int, is_negated: bool) -> tuple[int | None, int | None] | None:
    """``(min, max)`` for "<op> n"; "fewer than 5" is at most 4; "not more than 5" at most 5."""
    op = " ".join(op.lower().split())
    is_max = re.fullmatch(_MAX_OPS, op) is not None
    strict = _STRICT.match(op) is not None
    if is_negated:
        if not strict:
            return None
        return (n, None) if is_max else (None, n)
    if is_max:
        return (None, n - 1 if strict else n) if n > 0 or not strict else None
    return (n + 1 if strict else n), None


def _count(sentence: str, units: str) -> tuple[int, int | None] | None:
    """``(min, max)`` items from "at most 5 bullets", "3-5 items", "exactly 4 steps"... if said."""
    span = re.search(
        rf"\b(?:between\s+)?(\d{{1,9}})\s*(?:-|\u2013|to|and)\s*(\d{{1,9}})\s+(?:{units})\b", sentence, re.I
    )
    if span:
        return int(span.group(1)), int(span.group(2))
    ops = re.search(rf"\b({_MAX_OPS}|{_MIN_OPS})\s+({_NUM})\s+(?:{units})\b", sentence, re.I)
    if ops:
        bounds = _bounds(ops.group(1), _number(ops.group(2)), negated(sentence, ops.start()))
        return None if bounds is None else (bounds[0] or 0, bounds[1])
    exact = re.search(rf"\b(?:exactly|in|of|with|use)\s+({_NUM})\s+(?:{units})\b", sentence, re.I)
    if exact:
        n = _number(exact.group(1))
        return n, n
    return None


# --- builders -------------------------------------------------------------------------------

Builder = Callable[[re.Match[str], str], list[Check]]


def _fenced(sentence: str) -> bool:
    allowed = re.search(r"code\s*(?:block|fence)|```|fenced", sentence, re.IGNORECASE)
    refused = re.search(
        r"\b(?:no|not|without|never)\b[^.]*(?:code\s*(?:block|fence)|fenc|```)", sentence, re.I
    )
    return bool(allowed) and not refused


def _json_keys(match: re.Match[str], sentence: str) -> list[Check]:
    raw = match.group("keys")
    keys = list(dict.fromkeys(_quoted(raw) or [k for k in re.split(_SEP, raw) if k]))
    schema: dict[str, Any] = {"type": "object", "required": keys}
    if re.search(r"\b(?:only|exactly|no\s+other|nothing\s+else)\b", sentence, re.IGNORECASE):
        schema |= {"properties": {k: {} for k in keys}, "additionalProperties": False}
    return [JsonSchemaCheck(json_schema=schema, allow_code_fence=_fenced(sentence))]


def _json(match: re.Match[str], sentence: str) -> list[Check]:
    shape = (match.group("shape") or "").lower()
    if shape:
        return [JsonSchemaCheck(json_schema={"type": shape}, allow_code_fence=_fenced(sentence))]
    return [ValidJsonCheck(allow_code_fence=_fenced(sentence))]


def _regex(match: re.Match[str], sentence: str) -> list[Check]:
    pattern = match.group("rx")
    try:
        re.compile(pattern)
    except re.error:
        return []
    if nested_quantifier(pattern):
        return []
    anchored = pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$")
    whole = re.search(r"\b(?:entire|whole|full|fully|complete|exactly)\b", sentence, re.IGNORECASE)
    if anchored or whole:
        return [RegexCheck(pattern=pattern[1:-1] if anchored else pattern, mode="fullmatch")]
    return [RegexCheck(pattern=pattern)]


def _code_block(match: re.Match[str], sentence: str) -> list[Check]:
    language = match.group("lang1") or match.group("lang2") or match.group("lang3")
    counted = _count(sentence, r"code\s*blocks?|blocks?")
    return [
        CodeBlockCheck(
            language=normalize_language(language) if language else None,
            min_blocks=counted[0] if counted and counted[0] else 1,
        )
    ]


def _headings(match: re.Match[str], sentence: str) -> list[Check]:
    raw = match.group("list") or match.groupdict().get("list2") or ""
    items = _quoted(raw) or [i.strip() for i in re.split(_SEP, raw) if i.strip()]
    if not items or any(len(i.split()) > 6 or re.match(r"(?:a|an|the)\b", i, re.I) for i in items):
        return []
    levels = {len(i) - len(i.lstrip("#")) for i in items}
    level = levels.pop() if len(levels) == 1 else 0
    names = [i.lstrip("#").strip() for i in items]
    ordered = re.search(
        r"\bin\s+(?:this|that|the\s+same|the\s+following)?\s*order\b|\bfollowed\s+by\b", sentence, re.I
    )
    return [
        MarkdownHeadingsCheck(headings=names, level=level or None, in_order=bool(ordered) and len(names) > 1)
    ]


def _list(kind: type[BulletListCheck | NumberedListCheck], units: str) -> Builder:
    def build(match: re.Match[str], sentence: str) -> list[Check]:
        is_negated = negated(sentence, match.start())
        counted = _count(sentence, units)
        if counted is None:
            low, high = (0, 0) if is_negated else (1, None)
        else:
            low, high = counted[0] or (0 if is_negated else 1), counted[1]
        if high is not None and (low > high or _names_part(sentence, _LIST_PARTS)):
            return []
        return [kind(min_items=low, max_items=high)]

    return build


def _length_range(match: re.Match[str], sentence: str) -> list[Check]:
    found = match.groupdict()
    low = _number(found["a"] or found["a2"] or found["a3"])
    high = _number(found["b"] or found["b2"] or found["b3"])
    if found["op2"] and _STRICT.match(found["op2"].lower()):
        high -= 1
    return [LengthCheck(unit=_unit(found["unit"]), min=low, max=high)] if low <= high else []


def _length_bound(match: re.Match[str], sentence: str) -> list[Check]:
    merged: dict[str, tuple[int | None, int | None]] = {}
    for found in match.re.finditer(sentence):
        bounds = _bounds(found.group("op"), _number(found.group("n")), negated(sentence, found.start()))
        if bounds is None:
            continue
        low, high = merged.get(_unit(found.group("unit")), (None, None))
        merged[_unit(found.group("unit"))] = (
            bounds[0] if bounds[0] is not None else low,
            bounds[1] if bounds[1] is not None else high,
        )
    return [
        LengthCheck(unit=unit, min=low, max=high)  # type: ignore[arg-type]
        for unit, (low, high) in merged.items()
        if low is None or high is None or low <= high
    ]


def _length_trailing(match: re.Match[str], sentence: str) -> list[Check]:
    n, op = _number(match.group("n")), " ".join(match.group("op").lower().split())
    if op in ("or more", "min", "minimum", "at least"):
        return [LengthCheck(unit=_unit(match.group("unit")), min=n)]
    return [LengthCheck(unit=_unit(match.group("unit")), max=n)]


def _length_limit(match: re.Match[str], sentence: str) -> list[Check]:
    return [LengthCheck(unit=_unit(match.group("unit")), max=_number(match.group("n")))]


def _length_exact(match: re.Match[str], sentence: str) -> list[Check]:
    n = _number(match.group("n"))
    return [LengthCheck(unit=_unit(match.group("unit")), min=n, max=n)]


def _no_fence(match: re.Match[str], sentence: str) -> list[Check]:
    return [NotContainsCheck(text=FENCE)]


def _starts(match: re.Match[str], sentence: str) -> list[Check]:
    text = _unquote(match.group("q"))
    if negated(sentence, match.start()):
        return [RegexCheck(pattern=rf"\A(?!\s*{re.escape(text)})", flags=["IGNORECASE"])]
    return [StartsWithCheck(text=text)]


def _ends(match: re.Match[str], sentence: str) -> list[Check]:
    return [EndsWithCheck(text=_unquote(match.group("q")))]


def _forbidden(match: re.Match[str], sentence: str) -> list[Check]:
    return [NotContainsCheck(text=item) for item in _quoted(match.group("list"))]


def _required(match: re.Match[str], sentence: str) -> list[Check]:
    raw = match.group("list")
    items = _quoted(raw)
    if len(items) > 1 and re.search(r"(?:^|[\s,])or\s", _mask_quotes(raw)):
        return [RegexCheck(pattern="(?:" + "|".join(re.escape(i) for i in items) + ")", flags=["IGNORECASE"])]
    return [ContainsCheck(text=item) for item in items]


# --- the pattern table ----------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    """One way of saying a constraint, the checks it means, and examples of both."""

    name: str
    family: str
    regex: re.Pattern[str]
    build: Builder
    examples: tuple[tuple[str, tuple[Check, ...]], ...]
    whole_reply: bool = True
    negatable: bool = False


def _p(
    name: str,
    family: str,
    regex: str,
    build: Builder,
    examples: list[tuple[str, Check | tuple[Check, ...]]],
    **options: bool,
) -> Pattern:
    """A table row; each example lists every check its sentence compiles to (one, or a tuple)."""
    cases = tuple(
        (text, expected if isinstance(expected, tuple) else (expected,)) for text, expected in examples
    )
    return Pattern(name, family, re.compile(regex, re.IGNORECASE), build, cases, **options)


PATTERNS: tuple[Pattern, ...] = (
    _p(
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
    ),
    _p(
        "json-keys",
        "json",
        rf"{_JSON_SAY}[^.]*?\b(?:with|containing|having|has|have|including)\s+(?:(?:the|these|exactly|only|"
        rf"required|following|top-level|{_NUM})\s+)*(?:keys?|fields?|properties|attributes)\s*[:,]?\s*"
        rf"(?P<keys>{_QLIST}|{_BARE_LIST})",
        _json_keys,
        [
            (
                "Respond with a JSON object with keys `title`, `tags` and `summary`.",
                JsonSchemaCheck(json_schema={"type": "object", "required": ["title", "tags", "summary"]}),
            ),
            (
                "Return JSON with fields name and age.",
                JsonSchemaCheck(json_schema={"type": "object", "required": ["name", "age"]}),
            ),
            (
                "The JSON object has exactly the keys answer and confidence",
                JsonSchemaCheck(
                    json_schema={
                        "type": "object",
                        "required": ["answer", "confidence"],
                        "properties": {"answer": {}, "confidence": {}},
                        "additionalProperties": False,
                    }
                ),
            ),
            (
                "Reply with a JSON object with only the keys `answer` and `confidence`.",
                JsonSchemaCheck(
                    json_schema={
                        "type": "object",
                        "required": ["answer", "confidence"],
                        "properties": {"answer": {}, "confidence": {}},
                        "additionalProperties": False,
                    }
                ),
            ),
        ],
    ),
    _p(
        "json-key-named",
        "json",
        rf"{_JSON_SAY}[^.]*?\b(?:with|containing|having|has|have|including)\s+(?:an?|the)\s+"
        rf"(?P<keys>{_QLIST})\s+(?:keys?|fields?|properties|attributes)\b",
        _json_keys,
        [
            (
                "The output is a JSON object with a `status` field.",
                JsonSchemaCheck(json_schema={"type": "object", "required": ["status"]}),
            ),
        ],
    ),
    _p(
        "json",
        "json",
        rf"{_JSON_SAY}(?:\s+(?P<shape>object|array))?",
        _json,
        [
            ("Respond only with valid JSON.", ValidJsonCheck()),
            ("The output is valid JSON", ValidJsonCheck()),
            ("Format your response as JSON.", ValidJsonCheck()),
            ("Return a JSON array of the matches.", JsonSchemaCheck(json_schema={"type": "array"})),
            (
                "Reply with a JSON object in a code block.",
                (JsonSchemaCheck(json_schema={"type": "object"}, allow_code_fence=True), CodeBlockCheck()),
            ),
        ],
    ),
    _p(
        "no-code-fence",
        "fence",
        r"\b(?:no|without|(?:never|do\s+not|don't|must\s+not|should\s+not)\s+(?:use|add|include|contains?|"
        r"wrap\s+(?:\w+\s+){0,3}?in|put\s+(?:\w+\s+){0,3}?in))\s+(?:any\s+|a\s+)?(?:markdown\s+)?"
        r"(?:code\s*fences?|code\s*blocks?|fenced\s+(?:code\s+)?blocks?|triple\s+backticks)\b",
        _no_fence,
        [
            ("The output contains no code fences", NotContainsCheck(text=FENCE)),
            ("Never wrap the JSON in code fences or backticks.", NotContainsCheck(text=FENCE)),
            ("Reply with plain text, without code blocks.", NotContainsCheck(text=FENCE)),
        ],
        negatable=True,
    ),
    _p(
        "code-block",
        "code",
        r"\b(?:in|inside|within|into|use|using|uses|include|includes|contains?|with|as|put|wrap\w*)\s+"
        rf"(?:(?:a|an|one|the|your|its|single|separate|fenced|markdown|at\s+least|exactly|{_NUM})\s+)*"
        r"(?:(?:```|~~~)\s*(?P<lang1>[\w+#.-]+)?(?:\s*(?:code\s*)?(?:blocks?|fences?)\b)?"
        rf"|(?:`(?P<lang2>[\w+#.-]+)`\s+|(?P<lang3>{_LANGUAGES})\s+)?(?:fenced\s+)?code\s*(?:blocks?|fences?)\b"
        r"|fenced\s+blocks?\b|triple[- ]backticks\b)",
        _code_block,
        [
            ("Put the final script in a ```python code block.", CodeBlockCheck(language="python")),
            ("Always include a bash code block with the command.", CodeBlockCheck(language="bash")),
            ("Wrap the code in a fenced code block.", CodeBlockCheck()),
            ("Include at least 2 code blocks.", CodeBlockCheck(min_blocks=2)),
        ],
        whole_reply=False,
    ),
    _p(
        "headings-quoted",
        "headings",
        r"\b(?:include|add|have|has|contains?|with|use|uses|needs?|start\s+with|end\s+with)\w*\s+"
        rf"(?:(?:a|an|the)\s+)?(?P<list>{_QLIST})\s+(?:sections?|headings?|headers?)\b",
        _headings,
        [
            ("Include a `## Summary` section.", MarkdownHeadingsCheck(headings=["Summary"], level=2)),
            ("Contains a 'Risks' section", MarkdownHeadingsCheck(headings=["Risks"])),
            (
                "Include a `## Summary` and a `## Risks` section.",
                MarkdownHeadingsCheck(headings=["Summary", "Risks"], level=2),
            ),
        ],
        whole_reply=False,
    ),
    _p(
        "headings-titled",
        "headings",
        rf"\b(?:sections?|headings?|headers?)\s+(?:called|named|titled|entitled)\s+(?P<list>{_QLIST}|{_TITLE_LIST})",
        _headings,
        [('Add a section titled "Next Steps".', MarkdownHeadingsCheck(headings=["Next Steps"]))],
        whole_reply=False,
    ),
    _p(
        "headings-listed",
        "headings",
        r"\b(?:sections?|headings?|headers?)(?:\s*\([^)]*\))?"
        rf"(?:\s*:\s*(?P<list>{_QLIST}|{_ITEMS})|\s+(?!called|named|titled)(?P<list2>{_QLIST}|{_TITLE_LIST}))",
        _headings,
        [
            (
                "Structure the answer with these sections: Summary, Risks and Next steps.",
                MarkdownHeadingsCheck(headings=["Summary", "Risks", "Next steps"]),
            ),
            (
                "Have the sections Background and Proposal.",
                MarkdownHeadingsCheck(headings=["Background", "Proposal"]),
            ),
            (
                "Use the headings `## Context`, `## Decision` and `## Consequences`, in this order.",
                MarkdownHeadingsCheck(
                    headings=["Context", "Decision", "Consequences"], level=2, in_order=True
                ),
            ),
        ],
        whole_reply=False,
    ),
    _p(
        "headings-title-case",
        "headings",
        r"\b(?:include|add|have|has|contains?|with|needs?|end\s+with|start\s+with)\w*\s+(?:a|an|the)\s+"
        rf"(?P<list>{_TITLE})\s+(?:section|heading|header)\b",
        _headings,
        [("Always end with a Sources section.", MarkdownHeadingsCheck(headings=["Sources"]))],
        whole_reply=False,
    ),
    _p(
        "bullet-list",
        "bullets",
        rf"\b{_LEAD}\b(?:\s+[\w'-]+){{0,4}}?\s+(?:bullet(?:ed)?[\s-]*(?:lists?|points?)|bullets)\b",
        _list(BulletListCheck, r"bullet\s*points?|bullets?|points|items?"),
        [
            ("Use a bullet list.", BulletListCheck()),
            ("Summarize in 3-5 bullet points.", BulletListCheck(min_items=3, max_items=5)),
            ("Use bullet points, at most 5 bullets.", BulletListCheck(min_items=1, max_items=5)),
            ("Use bullet points for the key findings.", BulletListCheck()),
            ("Never use bullet points.", BulletListCheck(min_items=0, max_items=0)),
        ],
        whole_reply=False,
        negatable=True,
    ),
    _p(
        "numbered-list",
        "numbered",
        rf"\b{_LEAD}\b(?:\s+[\w'-]+){{0,4}}?\s+(?:(?:numbered|ordered)\s+(?:lists?|steps?|items?)|numbered\b)",
        _list(NumberedListCheck, r"steps?|items?|points"),
        [
            ("Present the steps as a numbered list.", NumberedListCheck()),
            ("Answer with a numbered list of at most 7 items.", NumberedListCheck(min_items=1, max_items=7)),
            ("Do not use numbered lists.", NumberedListCheck(min_items=0, max_items=0)),
        ],
        whole_reply=False,
        negatable=True,
    ),
    _p(
        "length-range",
        "length",
        rf"\b(?:between\s+(?P<a>{_NUM})\s+and\s+(?P<b>{_NUM})"
        rf"|(?:{_MIN_OPS})\s+(?P<a2>{_NUM})\s+(?:and|but)\s+(?P<op2>{_MAX_OPS})\s+(?P<b2>{_NUM})"
        rf"|(?P<a3>\d{{1,9}})\s*(?:-|\u2013|to)\s*(?P<b3>\d{{1,9}}))\s+{_UNIT}",
        _length_range,
        [
            ("Answers must be between 50 and 150 words.", LengthCheck(unit="words", min=50, max=150)),
            ("Write 2-4 sentences.", LengthCheck(unit="sentences", min=2, max=4)),
            ("Write at least 20 but fewer than 40 lines.", LengthCheck(unit="lines", min=20, max=39)),
        ],
    ),
    _p(
        "length-trailing",
        "length",
        rf"\b(?P<n>{_NUM})\s+{_UNIT}\s+(?P<op>or\s+(?:less|fewer|more)|max(?:imum)?|min(?:imum)?|at\s+most|"
        r"at\s+least|tops)\b",
        _length_trailing,
        [
            ("Keep it to 280 characters or less.", LengthCheck(unit="characters", max=280)),
            ("Write 300 words or more.", LengthCheck(unit="words", min=300)),
        ],
    ),
    _p(
        "length-bound",
        "length",
        rf"\b(?P<op>{_MAX_OPS}|{_MIN_OPS})\s+(?P<n>{_NUM})\s+{_UNIT}",
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
    ),
    _p(
        "length-limit",
        "length",
        rf"\blimit(?:ed)?\s+(?:(?:it|the|your|this|that|yourself)\s+)?(?:\w+\s+)?to\s+(?P<n>{_NUM})\s+{_UNIT}",
        _length_limit,
        [("Limit your response to 120 words.", LengthCheck(unit="words", max=120))],
    ),
    _p(
        "length-exact",
        "length",
        rf"\b(?:exactly\s+|(?:in|with|using|as)\s+(?:(?:only|just|exactly)\s+)?)(?P<n>{_NUM})\s+{_UNIT}",
        _length_exact,
        [
            ("Answer in one sentence.", LengthCheck(unit="sentences", min=1, max=1)),
            ("Reply with exactly three lines.", LengthCheck(unit="lines", min=3, max=3)),
            ("Respond in a single line.", LengthCheck(unit="lines", min=1, max=1)),
        ],
    ),
    _p(
        "starts-with",
        "starts",
        r"\b(?:start|begin|open|preface)(?:s|ning)?\b(?:\s+(?:every|each|all|your|the|its|it|any|single)\b)*"
        rf"(?:\s+{_REPLY}\b)?\s+(?:with|by)\s+(?:(?:the|a|an)\s+)?(?:(?:exact|literal)\s+)?"
        rf"(?:(?:word|phrase|text|line|string|prefix|greeting|heading|header|token|marker)s?\s+)?(?P<q>{_QUOTED})",
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
    ),
    _p(
        "ends-with",
        "ends",
        r"\b(?:end|finish|close|conclude|sign\s+off|wrap\s+up)(?:s|ing)?\b(?:\s+(?:every|each|all|your|the|its|it)\b)*"
        rf"(?:\s+{_REPLY}\b)?\s+(?:with|by\s+saying)\s+(?:(?:the|a|an)\s+)?(?:(?:exact|literal)\s+)?"
        rf"(?:(?:word|phrase|text|line|string|signature|sign-off|question|token|marker)s?\s+)?(?P<q>{_QUOTED})",
        _ends,
        [
            (
                "End with `Let me know if you have questions.`",
                EndsWithCheck(text="Let me know if you have questions."),
            ),
            ('Always sign off with "-- The Support Team".', EndsWithCheck(text="-- The Support Team")),
        ],
    ),
    _p(
        "not-contains",
        "forbidden",
        r"\b(?:never|do\s+not|don't|does\s+not|doesn't|must\s+not|mustn't|should\s+not|shouldn't|may\s+not|cannot|"
        r"can't|avoid|no\s+mention\s+of)\s+(?:ever\s+)?(?:(?:use|say|mention|include|write|output|print|contain|add|"
        r"emit|type)(?:s|ing)?\s+)?(?:(?:the|any)\s+)?(?:(?:word|phrase|term|string|text|expression|token|name)s?\s+)?"
        rf"(?:like\s+|such\s+as\s+)?(?P<list>{_QLIST})",
        _forbidden,
        [
            ('Never use the word "delve".', NotContainsCheck(text="delve")),
            ("Do not mention `internal-api`.", NotContainsCheck(text="internal-api")),
            ("Does not contain 'As an AI'", NotContainsCheck(text="As an AI")),
            ("Avoid the phrase 'in conclusion'.", NotContainsCheck(text="in conclusion")),
        ],
        negatable=True,
    ),
    _p(
        "contains",
        "required",
        r"\b(?:include|mention|contain|say|state|cite|quote|add|use\s+the\s+(?:exact\s+)?(?:word|phrase|term|string))"
        r"(?:s|d|ing)?\s+(?:(?:the|a|an)\s+)?(?:(?:exact|literal)\s+)?(?:(?:word|phrase|term|string|text|line|"
        r"sentence|disclaimer|note|warning|tag|label|keyword|marker|link|url|signature)s?\s+)?(?:like\s+)?"
        rf"(?P<list>{_QLIST})(?!\s+(?:sections?|headings?|headers?|blocks?|lists?|tables?|keys?|fields?|"
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
    ),
)

NOT_COMPILED: tuple[str, ...] = (
    "If the user asks for code, use a ```python code block.",
    "When summarizing, keep it under 100 words.",
    "Keep the subject line under 50 characters.",
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
)
"""Sentences that must compile to nothing (a judge decides them); the tests check each."""


# --- entry points ---------------------------------------------------------------------------

MAX_SENTENCE_CHARS = 1000
"""Longer sentences are not compiled (a judge reads them): no one constraint is that long."""

_MARKERS = re.compile(
    r"\b(?:always|never|must|mustn't|should|shouldn't|shall|do\s+not|don't|does\s+not|doesn't|avoid|make\s+sure|"
    r"ensure|required?|only|exactly|no\s+more\s+than|at\s+most|at\s+least|fewer\s+than|less\s+than|"
    r"no\s+longer\s+than|under\s+\d|between\s+\d+\s+and\s+\d+)\b",
    re.IGNORECASE,
)
_IMPERATIVE = re.compile(
    r"^(?:please\s+)?(?:respond|reply|answer|return|output|write|format|use|include|start|begin|end|finish|keep|"
    r"limit|avoid|add|put|wrap|give|provide|list|present|structure|organi[sz]e|summari[sz]e|mention|cite|state|"
    r"sign|close|conclude|prefix|never|always|only|do|don't|make|ensure|be|stay|refuse|ask|explain|prefer|"
    r"follow|name|label|number|quote|reference|separate|group|sort|show|describe)\b",
    re.IGNORECASE,
)
_DECLARATIVE = re.compile(
    rf"^(?:the|your|each|every|all|its)\s+(?:\w+\s+){{0,2}}?{_REPLY}s?\s+(?:is|are|must|should|has|have|contains?|"
    r"starts?|begins?|ends?|includes?|uses?|matches|never|always|will|does)\b",
    re.IGNORECASE,
)
_NOT_A_RULE = re.compile(r"\bthis\s+skill\b|^(?:see|read|refer\s+to|for\s+example|e\.g\.)\b", re.IGNORECASE)


def normalize(sentence: str) -> str:
    """The sentence without list marker, blockquote, bold or italic markers, curly apostrophes or extra spaces."""
    text = re.sub(r"^\s*(?:>\s*)*(?:(?:[-*+]|\d{1,9}[.)])\s+)?", "", sentence)
    text = re.sub(r"(?<=\w)\u2019(?=\w)", "'", text)
    pieces = re.split(r"(`[^`]*`)", text)  # emphasis is removed outside code spans only
    for i in range(0, len(pieces), 2):
        pieces[i] = re.sub(r"\*\*|__", "", pieces[i])
        pieces[i] = re.sub(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"\1", pieces[i])
    return " ".join("".join(pieces).split())


def is_constraint_sentence(sentence: str) -> bool:
    """Whether ``sentence`` asks something of the model (see the module docs)."""
    text = normalize(sentence)
    if not text or text.endswith("?") or _NOT_A_RULE.search(text):
        return False
    masked = _mask_quotes(text)
    clauses = [c.strip() for c in re.split(r"[,;:]", masked)]
    return bool(
        _MARKERS.search(masked) or _DECLARATIVE.match(text) or any(_IMPERATIVE.match(c) for c in clauses if c)
    )


def compile_checks(sentence: str) -> list[Check]:
    """Every check ``sentence`` maps to with confidence, in the order of ``PATTERNS``."""
    text = normalize(sentence)
    if not text or len(text) > MAX_SENTENCE_CHARS or _CONDITIONAL.search(_mask_quotes(text)):
        return []
    checks: list[Check] = []
    used: list[tuple[int, int]] = []
    done: set[str] = set()
    for pattern in PATTERNS:
        if pattern.family in done:
            continue
        match = pattern.regex.search(text)
        if match is None or any(match.start() < end and start < match.end() for start, end in used):
            continue
        if pattern.whole_reply and _names_part(text, span=match.span()):
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


def compile_sentence(sentence: str) -> Check | None:
    """The first check ``sentence`` maps to, or ``None`` (then a judge decides)."""
    checks = compile_checks(sentence)
    return checks[0] if checks else None
