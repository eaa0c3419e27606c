"""Structured outputs: request forms to one constraint, compiled once, followed token by token.

The decode loop runs on a fake language model (seeded noise as logits) with the byte-level
tokenizer of the tiny test models, so every structure in the output comes from the grammar.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from skill_adapter.contracts.openai import ChatCompletionRequest, CompletionRequest
from skill_adapter.gateway.errors import BadRequest, UnsupportedParameter
from skill_adapter.gateway.inference.constraints import (
    MAX_CONSTRAINT_CHARS,
    Constraint,
    InvalidConstraint,
    closed_objects,
    constraint_of,
)

torch = pytest.importorskip("torch", reason="the local engine needs torch (the local extra)")
pytest.importorskip("llguidance", reason="structured outputs need llguidance (the local extra)")

from skill_adapter.gateway.inference.engine import Delta, EngineStats, SamplingParams, generate  # noqa: E402
from skill_adapter.gateway.inference.grammar import GrammarCompiler  # noqa: E402
from skill_adapter.modelstore.tiny import byte_level_tokenizer  # noqa: E402
from tests.unit.gateway.fake_lm import NoiseLM  # noqa: E402

pytestmark = pytest.mark.unit

HELLO = [{"role": "user", "content": "hi"}]
EOS = 2  # <|im_end|> of the byte-level tokenizer
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean"},
        "n": {"type": "integer", "minimum": 0, "maximum": 99},
        "tag": {"enum": ["x", "y"]},
    },
    "required": ["ok", "n", "tag"],
    "additionalProperties": False,
}


def chat(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "m", "messages": HELLO, **fields})


# -- request forms ----------------------------------------------------------------------------


def test_openai_and_vllm_forms_of_one_schema_are_the_same_constraint() -> None:
    openai_form = chat(
        response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": SCHEMA}}
    )
    vllm_form = chat(structured_outputs={"json": SCHEMA})
    as_text = chat(structured_outputs={"json": json.dumps(SCHEMA)})
    sources = {constraint_of(r).source for r in (openai_form, vllm_form, as_text)}  # type: ignore[union-attr]
    assert len(sources) == 1 and json.loads(sources.pop()) == SCHEMA


@pytest.mark.parametrize(
    ("fields", "kind", "param"),
    [
        ({"response_format": {"type": "json_object"}}, "json", "response_format"),
        ({"structured_outputs": {"json_object": True}}, "json", "structured_outputs.json_object"),
        ({"structured_outputs": {"regex": "[a-z]+"}}, "regex", "structured_outputs.regex"),
        ({"structured_outputs": {"choice": ["a", "b"]}}, "choice", "structured_outputs.choice"),
        ({"structured_outputs": {"grammar": 'root ::= "a"'}}, "grammar", "structured_outputs.grammar"),
    ],
)
def test_each_form_names_its_kind_and_field(fields: dict[str, Any], kind: str, param: str) -> None:
    for request in (
        chat(**fields),
        CompletionRequest.model_validate({"model": "m", "prompt": "p", **fields}),
    ):
        constraint = constraint_of(request)
        assert constraint is not None and (constraint.kind, constraint.param) == (kind, param)


def test_no_constraint_or_plain_text_is_none() -> None:
    assert constraint_of(chat()) is None
    assert constraint_of(chat(response_format={"type": "text"})) is None


@pytest.mark.parametrize(
    "outputs",
    [
        {},
        {"regex": "a", "choice": ["a"]},
        {"json": {}, "json_object": True},
        {"json_object": False},
        {"choice": []},
    ],
)
def test_the_contract_takes_exactly_one_vllm_constraint(outputs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        chat(structured_outputs=outputs)


def test_an_upstream_receives_the_vllm_field_names() -> None:
    request = chat(structured_outputs={"json": SCHEMA, "disable_any_whitespace": True})
    assert request.model_dump(mode="json", exclude_unset=True)["structured_outputs"] == {
        "json": SCHEMA,
        "disable_any_whitespace": True,
    }
    formatted = chat(response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": SCHEMA}})
    assert (
        formatted.model_dump(mode="json", exclude_unset=True)["response_format"]["json_schema"]["schema"]
        == SCHEMA
    )


def test_what_the_local_engine_refuses() -> None:
    with pytest.raises(BadRequest, match="not both"):
        constraint_of(chat(response_format={"type": "json_object"}, structured_outputs={"regex": "a"}))
    with pytest.raises(UnsupportedParameter):
        constraint_of(chat(structured_outputs={"structural_tag": "{}"}))
    with pytest.raises(InvalidConstraint) as not_json:
        constraint_of(chat(structured_outputs={"json": "{nope"}))
    assert not_json.value.param == "structured_outputs.json"
    with pytest.raises(InvalidConstraint, match="too large"):
        constraint_of(chat(structured_outputs={"regex": "a" * (MAX_CONSTRAINT_CHARS + 1)}))
    with pytest.raises(BadRequest) as no_schema:
        constraint_of(chat(response_format={"type": "json_schema", "json_schema": {"name": "s"}}))
    assert no_schema.value.param == "response_format.json_schema.schema"


def test_vllm_options_shape_the_constraint() -> None:
    outputs = {
        "json": {"type": "object"},
        "disable_any_whitespace": True,
        "disable_additional_properties": True,
    }
    constraint = constraint_of(chat(structured_outputs=outputs))
    assert constraint is not None and not constraint.whitespace_flexible
    assert json.loads(constraint.source) == {"type": "object", "additionalProperties": False}
    nested = {"anyOf": [{"type": "object", "additionalProperties": True}, {"type": "object"}]}
    assert closed_objects(nested)["anyOf"] == [
        {"type": "object", "additionalProperties": True},
        {"type": "object", "additionalProperties": False},
    ]


# -- compiling ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return byte_level_tokenizer()


@pytest.fixture
def compiler(tokenizer: Any) -> GrammarCompiler:
    return GrammarCompiler(tokenizer, len(tokenizer), frozenset({EOS}), cache_size=2)


def regex(pattern: str) -> Constraint:
    return Constraint("regex", pattern, "structured_outputs.regex")


def test_a_constraint_is_compiled_once_and_the_cache_is_bounded(compiler: GrammarCompiler) -> None:
    first = compiler.compile(regex("a+"))
    assert compiler.compile(regex("a+")) is first and compiler.compiled == 1
    compiler.compile(regex("b+"))
    compiler.compile(regex("c+"))  # evicts a+, the least recently used
    assert compiler.compile(regex("a+")) is not first and compiler.compiled == 4


@pytest.mark.parametrize(
    "constraint",
    [
        regex("(?=a)b"),
        regex("(a"),
        Constraint("json", '{"type": 5}', "structured_outputs.json"),
        Constraint("json", "[1]", "structured_outputs.json"),
        Constraint("grammar", "root ::= nowhere", "structured_outputs.grammar"),
    ],
)
def test_an_invalid_constraint_is_a_400_naming_its_field(
    compiler: GrammarCompiler, constraint: Constraint
) -> None:
    with pytest.raises(InvalidConstraint) as raised:
        compiler.compile(constraint)
    assert raised.value.param == constraint.param and raised.value.status_code == 400
    assert "<state>" not in raised.value.message


def test_the_mask_leaves_only_what_the_grammar_allows(compiler: GrammarCompiler, tokenizer: Any) -> None:
    rows = compiler.compile(Constraint("choice", '["yes", "no"]', "structured_outputs.choice")).rows(2)
    logits = torch.zeros((2, len(tokenizer)))
    rows.mask(logits, [True, False])
    allowed = set(torch.nonzero(torch.isfinite(logits[0])).flatten().tolist())
    assert allowed == {tokenizer.convert_tokens_to_ids("y"), tokenizer.convert_tokens_to_ids("n")}
    assert torch.isfinite(logits[1]).all()  # a finished choice is left alone


# -- decoding -----------------------------------------------------------------------------------


def run(
    compiler: GrammarCompiler, tokenizer: Any, constraint: Constraint, **sampling: Any
) -> list[tuple[str, str]]:
    """(finish reason, text) of each choice, the text joined from the deltas as streamed."""
    params = SamplingParams(**{"max_tokens": 200, "n": 3, "seed": 0, **sampling})
    deltas: list[Delta] = []
    choices = generate(
        NoiseLM(len(tokenizer)),
        tokenizer,
        tokenizer("hello")["input_ids"],
        params,
        eos_ids=frozenset({EOS}),
        emit=deltas.extend,
        cancel=lambda: False,
        stats=EngineStats(),
        grammar=compiler.compile(constraint),
    )
    texts = ["".join(d.text for d in deltas if d.index == row) for row in range(params.n)]
    return [(choice.finish_reason or "", text) for choice, text in zip(choices, texts, strict=True)]


@pytest.mark.parametrize("sampling", [{"seed": 0}, {"seed": 1, "top_p": 0.5}, {"temperature": 0}])
def test_sampled_and_greedy_replies_follow_the_schema(
    compiler: GrammarCompiler, tokenizer: Any, sampling: dict[str, Any]
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = Constraint("json", json.dumps(SCHEMA), "structured_outputs.json", whitespace_flexible=False)
    replies = run(compiler, tokenizer, schema, **sampling)
    for finish, text in replies:
        assert finish == "stop"
        jsonschema.validate(json.loads(text), SCHEMA)
    assert replies == run(compiler, tokenizer, schema, **sampling)  # the same seed, the same replies


def test_a_logit_bias_cannot_break_the_grammar(compiler: GrammarCompiler, tokenizer: Any) -> None:
    bias = {tokenizer.convert_tokens_to_ids("z"): 100.0}
    for finish, text in run(compiler, tokenizer, regex("[0-9]{4}"), logit_bias=bias):
        assert re.fullmatch("[0-9]{4}", text) and finish == "stop"


def test_a_grammar_that_could_go_on_ends_at_eos_or_length(compiler: GrammarCompiler, tokenizer: Any) -> None:
    ended = run(compiler, tokenizer, regex("a+"), max_tokens=40)
    assert all(finish == "stop" and re.fullmatch("a{1,39}", text) for finish, text in ended), ended
    endless = run(compiler, tokenizer, regex("a+"), max_tokens=40, ignore_eos=True)
    assert endless == [("length", "a" * 40)] * 3


def test_an_incomplete_reply_at_max_tokens_is_length(compiler: GrammarCompiler, tokenizer: Any) -> None:
    for finish, text in run(compiler, tokenizer, regex("[a-z]{10}"), max_tokens=4):
        assert finish == "length" and re.fullmatch("[a-z]{4}", text)
