"""Adapters are promoted and retired by events; /v1/models follows within a second."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import openai
import pytest
from nats.js import JetStreamContext

from skill_adapter.contracts import AdapterPromoted, AdapterRegistered, AdapterRetired
from skill_adapter.runtime import Publisher
from tests.integration.inference.conftest import TINY, ServedGateway, make_adapter

pytestmark = pytest.mark.integration

HELLO = [{"role": "user", "content": "Reply in the adapted way."}]


async def model_ids(client: openai.AsyncOpenAI) -> set[str]:
    return {model.id for model in (await client.models.list()).data}


async def seconds_until(
    client: openai.AsyncOpenAI, present: bool, model_id: str, timeout: float = 10
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if (model_id in await model_ids(client)) == present:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"{model_id} {'never appeared' if present else 'never went away'} in {timeout}s")


async def greedy(client: openai.AsyncOpenAI, model: str) -> str:
    reply = await client.chat.completions.create(  # type: ignore[call-overload]
        model=model, messages=HELLO, max_tokens=24, temperature=0, extra_body={"ignore_eos": True}
    )
    return reply.choices[0].message.content or ""


async def test_an_adapter_is_served_from_promotion_until_retirement(
    gateway: ServedGateway,
    client: openai.AsyncOpenAI,
    js: JetStreamContext,
    tiny_model_path: Path,
    unique: str,
) -> None:
    adapter_id = f"json-reply.v1-{unique}"  # dots are fine in ids (PEFT names are derived)
    folder = gateway.settings.resolved_adapters_dir() / adapter_id
    await asyncio.to_thread(make_adapter, tiny_model_path, folder)
    publisher = Publisher(js)
    base_before = await greedy(client, TINY)

    await publisher.publish(
        AdapterRegistered(
            correlation_id=adapter_id,
            producer="tests",
            adapter_id=adapter_id,
            base_model=TINY,
            skill_name="json-reply",
            skill_version="0" * 64,
            object_name=f"{adapter_id}.zip",
            digest="0" * 64,
            rank=8,
        )
    )
    await publisher.publish(
        AdapterPromoted(
            correlation_id=adapter_id,
            producer="tests",
            adapter_id=adapter_id,
            skill_name="json-reply",
            run_id="run-1",
        )
    )
    assert await seconds_until(client, True, adapter_id) < 1.0

    card = await client.models.retrieve(adapter_id)
    assert card.model_extra is not None
    assert card.model_extra["parent"] == TINY
    assert card.model_extra["root"] == str(folder.resolve())

    adapted = await greedy(client, adapter_id)
    assert adapted != base_before  # the adapter's weights change the reply
    assert await greedy(client, TINY) == base_before  # the base is untouched by the adapter
    assert await greedy(client, adapter_id) == adapted
    stream = await client.chat.completions.create(  # type: ignore[call-overload]
        model=adapter_id,
        messages=HELLO,
        max_tokens=24,
        temperature=0,
        extra_body={"ignore_eos": True},
        stream=True,
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == adapted

    await publisher.publish(
        AdapterRetired(
            correlation_id=adapter_id, producer="tests", adapter_id=adapter_id, skill_name="json-reply"
        )
    )
    assert await seconds_until(client, False, adapter_id) < 1.0
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model=adapter_id, messages=HELLO)  # type: ignore[arg-type]
    assert await greedy(client, TINY) == base_before


async def test_two_adapters_on_one_base_do_not_mix(
    gateway: ServedGateway,
    client: openai.AsyncOpenAI,
    js: JetStreamContext,
    tiny_model_path: Path,
    unique: str,
) -> None:
    """Concurrent requests for different adapters each get their own adapter's reply."""
    ids = [f"first-{unique}", f"second-{unique}"]
    for seed, adapter_id in enumerate(ids, start=2):
        await asyncio.to_thread(
            make_adapter, tiny_model_path, gateway.settings.resolved_adapters_dir() / adapter_id, seed=seed
        )
        # no AdapterRegistered: the base comes from the adapter's own adapter_config.json
        await Publisher(js).publish(
            AdapterPromoted(
                correlation_id=adapter_id, producer="tests", adapter_id=adapter_id, skill_name="s", run_id="r"
            )
        )
    for adapter_id in ids:
        await seconds_until(client, True, adapter_id)
    alone = {model: await greedy(client, model) for model in [*ids, TINY]}
    assert len(set(alone.values())) == 3
    together = await asyncio.gather(*(greedy(client, model) for model in [*ids, TINY] * 3))
    assert together == [alone[model] for model in [*ids, TINY] * 3]
    for adapter_id in ids:
        await Publisher(js).publish(
            AdapterRetired(correlation_id=adapter_id, producer="tests", adapter_id=adapter_id, skill_name="s")
        )
    for adapter_id in ids:
        await seconds_until(client, False, adapter_id)


async def test_a_promoted_adapter_whose_files_are_missing_is_not_served_until_they_appear(
    gateway: ServedGateway,
    client: openai.AsyncOpenAI,
    js: JetStreamContext,
    tiny_model_path: Path,
    unique: str,
) -> None:
    adapter_id = f"late-{unique}"
    await Publisher(js).publish(
        AdapterPromoted(
            correlation_id=adapter_id, producer="tests", adapter_id=adapter_id, skill_name="s", run_id="r"
        )
    )
    await asyncio.sleep(1.0)
    assert adapter_id not in await model_ids(client)
    await asyncio.to_thread(
        make_adapter, tiny_model_path, gateway.settings.resolved_adapters_dir() / adapter_id
    )
    await seconds_until(client, True, adapter_id, timeout=15)  # retried with backoff
    await Publisher(js).publish(
        AdapterRetired(correlation_id=adapter_id, producer="tests", adapter_id=adapter_id, skill_name="s")
    )
    await seconds_until(client, False, adapter_id)
