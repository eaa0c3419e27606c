"""``python -m skill_adapter.gateway`` as a process: embedded NATS, real HTTP, clean Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from skill_adapter.gateway.keys import create_key
from skill_adapter.gateway.settings import GatewaySettings
from skill_adapter.runtime.nats_server import free_port
from tests.unit.gateway.builders import skill_md

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def wait_healthy(base: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the gateway exited during start-up"
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the gateway was not healthy within {timeout}s")


def test_the_gateway_serves_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    token = create_key(GatewaySettings(database_url=database_url, state_dir=tmp_path), "e2e", ["admin"]).token
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")},
        "SKILL_ADAPTER_STATE_DIR": str(tmp_path),
        "SKILL_ADAPTER_DATABASE_URL": database_url,
        "SKILL_ADAPTER_PORT": str(port),
        "SKILL_ADAPTER_LOG_FORMAT": "json",
        "SKILL_ADAPTER_BACKENDS": "[]",  # no model to load: serving is tested in tests/integration/inference
    }
    log = (tmp_path / "gateway.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "skill_adapter.gateway"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            uploaded = client.post(
                "/v1/skills", files={"file": ("e2e-skill/SKILL.md", skill_md("e2e-skill"))}
            )
            assert uploaded.status_code == 202, uploaded.text
            assert client.get("/v1/skills").json()["object"] == "list"
            assert client.get("/schema/openapi.json").status_code == 200
        server_info = json.loads((tmp_path / "nats" / "server.json").read_text())
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
    output = (tmp_path / "gateway.log").read_text()
    assert code == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert not (tmp_path / "nats" / "server.json").exists()  # the embedded nats-server stopped too
    with pytest.raises(ProcessLookupError):
        os.kill(int(server_info["pid"]), 0)
