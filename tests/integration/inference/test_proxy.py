"""The ``openai`` backend proxies to a real OpenAI-compatible upstream: a second gateway.

The upstream is the module's local-backend gateway; the proxy is another gateway whose only
backend points at it, with the upstream's key in its settings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from skill_adapter.runtime.nats_server import EmbeddedNats, free_port
from tests.integration.inference.conftest import SLOW, TINY, ServedGateway, gateway_settings, serve, stop

pytestmark = pytest.mark.integration

HELLO = [{"role": "user", "content": "Say hello."}]


def proxy_backend(upstream: ServedGateway, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "openai",
        "name": "upstream",
        "base_url": f"{upstream.base_url}/v1",
        "api_key": upstream.token,
        **extra,
    }


@pytest.fixture(scope="module")
def proxy(
    tmp_path_factory: pytest.TempPathFactory, nats_server: EmbeddedNats, gateway: ServedGateway
) -> Iterator[ServedGateway]:
    settings = gateway_settings(
        tmp_path_factory.mktemp("proxy"), nats_server.url, backends=[proxy_backend(gateway)]
    )
    served = serve(settings, wait_for_models=(TINY, SLOW))
    yield served
    stop(served)


async def test_models_come_from_the_upstream(proxy: ServedGateway, gateway: ServedGateway) -> None:
    through = {m.id: m for m in (await proxy.client().models.list()).data}
    direct = {m.id: m for m in (await gateway.client().models.list()).data}
    assert through == direct
    assert (await proxy.client().models.retrieve(TINY)) == direct[TINY]


async def test_chat_through_the_proxy_matches_the_upstream(
    proxy: ServedGateway, gateway: ServedGateway
) -> None:
    params: dict[str, Any] = {"model": TINY, "messages": HELLO, "max_tokens": 20, "temperature": 0}
    direct = await gateway.client().chat.completions.create(**params)
    through = await proxy.client().chat.completions.create(**params)
    assert through.choices[0].message.content == direct.choices[0].message.content
    assert through.usage == direct.usage

    stream = await proxy.client().chat.completions.create(
        **params, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == direct.choices[0].message.content
    )
    assert chunks[-1].choices == [] and chunks[-1].usage == direct.usage


async def test_the_stream_is_relayed_as_server_sent_events(proxy: ServedGateway) -> None:
    body = {"model": TINY, "messages": HELLO, "max_tokens": 5, "stream": True}
    async with proxy.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = (await response.aread()).decode()
    events = [block for block in raw.split("\n\n") if block]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"


async def test_completions_through_the_proxy(proxy: ServedGateway, gateway: ServedGateway) -> None:
    params: dict[str, Any] = {"model": TINY, "prompt": "Once", "max_tokens": 6, "temperature": 0}
    direct = await gateway.client().completions.create(**params)
    through = await proxy.client().completions.create(**params)
    assert through.choices[0].text == direct.choices[0].text
    stream = await proxy.client().completions.create(**params, stream=True)
    assert "".join([c.choices[0].text async for c in stream if c.choices]) == direct.choices[0].text


async def test_upstream_refusals_keep_their_status_and_details(proxy: ServedGateway) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await proxy.client().chat.completions.create(model=TINY, messages=HELLO, max_tokens=10**7)
    assert raised.value.param == "max_tokens" and raised.value.code == "invalid_value"
    with pytest.raises(openai.BadRequestError) as refused:
        await proxy.client().chat.completions.create(model=TINY, messages=HELLO, logprobs=True)
    assert refused.value.code == "unsupported_parameter"
    with pytest.raises(openai.NotFoundError):
        await proxy.client().chat.completions.create(model="nobody-serves-this", messages=HELLO)


async def test_a_client_leaving_the_proxy_stops_the_upstream(
    proxy: ServedGateway, gateway: ServedGateway
) -> None:
    stats = gateway.local().stats
    cancelled = stats.cancelled
    stream = await proxy.client().chat.completions.create(  # type: ignore[call-overload]
        model=SLOW, messages=HELLO, max_tokens=2000, stream=True, extra_body={"ignore_eos": True}
    )
    received = 0
    async for _ in stream:
        received += 1
        if received == 5:
            break
    await stream.close()
    deadline = time.monotonic() + 20
    while stats.cancelled == cancelled:
        assert time.monotonic() < deadline, "the upstream kept generating"
        await asyncio.sleep(0.05)


@pytest.fixture
def broken_proxy(
    tmp_path_factory: pytest.TempPathFactory, nats_server: EmbeddedNats, gateway: ServedGateway
) -> Iterator[ServedGateway]:
    """One backend with a wrong key to a live upstream, one pointing at nothing."""
    backends = [
        proxy_backend(gateway, name="wrong-key", api_key="sa-000000000000_" + "x" * 43, models=["guarded"]),
        {
            "kind": "openai",
            "name": "nowhere",
            "base_url": f"http://127.0.0.1:{free_port()}/v1",
            "models": ["ghost"],
            "connect_timeout": 1,
        },
    ]
    settings = gateway_settings(tmp_path_factory.mktemp("broken"), nats_server.url, backends=backends)
    served = serve(settings, wait_for_models=("guarded", "ghost"))
    yield served
    stop(served)


async def test_upstream_failures_are_502_and_show_in_health(broken_proxy: ServedGateway) -> None:
    client = broken_proxy.client()
    with pytest.raises(openai.APIStatusError) as unreachable:
        await client.chat.completions.create(model="ghost", messages=HELLO)
    assert unreachable.value.status_code == 502
    assert "cannot be reached" in unreachable.value.message
    with pytest.raises(openai.APIStatusError) as refused:
        await client.chat.completions.create(model="guarded", messages=HELLO)
    assert refused.value.status_code == 502
    assert "refused the gateway's credentials" in refused.value.message
    async with httpx.AsyncClient(base_url=broken_proxy.base_url) as http:
        health = (await http.get("/health")).json()
    assert health["status"] == "ok"  # the gateway itself is fine
    assert {b["name"]: b["healthy"] for b in health["backends"]} == {"wrong-key": False, "nowhere": False}
