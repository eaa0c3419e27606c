"""Merging JSON Schemas that each state one fact about the same reply into one schema.

A skill says what its JSON reply holds over several sentences ("an object with exactly the keys
`answer` and `confidence`", "`answer` is a string of at most 300 characters", "`confidence`
is one of ..."); each is its own criterion, with its own provenance and reward. Guided decoding
needs a single schema: ``merge_schemas`` writes the conjunction of two schemas as one plain
schema, or gives ``None`` when that is not simple (a keyword it does not know, two different
values it cannot combine, a contradiction); ``merge_all`` folds a list, most trusted first,
skipping what does not merge.

Keywords merged: ``type``, ``enum`` (values in both), ``const``, ``pattern``, ``format`` (equal
only), bounds (``maxLength``... the smaller, ``minLength``... the larger), ``items``,
``required`` (the union), ``properties`` (each property merged), ``additionalProperties``
(``false`` keeps only keys every closed schema allows; a property the other schema constrains
but a closed one refuses cannot appear, so its constraint is dropped, unless it is required,
which is a contradiction). Equal schemas always merge.
"""

from __future__ import annotations

from typing import Any

_MAXIMA = frozenset({"maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum"})
_MINIMA = frozenset({"minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum"})
_EQUAL_ONLY = frozenset({"type", "const", "pattern", "format", "description", "title"})
_OBJECT = frozenset({"required", "properties", "additionalProperties"})
_KNOWN = _MAXIMA | _MINIMA | _EQUAL_ONLY | _OBJECT | {"enum", "items"}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _merge_keyword(key: str, a: Any, b: Any) -> tuple[bool, Any]:
    """``(True, merged value)`` of one keyword present in both schemas, or ``(False, None)``."""
    if a == b:
        return True, a
    if key in _MAXIMA | _MINIMA and _is_number(a) and _is_number(b):
        return True, min(a, b) if key in _MAXIMA else max(a, b)
    if key == "enum" and isinstance(a, list) and isinstance(b, list):
        both = [value for value in a if value in b]
        return bool(both), both
    if key == "items" and isinstance(a, dict) and isinstance(b, dict):
        merged = merge_schemas(a, b)
        return merged is not None, merged
    return False, None


def _merge_object(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    """``required``, ``properties`` and ``additionalProperties`` of the conjunction."""
    props_a, props_b = a.get("properties", {}), b.get("properties", {})
    required_a, required_b = a.get("required", []), b.get("required", [])
    extra = [s.get("additionalProperties", True) for s in (a, b)]
    if not all(isinstance(x, dict) for x in (props_a, props_b)) or not all(
        isinstance(x, list) for x in (required_a, required_b)
    ):
        return None
    if any(x not in (True, False) for x in extra):
        return None
    closed = [set(s.get("properties", {})) for s in (a, b) if s.get("additionalProperties") is False]
    allowed = set.intersection(*closed) if closed else None
    required = list(dict.fromkeys([*required_a, *required_b]))
    if allowed is not None and not set(required) <= allowed:
        return None
    properties: dict[str, Any] = {}
    for key in dict.fromkeys([*props_a, *props_b]):
        if allowed is not None and key not in allowed:
            continue
        if key in props_a and key in props_b:
            merged = merge_schemas(props_a[key], props_b[key])
            if merged is None:
                return None
            properties[key] = merged
        else:
            properties[key] = props_a.get(key, props_b.get(key))
    out: dict[str, Any] = {}
    if required:
        out["required"] = required
    if properties or "properties" in a or "properties" in b:
        out["properties"] = properties
    if allowed is not None:
        out["additionalProperties"] = False
    return out


def merge_schemas(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    """One schema that accepts exactly what both accept, or ``None`` (see the module docs)."""
    if a == b:
        return dict(a)
    if not isinstance(a, dict) or not isinstance(b, dict) or not (set(a) | set(b)) <= _KNOWN:
        return None
    merged: dict[str, Any] = {}
    for key in dict.fromkeys([*a, *b]):
        if key in _OBJECT:
            continue
        if key in a and key in b:
            ok, value = _merge_keyword(key, a[key], b[key])
            if not ok:
                return None
            merged[key] = value
        else:
            merged[key] = a[key] if key in a else b[key]
    if _OBJECT & (set(a) | set(b)):
        object_part = _merge_object(a, b)
        if object_part is None:
            return None
        merged |= object_part
    return merged


def merge_all(schemas: list[dict[str, Any]]) -> tuple[dict[str, Any], list[int]]:
    """The first schema merged with every later one that merges; and the indexes merged."""
    merged, used = dict(schemas[0]), [0]
    for index, schema in enumerate(schemas[1:], 1):
        folded = merge_schemas(merged, schema)
        if folded is not None:
            merged = folded
            used.append(index)
    return merged, used
