"""Real gateways over HTTP for the inference plane: uvicorn on a free port, in a thread.

The gateway runs in its own thread and event loop, as it would in its own process, so a test
talks to it only through HTTP (the official ``openai`` client) and NATS, and can still read
its engine's counters. Models are tiny random Llamas from the model store (fast); one test
uses the real SmolLM2 where the model store provides it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn

from skill_adapter.gateway.app import create_app
from skill_adapter.gateway.inference.local import LocalBackend
from skill_adapter.gateway.keys import create_key
from skill_adapter.gateway.settings import GatewaySettings
from skill_adapter.gateway.state import GatewayState
from skill_adapter.runtime.nats_server import EmbeddedNats, free_port
from tests.integration.modelstore.fixtures import smollm2, smollm2_cache_dir

__all__ = ["smollm2", "smollm2_cache_dir"]  # the real model, converted once per session

pytest.importorskip("torch", reason="the local engine needs torch (the local extra)")
pytest.importorskip("peft", reason="adapters need peft (the local extra)")

TINY = "tiny"
SLOW = "tiny-slow"


@dataclass
class ServedGateway:
    """A gateway serving HTTP on ``base_url``, with an admin ``token``."""

    settings: GatewaySettings
    base_url: str
    token: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def state(self) -> GatewayState:
        return self.server.config.app.state.gateway  # type: ignore[no-any-return, union-attr]

    def local(self, index: int = 0) -> LocalBackend:
        backend = self.state.inference.router.backends[index]
        assert isinstance(backend, LocalBackend)
        return backend

    def client(self, token: str | None = None, **options: Any) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{self.base_url}/v1", api_key=token or self.token, max_retries=0, **options
        )

    def http(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=60)

    def key(self, *scopes: str) -> str:
        """A new key (``create_key`` is synchronous: call it from sync code or a thread)."""
        return create_key(self.settings, "tests", list(scopes or ("admin",))).token


def serve(
    settings: GatewaySettings, *, wait_for_models: tuple[str, ...] = (), timeout: float = 120
) -> ServedGateway:
    """Start a gateway in a thread; return once it answers and lists ``wait_for_models``."""
    token = create_key(settings, "tests", ["admin"]).token
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=settings.port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name="gateway", daemon=True)
    thread.start()
    gateway = ServedGateway(settings, f"http://127.0.0.1:{settings.port}", token, server, thread)
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < deadline:
        assert thread.is_alive(), "the gateway stopped during start-up"
        try:
            listed = httpx.get(f"{gateway.base_url}/v1/models", headers=headers, timeout=5)
            if listed.status_code == 200 and set(wait_for_models) <= {m["id"] for m in listed.json()["data"]}:
                return gateway
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop(gateway)
    raise AssertionError(f"the gateway did not serve {wait_for_models} within {timeout}s")


def stop(gateway: ServedGateway) -> None:
    gateway.server.should_exit = True
    gateway.thread.join(timeout=60)
    assert not gateway.thread.is_alive(), "the gateway did not stop"


def gateway_settings(root: Path, nats_url: str, **overrides: Any) -> GatewaySettings:
    root.mkdir(parents=True, exist_ok=True)
    fields: dict[str, Any] = {
        "nats_url": nats_url,
        "database_url": f"sqlite+aiosqlite:///{root / 'gateway.db'}",
        "state_dir": root,
        "embedded_nats": False,
        "key_touch_interval": 0,
        "graceful_timeout": 5,
        "port": free_port(),
        **overrides,
    }
    return GatewaySettings(**fields)


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skill_adapter.modelstore import tiny_random_model

    return tiny_random_model(tmp_path_factory.mktemp("models") / TINY).path


@pytest.fixture(scope="session")
def slow_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bigger random model: slow enough per token to disconnect in the middle of a reply."""
    from skill_adapter.modelstore import tiny_random_model

    return tiny_random_model(
        tmp_path_factory.mktemp("models") / SLOW, hidden_size=512, layers=8, heads=8
    ).path


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    nats_server: EmbeddedNats,
    tiny_model_path: Path,
    slow_model_path: Path,
) -> Iterator[ServedGateway]:
    """One local-backend gateway per test module: ``tiny`` and ``tiny-slow``."""
    root = tmp_path_factory.mktemp("gateway")
    settings = gateway_settings(
        root,
        nats_server.url,
        backends=[
            {
                "kind": "local",
                "models": [
                    {"id": TINY, "source": str(tiny_model_path)},
                    {"id": SLOW, "source": str(slow_model_path)},
                ],
            }
        ],
        max_request_bytes=1024 * 1024,
        max_upload_bytes=1024 * 1024,
        max_concurrent_generations=2,
    )
    served = serve(settings, wait_for_models=(TINY, SLOW))
    yield served
    stop(served)


@pytest.fixture
def client(gateway: ServedGateway) -> openai.AsyncOpenAI:
    return gateway.client()


def make_adapter(base: Path, target: Path, *, seed: int = 1, rank: int = 8) -> Path:
    """A real PEFT LoRA adapter on ``base`` with non-zero weights (its replies differ)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True)
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        init_lora_weights=False,  # random A and B: the adapter changes the output
        task_type="CAUSAL_LM",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        peft_model = get_peft_model(model, config)
        with torch.no_grad():
            for name, parameter in peft_model.named_parameters():
                if "lora_B" in name:
                    parameter.normal_(0, 0.5)
    peft_model.save_pretrained(target)
    return target
