"""The vllm backend's adapter bookkeeping and request lifetimes, against the fake vLLM.

What the tests against a real vLLM (``tests/integration/vllm``) found, pinned here without one:
leftovers from an earlier gateway are unloaded, a retired adapter is hidden even while its
unload fails, ``lora_root`` survives a symlinked adapters folder, and a client that gives up
on a whole (non-streamed) reply closes the upstream request.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from skill_adapter.contracts.openai import ChatCompletionRequest
from skill_adapter.gateway.errors import UpstreamError
from skill_adapter.gateway.inference import upstream
from skill_adapter.gateway.inference.backend import AdapterSpec, Cancellation
from skill_adapter.gateway.inference.upstream import OpenAIBackend
from skill_adapter.gateway.settings import OpenAIBackendConfig
from tests.support.fake_http import Serve
from tests.unit.gateway.test_upstream import ADAPTERS, FakeVllm, backend, spec

pytestmark = pytest.mark.unit


async def test_adapters_left_in_vllm_from_our_folder_follow_the_registry(serve: Serve) -> None:
    fake = FakeVllm()
    fake.loras = {
        "retired-meanwhile": "/mnt/adapters/retired-meanwhile",  # an earlier gateway loaded it
        "still-promoted": "/mnt/adapters/still-promoted",
        "operators-own": "/opt/loras/operators-own",  # --lora-modules: not ours to unload
    }
    vllm = await backend(serve, fake, lora_root="/mnt/adapters")
    await vllm.start()
    await vllm.sync_adapters([spec("still-promoted")])
    assert set(fake.loras) == {"still-promoted", "operators-own"}
    assert {m.id for m in vllm.models()} == {"base", "still-promoted", "operators-own"}
    assert (await vllm.health()).detail is None


class BusyVllm(FakeVllm):
    """A fake vLLM that can refuse unloads for a while."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse_unloads = False
        self.unload_attempts = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/unload_lora_adapter":
            self.unload_attempts += 1
            if self.refuse_unloads:
                return httpx.Response(500, text="engine busy")
        return super().__call__(request)


async def test_a_retired_adapter_is_hidden_while_its_unload_is_retried(
    monkeypatch: pytest.MonkeyPatch,
    serve: Serve,
) -> None:
    fake = BusyVllm()
    vllm = await backend(serve, fake)
    await vllm.start()
    await vllm.sync_adapters([spec("a1")])
    assert vllm.serves("a1")

    fake.refuse_unloads = True
    await vllm.sync_adapters([])
    assert "a1" in fake.loras  # still loaded upstream...
    assert not vllm.serves("a1") and "a1" not in {m.id for m in vllm.models()}  # ...but not served
    assert "engine busy" in ((await vllm.health()).detail or "")
    await vllm.sync_adapters([])  # backing off: no second attempt at once
    assert fake.unload_attempts == 1

    fake.refuse_unloads = False
    later = time.monotonic() + 10
    monkeypatch.setattr(upstream.time, "monotonic", lambda: later)  # the backoff is over
    await vllm.sync_adapters([])
    assert fake.unload_attempts == 2
    assert "a1" not in fake.loras and (await vllm.health()).detail is None


async def test_an_unload_of_an_adapter_vllm_no_longer_has_counts_as_done(serve: Serve) -> None:
    fake = FakeVllm()
    vllm = await backend(serve, fake)
    await vllm.start()
    await vllm.sync_adapters([spec("a1")])
    fake.loras.clear()  # vLLM lost it (restarted) before the gateway noticed
    await vllm.sync_adapters([])  # vLLM answers 404 "cannot be found": what we wanted
    assert (await vllm.health()).detail is None
    await vllm.sync_adapters([spec("a1")])  # promoted again: loaded again, at once
    assert "a1" in fake.loras


def test_lora_root_applies_to_a_symlinked_adapters_folder(tmp_path: Path) -> None:
    real = tmp_path / "volume"
    (real / "a1").mkdir(parents=True)
    link = tmp_path / "adapters"
    link.symlink_to(real, target_is_directory=True)
    config = OpenAIBackendConfig(kind="vllm", base_url="http://vllm:8000/v1", lora_root="/mnt/adapters")
    vllm = OpenAIBackend(config, "vllm-0", link)
    resolved = AdapterSpec(adapter_id="a1", path=(link / "a1").resolve())  # what the registry gives
    assert vllm.lora_path(resolved) == "/mnt/adapters/a1"
    assert vllm.lora_path(AdapterSpec(adapter_id="x", path=Path("/elsewhere/x"))) == "/elsewhere/x"


async def test_a_client_giving_up_on_a_whole_reply_closes_the_upstream_request(serve: Serve) -> None:
    closed = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/chat/completions":
            try:
                await asyncio.sleep(30)
            finally:  # the server cancels the handler when the connection closes
                closed.set()
        return FakeVllm()(request)

    url = await serve(slow)
    config = OpenAIBackendConfig(kind="vllm", base_url=f"{url}/v1")
    vllm = serve.track(OpenAIBackend(config, "vllm-0", ADAPTERS))
    await vllm.start()
    request = ChatCompletionRequest.model_validate(
        {"model": "base", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5}
    )
    cancel = Cancellation()
    asyncio.get_running_loop().call_later(0.2, cancel.cancel)
    started = time.monotonic()
    with pytest.raises(UpstreamError) as raised:
        await vllm.chat(request, cancel)
    assert time.monotonic() - started < 5
    assert raised.value.code == "client_closed_request"
    await asyncio.wait_for(closed.wait(), 5)
    await vllm.aclose()
