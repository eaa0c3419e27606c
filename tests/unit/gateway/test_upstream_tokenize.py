"""``/tokenize`` through an upstream backend: vLLM's answer relayed, others refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from skill_adapter.contracts.openai import TokenizeRequest
from skill_adapter.gateway.errors import UpstreamError
from skill_adapter.gateway.inference.upstream import OpenAIBackend
from skill_adapter.gateway.settings import OpenAIBackendConfig
from tests.support.fake_http import Serve

pytestmark = pytest.mark.unit

REQUEST = TokenizeRequest(
    model="base", messages=[{"role": "user", "content": "hi"}], add_generation_prompt=False
)


async def upstream(
    serve: Serve, kind: str, answer: httpx.Response, seen: list[httpx.Request]
) -> OpenAIBackend:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    url = await serve(handle)
    config = OpenAIBackendConfig(kind=kind, base_url=f"{url}/v1", api_key="k")  # type: ignore[arg-type]
    return serve.track(OpenAIBackend(config, f"{kind}-0", Path("/adapters")))


async def test_vllm_counts_are_relayed_from_its_root_route(serve: Serve) -> None:
    seen: list[httpx.Request] = []
    answer = httpx.Response(200, json={"count": 7, "max_model_len": 2048, "tokens": [1, 2, 3, 4, 5, 6, 7]})
    counted = await (await upstream(serve, "vllm", answer, seen)).tokenize(REQUEST)
    assert (counted.count, counted.max_model_len, counted.tokens) == (7, 2048, [])
    assert seen[0].url.path == "/tokenize"
    body = json.loads(seen[0].content)
    assert body["add_generation_prompt"] is False and "return_tokens" not in body


async def test_an_upstream_without_tokenize_is_a_clear_400(serve: Serve) -> None:
    with pytest.raises(UpstreamError) as refused:
        await (
            await upstream(serve, "openai", httpx.Response(404, json={"detail": "Not Found"}), [])
        ).tokenize(REQUEST)
    assert refused.value.status_code == 400 and "cannot count tokens" in refused.value.message


async def test_a_malformed_answer_is_a_502(serve: Serve) -> None:
    with pytest.raises(UpstreamError) as failed:
        await (await upstream(serve, "vllm", httpx.Response(200, json={"tokens": "?"}), [])).tokenize(REQUEST)
    assert failed.value.status_code == 502
