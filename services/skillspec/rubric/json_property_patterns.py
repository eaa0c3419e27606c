"""Facts about a JSON reply's object: its keys and what each property holds.

These sentences do not say that the reply is JSON ("The object has exactly two keys, `answer`
and `confidence`", "`confidence` is one of `"low"`, `"medium"` or `"high"`", "`answer` is a
string of at most 300 characters"): they only compile in a skill that elsewhere says its reply
is a JSON object (``needs_json_reply``), where "the object" can only be the reply and a key in
backticks one of its properties. Each compiles to a JSON Schema of that one fact, with
``"type": "object"``; the compiler's output constraint merges them.

A property sentence compiles only when all of it is understood: a type (string, integer,
number, boolean, array or list, object, optionally "non-empty"), a length for a string ("of at
most 300 characters"), an item type and count for an array ("of at most 5 strings"), a range
for a number ("between 0 and 1"). Enum values are taken from quotes or backticks, as JSON
strings (`"low"`) or bare words (`low`); numbers, booleans and null are left to a judge, since
"`1`" may mean the string or the number.
"""

from __future__ import annotations

import json
import re
from typing import Any

from skill_adapter.contracts import Check, JsonSchemaCheck

from .json_patterns import KEYS, json_keys, surrounded
from .vocabulary import IDENT, MAX_OPS, MIN_OPS, NUM, QLIST, QUOTED, count, pattern, quoted, unquote

_SUBJECT_OBJECT = r"(?:the|your|this)\s+(?:(?:top-level|root|json|whole|reply|response|output)\s+)*object"


def _subject(group: str) -> str:
    """A key in quotes as the subject: "`answer`", "the `answer` field", "the value of `answer`"."""
    return (
        rf"(?:the\s+)?(?:value\s+of\s+(?:the\s+)?)?(?P<{group}>{QUOTED})"
        r"(?:\s+(?:key|field|property|attribute|value))?"
    )


_IS = r"\s+(?:is|must\s+be|should\s+be|has\s+to\s+be|will\s+be|can\s+only\s+be|may\s+only\s+be)\s+(?:always\s+)?"
_TYPES = {
    "string": "string",
    "integer": "integer",
    "int": "integer",
    "number": "number",
    "float": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "object": "object",
}
_ITEM_TYPES = {"strings": "string", "integers": "integer", "numbers": "number", "booleans": "boolean"}
_AMOUNT = rf"(?:between\s+)?(?:(?:{MAX_OPS}|{MIN_OPS}|exactly)\s+)?{NUM}(?:\s*(?:-|\u2013|to|and)\s*{NUM})?"
_STRING_LENGTH = re.compile(
    rf"\s+(?:(?:of|with|that\s+is|that\s+has)\s+)?(?P<amount>{_AMOUNT}\s+(?:characters?|chars?))"
    r"(?:\s+(?:long|or\s+(?:less|fewer)|in\s+length))?",
    re.IGNORECASE,
)
_ARRAY_ITEMS = re.compile(
    rf"\s+of\s+(?P<amount>(?:{_AMOUNT}\s+)?(?P<items>strings|integers|numbers|booleans|objects))",
    re.IGNORECASE,
)
_RANGE = re.compile(
    r"\s+(?:between|from)\s+(?P<a>-?\d{1,9}(?:\.\d{1,9})?)\s+(?:and|to)\s+(?P<b>-?\d{1,9}(?:\.\d{1,9})?)"
    r"(?:\s*,?\s*\(?inclusive\)?)?",
    re.IGNORECASE,
)


def _key(match: re.Match[str]) -> str | None:
    found = match.groupdict()
    key = unquote(found.get("key") or found.get("set_key") or "").strip('"')
    return key if re.fullmatch(IDENT, key) else None


def _property(key: str, schema: dict[str, Any]) -> list[Check]:
    return [JsonSchemaCheck(json_schema={"type": "object", "properties": {key: schema}})]


def _enum_value(item: str) -> str | None:
    if item.startswith('"') and item.endswith('"') and len(item) > 1:
        try:
            value = json.loads(item)
        except ValueError:
            return None
        return value if isinstance(value, str) and value else None
    if re.fullmatch(r"[A-Za-z_][\w .:/+-]*", item) and item not in ("true", "false", "null"):
        return item
    return None


def _enum(match: re.Match[str], sentence: str) -> list[Check]:
    key = _key(match)
    values = [_enum_value(v) for v in quoted(match.group("values"))]
    if key is None or len(values) < 2 or None in values:
        return []
    return _property(key, {"enum": list(dict.fromkeys(values))})


def _object_alone(match: re.Match[str], sentence: str) -> list[Check]:
    return [JsonSchemaCheck(json_schema={"type": "object"})]


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def _typed(match: re.Match[str], sentence: str) -> list[Check]:
    key, kind, rest = _key(match), _TYPES[match.group("type").lower()], match.group("rest")
    if key is None:
        return []
    schema: dict[str, Any] = {"type": kind}
    non_empty = bool(match.group("nonempty"))
    if kind == "string" and (length := _STRING_LENGTH.fullmatch(rest)):
        if (counted := count(length.group("amount"), r"characters?|chars?")) is None:
            return []
        schema |= {"minLength": counted[0]} if counted[0] else {}
        schema |= {"maxLength": counted[1]} if counted[1] is not None else {}
    elif kind == "array" and (items := _ARRAY_ITEMS.fullmatch(rest)):
        schema["items"] = {"type": _ITEM_TYPES.get(items.group("items").lower(), "object")}
        counted = count(items.group("amount"), items.group("items"))
        if counted is None and items.group("amount") != items.group("items"):
            return []
        low, high = counted or (0, None)
        schema |= {"minItems": low} if low else {}
        schema |= {"maxItems": high} if high is not None else {}
    elif kind in ("integer", "number") and (span := _RANGE.fullmatch(rest)):
        low_n, high_n = _number(span.group("a")), _number(span.group("b"))
        if low_n > high_n or (kind == "integer" and not all(isinstance(n, int) for n in (low_n, high_n))):
            return []
        schema |= {"minimum": low_n, "maximum": high_n}
    elif rest.strip():
        return []
    if non_empty:
        if kind not in ("string", "array"):
            return []
        bound = "minLength" if kind == "string" else "minItems"
        schema[bound] = max(schema.get(bound, 0), 1)
    if schema.get("maxLength", 1) < schema.get("minLength", 0) or schema.get("maxItems", 1) < schema.get(
        "minItems", 0
    ):
        return []
    return _property(key, schema)


JSON_OBJECT_KEYS = pattern(
    "json-object-keys",
    "json",
    rf"^(?:{_SUBJECT_OBJECT}\s+(?:(?:must|should|will|always|only)\s+)*(?:has|have|contains?|includes?|holds?|"
    rf"consists\s+of|uses?)|(?:(?:respond|reply|answer)\s+with|return|output|produce|emit)\s+(?:a|an|one|the)\s+(?:single\s+)?"
    rf"object\s+(?:with|containing|having|that\s+has))\s+{KEYS}",
    json_keys,
    [
        (
            "The object has exactly two keys, `answer` and `confidence`, in that order.",
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
            "Return an object with the keys `title` and `tags`.",
            JsonSchemaCheck(json_schema={"type": "object", "required": ["title", "tags"]}),
        ),
    ],
    near_misses=(
        "The `meta` object has the keys `a` and `b`.",
        "Each object in `items` has the keys `a` and `b`.",
        "The object has exactly three keys, `answer` and `confidence`.",
    ),
    needs_json_reply=True,
)

JSON_OBJECT_ALONE = pattern(
    "json-object-alone",
    "json",
    surrounded("object"),
    _object_alone,
    [
        (
            "Never add any text, greeting or explanation before or after the object.",
            JsonSchemaCheck(json_schema={"type": "object"}),
        )
    ],
    near_misses=("Never add a greeting before the object.", "Never add text around the `meta` object."),
    needs_json_reply=True,
    negatable=True,
)

JSON_PROPERTY_ENUM = pattern(
    "json-property-enum",
    "json-property",
    rf"^(?:(?:always\s+)?set\s+{_subject('set_key')}\s+to\s+|{_subject('key')}{_IS})(?:exactly\s+|only\s+|strictly\s+)?"
    rf"(?:one\s+of(?:\s+the\s+(?:values|strings))?|either)\s*:?\s*(?P<values>{QLIST})\s*[.!]?$",
    _enum,
    [
        (
            '`confidence` is exactly one of `"low"`, `"medium"` or `"high"`.',
            JsonSchemaCheck(
                json_schema={
                    "type": "object",
                    "properties": {"confidence": {"enum": ["low", "medium", "high"]}},
                }
            ),
        ),
        (
            "The `status` field must be either `open` or `closed`.",
            JsonSchemaCheck(
                json_schema={"type": "object", "properties": {"status": {"enum": ["open", "closed"]}}}
            ),
        ),
        (
            "Set `priority` to one of 'p1', 'p2' or 'p3'.",
            JsonSchemaCheck(
                json_schema={"type": "object", "properties": {"priority": {"enum": ["p1", "p2", "p3"]}}}
            ),
        ),
    ],
    near_misses=(
        "`score` is one of `1`, `2` or `3`.",
        "`confidence` is one of `low`, `medium` or `high`, depending on the evidence.",
        "`items.kind` is one of `a` or `b`.",
    ),
    whole_reply=False,
    needs_json_reply=True,
)

JSON_PROPERTY_TYPE = pattern(
    "json-property-type",
    "json-property",
    rf"^{_subject('key')}{_IS}(?:a|an)\s+(?P<nonempty>non-?empty\s+)?(?P<type>{'|'.join(_TYPES)})\b"
    r"(?P<rest>[^.!;]*)[.!]?$",
    _typed,
    [
        (
            "`answer` is a string of at most 300 characters.",
            JsonSchemaCheck(
                json_schema={"type": "object", "properties": {"answer": {"type": "string", "maxLength": 300}}}
            ),
        ),
        (
            "`tags` must be a list of at most 5 strings.",
            JsonSchemaCheck(
                json_schema={
                    "type": "object",
                    "properties": {"tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5}},
                }
            ),
        ),
        (
            "The `score` field is a number between 0 and 1.",
            JsonSchemaCheck(
                json_schema={
                    "type": "object",
                    "properties": {"score": {"type": "number", "minimum": 0, "maximum": 1}},
                }
            ),
        ),
        (
            "`summary` is a non-empty string.",
            JsonSchemaCheck(
                json_schema={"type": "object", "properties": {"summary": {"type": "string", "minLength": 1}}}
            ),
        ),
    ],
    near_misses=(
        "`answer` is a short string.",
        "`answer` is a string that restates the question.",
        "`count` is an integer between 1.5 and 3.",
        "`answer` is a string of at most 300 characters and no line breaks.",
    ),
    whole_reply=False,
    needs_json_reply=True,
)
