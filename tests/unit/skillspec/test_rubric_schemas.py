"""Merging JSON Schema facts: the merged schema accepts exactly what every part accepts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skill_adapter.skillspec.rubric.json_checks import compile_schema
from skill_adapter.skillspec.rubric.schemas import merge_all, merge_schemas

pytestmark = pytest.mark.unit

CLOSED = {
    "type": "object",
    "required": ["answer", "confidence"],
    "properties": {"answer": {}, "confidence": {}},
    "additionalProperties": False,
}


def test_facts_about_properties_merge_into_one_schema() -> None:
    answer = {"type": "object", "properties": {"answer": {"type": "string", "maxLength": 300}}}
    confidence = {"type": "object", "properties": {"confidence": {"enum": ["low", "high"]}}}
    merged, used = merge_all([{"type": "object"}, CLOSED, answer, confidence])
    assert used == [0, 1, 2, 3]
    assert merged == {
        "type": "object",
        "required": ["answer", "confidence"],
        "properties": {
            "answer": {"type": "string", "maxLength": 300},
            "confidence": {"enum": ["low", "high"]},
        },
        "additionalProperties": False,
    }


def test_bounds_tighten_and_enums_intersect() -> None:
    assert merge_schemas({"maxLength": 300, "minLength": 1}, {"maxLength": 200}) == {
        "maxLength": 200,
        "minLength": 1,
    }
    assert merge_schemas({"enum": ["a", "b", "c"]}, {"enum": ["c", "b"]}) == {"enum": ["b", "c"]}
    assert merge_schemas({"enum": ["a"]}, {"enum": ["b"]}) is None


def test_a_closed_object_drops_what_it_refuses_and_refuses_what_is_required_elsewhere() -> None:
    extra = {"type": "object", "properties": {"notes": {"type": "string"}}}
    assert merge_schemas(CLOSED, extra) == CLOSED
    assert merge_schemas(CLOSED, {"type": "object", "required": ["notes"]}) is None


def test_what_cannot_be_merged_simply_is_left_out() -> None:
    assert merge_schemas({"type": "object"}, {"type": "array"}) is None
    assert merge_schemas({"$ref": "#/$defs/x"}, {"type": "object"}) is None
    assert merge_schemas({"additionalProperties": {"type": "string"}}, {"type": "object"}) is None
    merged, used = merge_all([{"type": "object"}, {"type": "array"}, {"required": ["a"]}])
    assert merged == {"type": "object", "required": ["a"]} and used == [0, 2]


def test_equal_schemas_merge_whatever_they_hold() -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}
    assert merge_schemas(schema, dict(schema)) == schema


KEYS = ["a", "b", "c"]
VALUES = st.one_of(st.sampled_from(["", "x", "low", "high", "a long string"]), st.integers(-2, 400))
PROPERTY = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["string", "integer"]),
        "enum": st.lists(st.sampled_from(["low", "high", "x", 3]), min_size=1, max_size=3, unique=True),
        "maxLength": st.integers(0, 5),
        "minLength": st.integers(0, 3),
        "maximum": st.integers(0, 300),
    },
)
OBJECT = st.fixed_dictionaries(
    {"type": st.just("object")},
    optional={
        "required": st.lists(st.sampled_from(KEYS), unique=True, max_size=3),
        "properties": st.dictionaries(st.sampled_from(KEYS), PROPERTY, max_size=3),
        "additionalProperties": st.just(False),
    },
)
INSTANCES = st.dictionaries(st.sampled_from([*KEYS, "d"]), VALUES, max_size=4)


def valid(schema: dict[str, Any], instance: object) -> bool:
    return compile_schema(schema).is_valid(instance)


@settings(max_examples=400)
@given(OBJECT, OBJECT, st.lists(INSTANCES, min_size=1, max_size=8))
def test_a_merged_schema_accepts_exactly_what_both_accept(
    a: dict[str, Any], b: dict[str, Any], instances: list[dict[str, Any]]
) -> None:
    merged = merge_schemas(a, b)
    if merged is None:
        return
    for instance in instances:
        assert valid(merged, instance) == (valid(a, instance) and valid(b, instance)), (merged, instance)
