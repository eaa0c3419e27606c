"""The real SmolLM2-135M-Instruct (the embedded default), base and adapter, streamed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from skill_adapter.contracts import AdapterPromoted
from skill_adapter.modelstore import DEFAULT_MODEL, ModelInfo
from skill_adapter.runtime import Publisher
from skill_adapter.runtime.nats_server import EmbeddedNats
from tests.integration.inference.conftest import ServedGateway, gateway_settings, make_adapter, serve, stop

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


@pytest.fixture(scope="module")
def smol_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    nats_server: EmbeddedNats,
    smollm2: ModelInfo,
    smollm2_cache_dir: Path,
) -> Iterator[ServedGateway]:
    settings = gateway_settings(
        tmp_path_factory.mktemp("smol"),
        nats_server.url,
        backends=[{"kind": "local"}],  # the default model
        model_cache_dir=smollm2_cache_dir,
    )
    served = serve(settings, wait_for_models=(DEFAULT_MODEL,), timeout=300)
    yield served
    stop(served)


async def test_smollm2_answers_and_streams_the_same_reply(smol_gateway: ServedGateway) -> None:
    client = smol_gateway.client()
    whole = await client.chat.completions.create(
        model=DEFAULT_MODEL, messages=QUESTION, max_tokens=16, temperature=0
    )  # type: ignore[arg-type]
    text = whole.choices[0].message.content or ""
    assert "paris" in text.lower()
    stream = await client.chat.completions.create(  # type: ignore[call-overload]
        model=DEFAULT_MODEL, messages=QUESTION, max_tokens=16, temperature=0, stream=True
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == text
    assert whole.choices[0].finish_reason == "stop"  # SmolLM2 ends its turn with <|im_end|>


async def test_an_adapter_on_smollm2_streams_through_the_official_client(
    smol_gateway: ServedGateway, smollm2: ModelInfo, js: JetStreamContext, unique: str
) -> None:
    adapter_id = f"smol-adapter-{unique}"
    await asyncio.to_thread(
        make_adapter, smollm2.path, smol_gateway.settings.resolved_adapters_dir() / adapter_id, rank=8
    )
    await Publisher(js).publish(
        AdapterPromoted(
            correlation_id=adapter_id, producer="tests", adapter_id=adapter_id, skill_name="s", run_id="r"
        )
    )
    client = smol_gateway.client()
    for _ in range(100):
        if adapter_id in {m.id for m in (await client.models.list()).data}:
            break
        await asyncio.sleep(0.1)
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
    base = await client.chat.completions.create(
        model=DEFAULT_MODEL, messages=QUESTION, max_tokens=12, temperature=0
    )  # type: ignore[arg-type]
    assert adapted != base.choices[0].message.content
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 12
