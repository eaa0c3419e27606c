"""Requests per minute per key: 429 in the envelope with Retry-After, per key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import pytest

from skill_adapter.runtime.nats_server import EmbeddedNats
from tests.integration.inference.conftest import ServedGateway, gateway_settings, serve, stop

pytestmark = pytest.mark.integration


@pytest.fixture
def limited(tmp_path_factory: pytest.TempPathFactory, nats_server: EmbeddedNats) -> Iterator[ServedGateway]:
    settings = gateway_settings(
        tmp_path_factory.mktemp("limited"), nats_server.url, backends=[], rate_limit_rpm=3
    )
    served = serve(settings)
    yield served
    stop(served)


async def test_a_key_over_its_rate_is_429_with_retry_after(limited: ServedGateway) -> None:
    token = await asyncio.to_thread(limited.key, "models:use")
    async with limited.http(token) as http:
        answers = [await http.get("/v1/models") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["2", "1", "0"]
        assert answers[0].headers["x-ratelimit-limit-requests"] == "3"
        refused = await http.get("/v1/models")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    assert refused.json() == {
        "error": {
            "message": refused.json()["error"]["message"],
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert "limit 3 per minute" in refused.json()["error"]["message"]

    with pytest.raises(openai.RateLimitError) as raised:
        await limited.client(token).models.list()
    assert raised.value.response.headers["retry-after"]

    other = await asyncio.to_thread(limited.key, "models:use")
    assert (await limited.client(other).models.list()).object == "list"  # buckets are per key


async def test_health_is_never_rate_limited(limited: ServedGateway) -> None:
    async with limited.http() as http:
        assert all([(await http.get("/health")).status_code == 200 for _ in range(6)])
