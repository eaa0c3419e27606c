"""The gateway's ``vllm`` backend in front of a real vLLM: the base model, with the official client.

Every answer through the gateway is compared with the same request sent straight to vLLM:
the gateway routes and authenticates, and otherwise passes requests and answers through.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import openai
import pytest

from skill_adapter.modelstore import DEFAULT_MODEL
from tests.integration.inference.conftest import ServedGateway
from tests.support.vllm import VllmServer

pytestmark = [pytest.mark.integration, pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(900)]

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
GREEDY: dict[str, Any] = {"model": DEFAULT_MODEL, "messages": QUESTION, "max_tokens": 12, "temperature": 0}


async def test_models_list_the_base_vllm_serves(
    client: openai.AsyncOpenAI, direct: openai.AsyncOpenAI
) -> None:
    through = {m.id: m for m in (await client.models.list()).data}
    assert DEFAULT_MODEL in through
    base = through[DEFAULT_MODEL]
    assert base.model_extra is not None
    assert base.model_extra["parent"] is None
    in_vllm = {m.id: m for m in (await direct.models.list()).data}  # vLLM has no GET /v1/models/{id}
    same = ("id", "owned_by", "root", "parent", "max_model_len")  # vLLM renews created, permission ids
    assert base.model_dump(include=set(same)) == in_vllm[DEFAULT_MODEL].model_dump(include=set(same))
    assert base.model_extra["max_model_len"] == 2048
    assert (await client.models.retrieve(DEFAULT_MODEL)).id == DEFAULT_MODEL


async def test_chat_from_the_base_whole_and_streamed(
    client: openai.AsyncOpenAI, direct: openai.AsyncOpenAI
) -> None:
    whole = await client.chat.completions.create(**GREEDY)
    text = whole.choices[0].message.content or ""
    assert "paris" in text.lower()
    reference = await direct.chat.completions.create(**GREEDY)
    assert text == reference.choices[0].message.content
    assert whole.usage == reference.usage
    assert whole.model == DEFAULT_MODEL

    stream = await client.chat.completions.create(
        **GREEDY, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage
    assert all(c.usage is None for c in chunks[:-1])


async def test_completions_whole_and_streamed(client: openai.AsyncOpenAI, direct: openai.AsyncOpenAI) -> None:
    params: dict[str, Any] = {"model": DEFAULT_MODEL, "prompt": "The capital of France is", "max_tokens": 8}
    whole = await client.completions.create(**params, temperature=0)
    reference = await direct.completions.create(**params, temperature=0)
    assert whole.choices[0].text == reference.choices[0].text
    assert whole.choices[0].text.strip()
    stream = await client.completions.create(**params, temperature=0, stream=True)
    assert "".join([c.choices[0].text async for c in stream if c.choices]) == whole.choices[0].text


async def test_structured_outputs_pass_through(client: openai.AsyncOpenAI) -> None:
    constrained: dict[str, Any] = {
        **GREEDY,
        "messages": [{"role": "user", "content": "Pick a three digit number."}],
        "extra_body": {"structured_outputs": {"regex": "[0-9]{3}"}},
    }
    reply = await client.chat.completions.create(**constrained)
    assert re.fullmatch("[0-9]{3}", reply.choices[0].message.content or "")
    stream = await client.chat.completions.create(**constrained, stream=True)
    assert re.fullmatch(
        "[0-9]{3}", "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    )
    chosen = await client.chat.completions.create(
        **{**GREEDY, "extra_body": {"structured_outputs": {"choice": ["yes", "no"]}}}
    )
    assert chosen.choices[0].message.content in {"yes", "no"}


async def test_an_intersection_grammar_constrains_vllm_as_the_local_engine(
    client: openai.AsyncOpenAI,
) -> None:
    """The data generator's grammar for several full-match regexes and a "never contains" text
    (llguidance's ``&`` and ``~``): vLLM's default backend selection hands it to guidance."""
    grammar = "start: REPLY\nREPLY: /[a-z ]{1,40}/ & /[^ ]+( [^ ]+){0,3}/ & ~/(?s:.*)the(?s:.*)/"
    reply = await client.chat.completions.create(
        **{
            **GREEDY,
            "messages": [{"role": "user", "content": "Describe the sea in a few words."}],
            "max_tokens": 24,
            "extra_body": {"structured_outputs": {"grammar": grammar}},
        }
    )
    text = reply.choices[0].message.content or ""
    assert re.fullmatch("[a-z ]{1,40}", text) and re.fullmatch("[^ ]+( [^ ]+){0,3}", text), text
    assert "the" not in text


async def test_vllm_refusals_are_4xx_in_the_openai_envelope(
    client: openai.AsyncOpenAI, vllm_gateway: ServedGateway
) -> None:
    too_long = {**GREEDY, "max_tokens": 4000}  # vLLM serves 2048 tokens of context here
    with pytest.raises(openai.BadRequestError) as refused:
        await client.chat.completions.create(**too_long)
    assert refused.value.status_code == 400
    assert refused.value.param == "max_tokens"
    assert "max_model_len" in refused.value.message
    with pytest.raises(openai.BadRequestError):  # refused before the first chunk: a plain 400
        await client.chat.completions.create(**too_long, stream=True)
    async with vllm_gateway.http() as http:
        raw = await http.post("/v1/chat/completions", json=too_long)
    assert raw.status_code == 400
    error = raw.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"  # vLLM says "BadRequestError"
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(**{**GREEDY, "model": "no-such-adapter"})


async def running(vllm_server: VllmServer) -> float:
    """Requests vLLM is generating right now (its Prometheus gauge).

    The timeout is generous: while vLLM generates on both of a small machine's cores, its API
    server can take longer than httpx's default 5 s to accept a connection (seen in CI)."""
    async with httpx.AsyncClient(timeout=60.0) as http:
        metrics = (await http.get(f"{vllm_server.origin}/metrics")).text
    found = re.search(r"^vllm:num_requests_running\{[^}]*\} (\S+)$", metrics, re.M)
    assert found, "vLLM's metrics have no num_requests_running"
    return float(found.group(1))


async def until_idle(vllm_server: VllmServer, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while await running(vllm_server) > 0:
        assert time.monotonic() < deadline, "vLLM kept generating for a client that left"
        await asyncio.sleep(0.1)


LONG: dict[str, Any] = {**GREEDY, "max_tokens": 1500, "extra_body": {"ignore_eos": True}}  # ~40 s of work


async def test_a_client_leaving_a_stream_aborts_the_vllm_request(
    client: openai.AsyncOpenAI, vllm_server: VllmServer
) -> None:
    await until_idle(vllm_server)
    stream = await client.chat.completions.create(**LONG, stream=True)
    received = 0
    async for _ in stream:
        received += 1
        if received == 5:
            break
    assert await running(vllm_server) == 1
    await stream.close()
    await until_idle(vllm_server)


async def test_a_client_giving_up_on_a_whole_reply_aborts_the_vllm_request(
    vllm_gateway: ServedGateway, vllm_server: VllmServer
) -> None:
    await until_idle(vllm_server)
    async with vllm_gateway.client(timeout=2.0) as impatient:
        with pytest.raises(openai.APITimeoutError):
            await impatient.chat.completions.create(**LONG)
    await until_idle(vllm_server)


async def test_health_reports_the_vllm_backend(vllm_gateway: ServedGateway) -> None:
    async with httpx.AsyncClient(base_url=vllm_gateway.base_url) as http:
        health = (await http.get("/health")).json()
    (backend,) = health["backends"]
    assert backend["name"] == "vllm" and backend["kind"] == "vllm"
    assert backend["healthy"] is True and DEFAULT_MODEL in backend["models"]
