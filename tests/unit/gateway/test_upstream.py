"""The openai/vllm backends against a fake vLLM server (served on loopback, real HTTP)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from skill_adapter.contracts.openai import ChatCompletionRequest
from skill_adapter.gateway.errors import ModelNotFound, UpstreamError
from skill_adapter.gateway.inference.backend import AdapterSpec, Cancellation, RawJson
from skill_adapter.gateway.inference.upstream import OpenAIBackend, upstream_error
from skill_adapter.gateway.settings import OpenAIBackendConfig
from tests.support.fake_http import Serve

pytestmark = pytest.mark.unit

ADAPTERS = Path("/srv/adapters")


class FakeVllm:
    """What vLLM answers on the routes the gateway uses (runtime LoRA updating enabled)."""

    def __init__(self) -> None:
        self.loras: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []
        self.healthy = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append((request.method, path))
        body = json.loads(request.content) if request.content else {}
        if path == "/health":
            return httpx.Response(200 if self.healthy else 503)
        if path == "/v1/models":
            data = [
                {
                    "id": "base",
                    "object": "model",
                    "created": 1,
                    "owned_by": "vllm",
                    "root": "/models/base",
                    "parent": None,
                }
            ]
            data += [
                {
                    "id": name,
                    "object": "model",
                    "created": 2,
                    "owned_by": "vllm",
                    "root": path_,
                    "parent": "base",
                }
                for name, path_ in self.loras.items()
            ]
            return httpx.Response(200, json={"object": "list", "data": data})
        if path == "/v1/load_lora_adapter":
            if body["lora_name"] in self.loras:
                return httpx.Response(
                    400,
                    json={
                        "error": {
                            "message": f"The lora adapter '{body['lora_name']}' has already been loaded.",
                            "type": "InvalidUserInput",
                            "code": 400,
                        }
                    },
                )
            self.loras[body["lora_name"]] = body["lora_path"]
            return httpx.Response(
                200, text=f"Success: LoRA adapter '{body['lora_name']}' added successfully."
            )
        if path == "/v1/unload_lora_adapter":
            if self.loras.pop(body["lora_name"], None) is None:
                return httpx.Response(
                    404,
                    json={
                        "error": {
                            "message": f"The lora adapter '{body['lora_name']}' cannot be found.",
                            "type": "NotFoundError",
                            "code": 404,
                        }
                    },
                )
            return httpx.Response(200, text="Success")
        if path == "/v1/chat/completions":
            if body["model"] not in {"base", *self.loras}:
                return httpx.Response(
                    404,
                    json={
                        "error": {
                            "message": f"The model `{body['model']}` does not exist.",
                            "type": "NotFoundError",
                            "param": None,
                            "code": 404,
                        }
                    },
                )
            if body.get("max_tokens", 0) > 100:
                return httpx.Response(
                    400,
                    json={
                        "error": {
                            "message": "max_tokens too large",
                            "type": "BadRequestError",
                            "param": "max_tokens",
                            "code": 400,
                        }
                    },
                )
            if body.get("stream"):
                events = [
                    {"id": "c", "choices": [{"index": 0, "delta": {"content": word}}]} for word in ("a", "b")
                ]
                text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})
            return httpx.Response(200, json={"id": "c", "object": "chat.completion", "echo": body})
        return httpx.Response(404)


async def backend(serve: Serve, fake: FakeVllm, **config: Any) -> OpenAIBackend:
    """A vllm backend whose upstream is ``fake``, served on loopback."""
    url = await serve(fake)
    settings = OpenAIBackendConfig(kind="vllm", base_url=f"{url}/v1", api_key="k", **config)
    return serve.track(OpenAIBackend(settings, "vllm-0", ADAPTERS))


def spec(adapter_id: str, base: str | None = "base") -> AdapterSpec:
    return AdapterSpec(adapter_id=adapter_id, path=ADAPTERS / adapter_id, base_model=base, skill_name="s")


async def test_promoted_adapters_are_loaded_and_retired_ones_unloaded(serve: Serve) -> None:
    fake = FakeVllm()
    vllm = await backend(serve, fake, lora_root="/mnt/adapters")
    await vllm.start()
    assert [m.id for m in vllm.models()] == ["base"]

    await vllm.sync_adapters([spec("a1"), spec("a2"), spec("other", base="some-other-base")])
    assert fake.loras == {"a1": "/mnt/adapters/a1", "a2": "/mnt/adapters/a2"}  # as the server sees them
    assert {m.id: m.parent for m in vllm.models()} == {"base": None, "a1": "base", "a2": "base"}
    assert vllm.serves("a1") and not vllm.serves("other")

    await vllm.sync_adapters([spec("a2")])
    assert set(fake.loras) == {"a2"}
    calls = len(fake.calls)
    await vllm.sync_adapters([spec("a2")])
    assert [c for c in fake.calls[calls:] if "lora" in c[1]] == []  # nothing to do: no calls
    await vllm.aclose()


async def test_a_restarted_vllm_is_refilled_and_already_loaded_counts_as_loaded(serve: Serve) -> None:
    fake = FakeVllm()
    vllm = await backend(serve, fake)
    await vllm.start()
    await vllm.sync_adapters([spec("a1")])
    fake.loras.clear()  # vLLM restarted
    await vllm.refresh()
    await vllm.sync_adapters([spec("a1")])
    assert fake.loras == {"a1": str(ADAPTERS / "a1")}
    fresh = await backend(serve, fake)  # another replica: the adapter is already there
    await fresh.start()
    await fresh.sync_adapters([spec("a1")])
    assert (await fresh.health()).detail is None


async def test_a_plain_openai_upstream_gets_no_adapter_calls(serve: Serve) -> None:
    fake = FakeVllm()
    url = await serve(fake)
    plain = serve.track(
        OpenAIBackend(OpenAIBackendConfig(base_url=f"{url}/v1", models=["base"]), "openai-0", ADAPTERS)
    )
    await plain.start()
    await plain.sync_adapters([spec("a1")])
    assert fake.loras == {} and ("GET", "/health") not in fake.calls
    assert plain.kind == "openai" and not plain.claims(spec("a1"))


async def test_requests_pass_through_and_errors_keep_their_details(serve: Serve) -> None:
    vllm = await backend(serve, FakeVllm())
    await vllm.start()
    request = ChatCompletionRequest.model_validate(
        {
            "model": "base",
            "messages": [{"role": "user", "content": "x"}],
            "max_tokens": 5,
            "guided_choice": ["a", "b"],
        }
    )
    answer = await vllm.chat(request, Cancellation())
    assert isinstance(answer, RawJson)
    echoed = json.loads(answer.data)["echo"]
    assert echoed["guided_choice"] == ["a", "b"] and "temperature" not in echoed  # only what the client sent

    stream = await vllm.chat(request.model_copy(update={"stream": True}), Cancellation())
    assert [json.loads(c.data)["choices"][0]["delta"]["content"] async for c in stream] == ["a", "b"]  # type: ignore[union-attr]

    with pytest.raises(UpstreamError) as raised:
        await vllm.chat(request.model_copy(update={"max_tokens": 1000}), Cancellation())
    assert (raised.value.status_code, raised.value.param, raised.value.type) == (
        400,
        "max_tokens",
        "invalid_request_error",
    )
    with pytest.raises(ModelNotFound):
        await vllm.chat(request.model_copy(update={"model": "gone"}), Cancellation())


async def test_an_unhealthy_vllm_is_reported_and_left_alone(serve: Serve) -> None:
    fake = FakeVllm()
    fake.healthy = False
    vllm = await backend(serve, fake)
    await vllm.start()
    health = await vllm.health()
    assert not health.healthy and "503" in (health.detail or "")
    await vllm.sync_adapters([spec("a1")])
    assert fake.loras == {}


@pytest.mark.parametrize(
    ("status", "expected"),
    [(400, 400), (404, 404), (422, 422), (401, 502), (403, 502), (500, 502), (503, 502)],
)
def test_upstream_statuses_map_to_ours(status: int, expected: int) -> None:
    error = upstream_error(
        "up", status, b'{"error": {"message": "m", "type": "weird", "param": "p", "code": "c"}}'
    )
    assert error.status_code == expected
    assert error.type == ("invalid_request_error" if expected < 500 else "server_error")


def test_a_429_keeps_retry_after() -> None:
    error = upstream_error("up", 429, b"slow down", httpx.Headers({"retry-after": "7"}))
    assert (error.status_code, error.type, error.headers) == (429, "rate_limit_error", {"Retry-After": "7"})
    assert error.message == "slow down"
