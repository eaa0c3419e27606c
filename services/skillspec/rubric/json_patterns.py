"""Patterns that say the reply is JSON: "Respond with a JSON object with keys `a` and `b`".

A sentence must say that the reply *is* JSON ("respond/return/output ... JSON", "the output
is valid JSON", "no text before or after the JSON"); "include a JSON snippet" is a part of the
reply and stays with a judge. A code fence around the JSON is allowed only when the sentence
asks for one. Keys are required; "only", "exactly", "no other" also refuse other keys. A
stated number of keys ("three keys") must match the keys listed.
"""

from __future__ import annotations

import re
from typing import Any

from skill_adapter.contracts import Check, CodeBlockCheck, JsonSchemaCheck, ValidJsonCheck

from .vocabulary import BARE_LIST, NUM, QLIST, SEP, number, pattern, quoted

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
KEYS = (
    rf"(?:(?:the|these|exactly|only|required|following|top-level|{NUM})\s+)*(?:keys?|fields?|properties|attributes)"
    rf"\s*[:,]?\s*(?P<keys>{QLIST}|{BARE_LIST})"
)
_KEY_COUNT = re.compile(rf"\b(?P<n>{NUM})\s+(?:keys?|fields?|properties|attributes)\b", re.IGNORECASE)
_STUFF = (
    r"(?:text|anything|words?|prose|commentary|comments?|explanations?|greetings?|preamble|introductions?|"
    r"notes?|sign-?offs?|content|characters?|sentences?|remarks?)"
)


def surrounded(target: str) -> str:
    """A regex for "no text before or after <target>" (the reply is that and nothing else)."""
    return (
        r"\b(?:(?:never|do\s+not|don't|must\s+not|mustn't|should\s+not|shouldn't|no|without)\b[^.;:]{0,80}?"
        rf"\b{_STUFF}|nothing)\b[^.;:]{{0,40}}?\b(?:before\s+(?:or|and|nor)\s+after|after\s+(?:or|and|nor)\s+"
        rf"before|around|outside(?:\s+of)?|surrounding)\s+(?:the|your|this|that)\s+{target}\b"
        r"(?=\s*(?:[.,;:!?)]|$)|\s+(?:and|or|but|nor|you|that|which|itself|in|at|on)\b)"
    )


def fenced(sentence: str) -> bool:
    """Whether the sentence allows (asks for) a code fence around the JSON."""
    allowed = re.search(r"code\s*(?:block|fence)|```|fenced", sentence, re.IGNORECASE)
    refused = re.search(
        r"\b(?:no|not|without|never)\b[^.]*(?:code\s*(?:block|fence)|fenc|```)", sentence, re.I
    )
    return bool(allowed) and not refused


def json_keys(match: re.Match[str], sentence: str) -> list[Check]:
    raw = match.group("keys")
    keys = list(dict.fromkeys(quoted(raw) or [k for k in re.split(SEP, raw) if k]))
    stated = _KEY_COUNT.search(match.group()[: match.start("keys") - match.start()])
    if stated and number(stated.group("n")) != len(keys):
        return []
    schema: dict[str, Any] = {"type": "object", "required": keys}
    if re.search(r"\b(?:only|exactly|no\s+other|nothing\s+else)\b", sentence, re.IGNORECASE):
        schema |= {"properties": {k: {} for k in keys}, "additionalProperties": False}
    return [JsonSchemaCheck(json_schema=schema, allow_code_fence=fenced(sentence))]


def _json(match: re.Match[str], sentence: str) -> list[Check]:
    shape = (match.group("shape") or "").lower()
    if shape:
        return [JsonSchemaCheck(json_schema={"type": shape}, allow_code_fence=fenced(sentence))]
    return [ValidJsonCheck(allow_code_fence=fenced(sentence))]


def _alone(match: re.Match[str], sentence: str) -> list[Check]:
    shape = (match.group("shape") or "").lower()
    return [JsonSchemaCheck(json_schema={"type": shape})] if shape else [ValidJsonCheck()]


JSON_KEYS = pattern(
    "json-keys",
    "json",
    rf"{_JSON_SAY}[^.]*?\b(?:with|containing|having|has|have|including)\s+{KEYS}",
    json_keys,
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
    near_misses=("Respond with a JSON object with three keys, `answer` and `confidence`.",),
)

JSON_KEY_NAMED = pattern(
    "json-key-named",
    "json",
    rf"{_JSON_SAY}[^.]*?\b(?:with|containing|having|has|have|including)\s+(?:an?|the)\s+"
    rf"(?P<keys>{QLIST})\s+(?:keys?|fields?|properties|attributes)\b",
    json_keys,
    [
        (
            "The output is a JSON object with a `status` field.",
            JsonSchemaCheck(json_schema={"type": "object", "required": ["status"]}),
        ),
    ],
)

JSON = pattern(
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
)

JSON_ALONE = pattern(
    "json-alone",
    "json",
    surrounded(r"JSON(?:\s+(?P<shape>object|array))?"),
    _alone,
    [
        ("Do not add any text before or after the JSON.", ValidJsonCheck()),
        ("Never put commentary outside the JSON object.", JsonSchemaCheck(json_schema={"type": "object"})),
        ("Output nothing before or after the JSON array.", JsonSchemaCheck(json_schema={"type": "array"})),
    ],
    near_misses=(
        "Never add code fences around the JSON snippet.",
        "Do not add text before the JSON.",
        "Add a short note after the JSON.",
        "Do not add text around the JSON schema.",
    ),
    negatable=True,
)
