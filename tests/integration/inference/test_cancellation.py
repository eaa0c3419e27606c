"""A client that goes away stops the generation it asked for."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest

from tests.integration.inference.conftest import SLOW, ServedGateway

pytestmark = pytest.mark.integration

LONG = {
    "model": SLOW,
    "messages": [{"role": "user", "content": "Talk."}],
    "max_tokens": 2000,
    "temperature": 1.0,
}


async def settled(gateway: ServedGateway, cancelled_before: int) -> int:
    """Generated tokens once the cancelled generation has stopped."""
    stats = gateway.local().stats
    deadline = time.monotonic() + 20
    while stats.cancelled == cancelled_before or stats.running:
        assert time.monotonic() < deadline, "the generation was not cancelled"
        await asyncio.sleep(0.05)
    return stats.generated_tokens


async def test_closing_a_stream_stops_generation(gateway: ServedGateway, client: openai.AsyncOpenAI) -> None:
    stats = gateway.local().stats
    cancelled, tokens_before = stats.cancelled, stats.generated_tokens
    stream = await client.chat.completions.create(**LONG, stream=True, extra_body={"ignore_eos": True})  # type: ignore[call-overload]
    received = 0
    async for chunk in stream:
        received += bool(chunk.choices and chunk.choices[0].delta.content)
        if received == 5:
            break
    await stream.close()
    after_cancel = await settled(gateway, cancelled)
    generated = after_cancel - tokens_before
    assert 5 <= generated < 1000, generated
    await asyncio.sleep(0.5)
    assert stats.generated_tokens == after_cancel  # nothing more is generated


async def test_abandoning_a_non_streamed_request_stops_generation(gateway: ServedGateway) -> None:
    stats = gateway.local().stats
    cancelled, tokens_before = stats.cancelled, stats.generated_tokens
    async with gateway.http() as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/v1/chat/completions", json={**LONG, "ignore_eos": True}, timeout=1.0)
    generated = await settled(gateway, cancelled) - tokens_before
    assert 0 < generated < 1000, generated


async def test_the_model_serves_the_next_request_after_a_cancellation(client: openai.AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(model=SLOW, messages=LONG["messages"], max_tokens=3)  # type: ignore[arg-type]
    assert reply.usage is not None and reply.usage.completion_tokens <= 3
