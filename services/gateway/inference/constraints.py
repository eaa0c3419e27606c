"""What a request asks the reply to follow: a JSON Schema, a regex, a choice or a grammar.

Two request forms mean the same thing, so one request works on the local engine and on vLLM:
OpenAI's ``response_format`` (``json_object``, ``json_schema``) and vLLM's ``structured_outputs``
(``json``, ``regex``, ``choice``, ``grammar``, ``json_object``). Both become one ``Constraint``:
a frozen, hashable value (the compiled grammar cache is keyed by it), built without the
constrained-decoding library. What cannot be honoured is refused with a 400 naming the field.

>>> from skill_adapter.contracts.openai import CompletionRequest
>>> request = CompletionRequest(model="m", prompt="p", structured_outputs={"choice": ["yes", "no"]})
>>> constraint_of(request)
Constraint(kind='choice', source='["yes","no"]', param='structured_outputs.choice', whitespace_flexible=True, whitespace_pattern=None)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from skill_adapter.contracts.openai import (
    ChatCompletionRequest,
    CompletionRequest,
    ResponseFormat,
    StructuredOutputs,
)

from ..errors import BadRequest, UnsupportedParameter

MAX_CONSTRAINT_CHARS = 64 * 1024
"""The largest schema, regex, choice list or grammar compiled (as JSON text): bounds compile time."""

ANY_JSON_OBJECT = '{"type":"object"}'

ConstraintKind = Literal["json", "regex", "choice", "grammar"]


@dataclass(frozen=True)
class Constraint:
    """One output constraint: ``source`` is the schema (JSON text), regex, choices (a JSON
    list) or grammar; ``param`` is the request field it came from (for errors)."""

    kind: ConstraintKind
    source: str
    param: str
    whitespace_flexible: bool = True
    whitespace_pattern: str | None = None


class InvalidConstraint(BadRequest):
    """The schema, regex or grammar cannot be compiled or followed."""

    code = "invalid_constraint"


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _bounded(constraint: Constraint) -> Constraint:
    if len(constraint.source) > MAX_CONSTRAINT_CHARS:
        raise InvalidConstraint(
            f"The constraint is too large: {len(constraint.source)} characters; "
            f"the local engine compiles at most {MAX_CONSTRAINT_CHARS}.",
            param=constraint.param,
        )
    return constraint


def closed_objects(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` on every object schema that leaves it
    open (vLLM's ``disable_additional_properties``).

    >>> closed_objects({"type": "object", "properties": {"a": {"type": "object"}}})
    {'type': 'object', 'properties': {'a': {'type': 'object', 'additionalProperties': False}}, 'additionalProperties': False}
    """
    if isinstance(schema, list):
        return [closed_objects(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: closed_objects(value) for key, value in schema.items()}
    if closed.get("type") == "object" and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    return closed


def _from_response_format(response_format: ResponseFormat) -> Constraint | None:
    if response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return Constraint("json", ANY_JSON_OBJECT, "response_format")
    spec = response_format.json_schema
    if spec is None or spec.json_schema is None:
        raise BadRequest(
            "response_format of type json_schema needs json_schema.schema (the JSON Schema).",
            param="response_format.json_schema.schema",
        )
    return _bounded(Constraint("json", _json_text(spec.json_schema), "response_format.json_schema.schema"))


def _schema_of(value: dict[str, Any] | str, param: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise InvalidConstraint(f"The JSON Schema is not valid JSON: {exc}", param=param) from exc


def _from_structured_outputs(outputs: StructuredOutputs) -> Constraint:
    flexible = not outputs.disable_any_whitespace
    pattern = outputs.whitespace_pattern
    if outputs.structural_tag is not None:
        raise UnsupportedParameter(
            "structured_outputs.structural_tag", "is not supported by the local engine."
        )
    if outputs.json_object:
        return Constraint("json", ANY_JSON_OBJECT, "structured_outputs.json_object", flexible, pattern)
    if outputs.json_ is not None:
        param = "structured_outputs.json"
        schema = _schema_of(outputs.json_, param)
        if outputs.disable_additional_properties:
            schema = closed_objects(schema)
        return _bounded(Constraint("json", _json_text(schema), param, flexible, pattern))
    if outputs.regex is not None:
        return _bounded(Constraint("regex", outputs.regex, "structured_outputs.regex"))
    if outputs.choice is not None:
        return _bounded(Constraint("choice", _json_text(outputs.choice), "structured_outputs.choice"))
    assert outputs.grammar is not None  # the contract allows exactly one constraint
    return _bounded(Constraint("grammar", outputs.grammar, "structured_outputs.grammar"))


def constraint_of(request: ChatCompletionRequest | CompletionRequest) -> Constraint | None:
    """The request's output constraint, if any; a 400 when it asks for two or for what the local
    engine cannot do."""
    from_format = None if request.response_format is None else _from_response_format(request.response_format)
    outputs = request.structured_outputs
    if outputs is None:
        return from_format
    if from_format is not None:
        raise BadRequest(
            "Give one output constraint: response_format or structured_outputs, not both.",
            param="structured_outputs",
        )
    return _from_structured_outputs(outputs)
