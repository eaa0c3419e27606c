"""Structured outputs on the local engine: the same request as on vLLM gets a reply of the
right shape by construction, through the official ``openai`` client.

A real gateway (uvicorn in a thread, as in tests/integration/inference) serving a tiny random
model: its replies are noise, so whatever structure they have comes from the constraint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import openai
import pytest

from skill_adapter.runtime.nats_server import EmbeddedNats
from tests.integration.inference.conftest import ServedGateway, gateway_settings, serve, stop

pytest.importorskip("llguidance", reason="structured outputs need llguidance (the local extra)")

pytestmark = pytest.mark.integration

MODEL = "tiny-structured"
HELLO = [{"role": "user", "content": "Describe a person."}]
PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 12},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "member": {"type": "boolean"},
        "role": {"enum": ["admin", "user", "guest"]},
        "scores": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}, "maxItems": 3},
    },
    "required": ["name", "age", "member", "role", "scores"],
    "additionalProperties": False,
}
PERSON_FORMAT = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}
CODE = r"[A-Z]{2}-[0-9]{3}"
BUDGET = 400  # the tiny model pads JSON with random whitespace (allowed by default, as on vLLM)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, nats_server: EmbeddedNats) -> Iterator[ServedGateway]:
    from skill_adapter.modelstore import tiny_random_model

    root = tmp_path_factory.mktemp("structured")
    model = tiny_random_model(root / "models" / MODEL).path
    settings = gateway_settings(
        root / "gateway",
        nats_server.url,
        backends=[{"kind": "local", "models": [{"id": MODEL, "source": str(model)}]}],
    )
    served = serve(settings, wait_for_models=(MODEL,))
    yield served
    stop(served)


@pytest.fixture
def client(gateway: ServedGateway) -> openai.AsyncOpenAI:
    return gateway.client()


def person(text: str) -> dict[str, Any]:
    value = json.loads(text)
    jsonschema.validate(value, PERSON)
    return value  # type: ignore[no-any-return]


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_a_json_schema_reply_validates_for_every_choice(client: openai.AsyncOpenAI, seed: int) -> None:
    reply = await client.chat.completions.create(
        model=MODEL, messages=HELLO, response_format=PERSON_FORMAT, n=3, seed=seed, max_tokens=BUDGET
    )  # type: ignore[call-overload]
    assert len(reply.choices) == 3
    for choice in reply.choices:
        person(choice.message.content or "")
        assert choice.finish_reason == "stop"


async def test_vllm_structured_outputs_json_without_whitespace(client: openai.AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=BUDGET,
        seed=7,
        n=2,
        extra_body={"structured_outputs": {"json": PERSON, "disable_any_whitespace": True}},
    )  # type: ignore[call-overload]
    for choice in reply.choices:
        text = choice.message.content or ""
        assert json.dumps(person(text), ensure_ascii=False, separators=(",", ":")) == text


async def test_json_object_is_any_json_object(client: openai.AsyncOpenAI) -> None:
    for form in (
        {"response_format": {"type": "json_object"}},
        {"extra_body": {"structured_outputs": {"json_object": True}}},
    ):
        reply = await client.chat.completions.create(
            model=MODEL, messages=HELLO, max_tokens=BUDGET, seed=3, n=3, **form
        )  # type: ignore[call-overload]
        # Any object may nest without end: a random model does not always close it in time.
        done = [c.message.content or "" for c in reply.choices if c.finish_reason == "stop"]
        assert done, [c.message.content for c in reply.choices]
        assert all(isinstance(json.loads(text), dict) for text in done)
        assert all((c.message.content or "").lstrip().startswith("{") for c in reply.choices)


async def test_regex_choice_and_grammar(client: openai.AsyncOpenAI) -> None:
    regex = await client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=32,
        seed=1,
        n=3,
        extra_body={"structured_outputs": {"regex": CODE}},
    )  # type: ignore[call-overload]
    assert all(re.fullmatch(CODE, c.message.content or "") for c in regex.choices), regex.choices
    choices = ["positive", "negative", "neutral"]
    picked = await client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=32,
        n=4,
        extra_body={"structured_outputs": {"choice": choices}},
    )  # type: ignore[call-overload]
    assert {c.message.content for c in picked.choices} <= set(choices)
    assert {c.finish_reason for c in picked.choices} == {"stop"}
    grammar = 'root ::= answer " " answer\nanswer ::= "yes" | "no"'
    parsed = await client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=32,
        n=3,
        extra_body={"structured_outputs": {"grammar": grammar}},
    )  # type: ignore[call-overload]
    assert all(re.fullmatch("(yes|no) (yes|no)", c.message.content or "") for c in parsed.choices)


async def test_the_same_seed_gives_the_same_reply_whole_or_streamed(client: openai.AsyncOpenAI) -> None:
    request: dict[str, Any] = {
        "model": MODEL,
        "messages": HELLO,
        "response_format": PERSON_FORMAT,
        "n": 2,
        "seed": 11,
        "max_tokens": BUDGET,
    }
    first = await client.chat.completions.create(**request)
    again = await client.chat.completions.create(**request)
    texts = [c.message.content for c in first.choices]
    assert texts == [c.message.content for c in again.choices]
    stream = await client.chat.completions.create(**request, stream=True)
    streamed = ["", ""]
    finish: list[str | None] = [None, None]
    async for chunk in stream:
        for choice in chunk.choices:
            streamed[choice.index] += choice.delta.content or ""
            finish[choice.index] = choice.finish_reason or finish[choice.index]
    assert streamed == texts
    assert finish == ["stop", "stop"]
    for text in streamed:
        person(text)


async def test_text_completions_take_both_forms(client: openai.AsyncOpenAI) -> None:
    regex = await client.completions.create(
        model=MODEL,
        prompt=["Code:", "Another:"],
        max_tokens=32,
        n=2,
        extra_body={"structured_outputs": {"regex": CODE}},
    )
    assert len(regex.choices) == 4
    assert all(re.fullmatch(CODE, c.text) for c in regex.choices)
    schema = await client.completions.create(
        model=MODEL,
        prompt="Person:",
        max_tokens=BUDGET,
        seed=5,
        extra_body={"response_format": PERSON_FORMAT},
    )
    person(schema.choices[0].text)
    stream = await client.completions.create(
        model=MODEL,
        prompt="Person:",
        max_tokens=BUDGET,
        seed=5,
        stream=True,
        extra_body={"response_format": PERSON_FORMAT},
    )
    assert "".join([c.choices[0].text async for c in stream if c.choices]) == schema.choices[0].text


async def test_stop_sequences_and_max_tokens_still_end_a_choice(client: openai.AsyncOpenAI) -> None:
    short = await client.chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=3, response_format=PERSON_FORMAT
    )  # type: ignore[call-overload]
    assert short.choices[0].finish_reason == "length"  # the JSON is not complete: no "stop"
    assert (short.choices[0].message.content or "").startswith("{")
    stopped = await client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=32,
        stop=["-"],
        extra_body={"structured_outputs": {"regex": CODE}},
    )  # type: ignore[call-overload]
    assert stopped.choices[0].finish_reason == "stop"
    assert re.fullmatch("[A-Z]{2}", stopped.choices[0].message.content or "")


def envelope(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    assert error["type"] == "invalid_request_error" and error["message"]
    return error


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"structured_outputs": {"regex": "(?=look)ahead"}}, "structured_outputs.regex"),
        ({"structured_outputs": {"regex": "(unclosed"}}, "structured_outputs.regex"),
        ({"structured_outputs": {"json": {"type": 5}}}, "structured_outputs.json"),
        ({"structured_outputs": {"json": "{not json"}}, "structured_outputs.json"),
        ({"structured_outputs": {"json": {"type": "array", "uniqueItems": True}}}, "structured_outputs.json"),
        ({"structured_outputs": {"grammar": "root ::= missing"}}, "structured_outputs.grammar"),
        ({"structured_outputs": {"json": {"type": "object"}, "regex": "a"}}, "structured_outputs"),
        ({"structured_outputs": {}}, "structured_outputs"),
        ({"structured_outputs": {"choice": []}}, "structured_outputs.choice"),
        ({"structured_outputs": {"structural_tag": "{}"}}, "structured_outputs.structural_tag"),
        (
            {"structured_outputs": {"regex": "a"}, "response_format": {"type": "json_object"}},
            "structured_outputs",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
            "response_format.json_schema.schema",
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "nope"}},
                }
            },
            "response_format.json_schema.schema",
        ),
        ({"structured_outputs": {"regex": "a" * 70_000}}, "structured_outputs.regex"),
    ],
)
async def test_a_bad_constraint_is_a_400_naming_it(
    gateway: ServedGateway, path: str, change: dict[str, Any], param: str
) -> None:
    body: dict[str, Any] = {"model": MODEL, "max_tokens": 4, **change}
    body.update({"messages": HELLO} if path.endswith("chat/completions") else {"prompt": "hi"})
    async with gateway.http() as http:
        response = await http.post(path, json=body)
    assert envelope(response)["param"] == param


async def test_the_official_client_raises_bad_request(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await client.chat.completions.create(
            model=MODEL, messages=HELLO, max_tokens=4, extra_body={"structured_outputs": {"regex": "("}}
        )  # type: ignore[call-overload]
    assert raised.value.param == "structured_outputs.regex"  # type: ignore[attr-defined]
