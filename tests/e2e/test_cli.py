"""The command line as a user runs it: separate processes, a fresh state directory."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest

from skill_adapter.runtime import Publisher
from skill_adapter.runtime.nats_server import running_embedded
from tests.support.helpers import eventually, ingest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "skill_adapter.cli"]


def cli_env(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    # no inference backend: these tests are about processes and streams, not about a model
    env.update(
        SKILL_ADAPTER_STATE_DIR=str(state),
        PROBE_MARKERS=str(state),
        COLUMNS="200",
        SKILL_ADAPTER_BACKENDS="[]",
    )
    return env


def run_cli(state: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=ROOT, env=cli_env(state), capture_output=True, text=True, timeout=timeout
    )


async def test_up_runs_nats_and_services_then_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    up = subprocess.Popen(
        [*CLI, "up", "--with", "probe=tests.support.probe_service"],
        cwd=ROOT,
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        async def ready() -> dict | None:
            result = run_cli(tmp_path, "status", "--json")
            if result.returncode != 0:
                return None
            report = json.loads(result.stdout)
            consumers = {c["durable"]: c for s in report["streams"] for c in s["consumers"]}
            return report if consumers.get("probe_probe", {}).get("waiting") else None

        report = await eventually(ready, timeout=60, interval=0.5, what="the probe service to consume")
        assert {s["name"] for s in report["streams"] if s["exists"]} >= {
            "SKILLS",
            "DATASETS",
            "TRAINING",
            "EVALUATION",
            "SERVING",
            "DEADLETTER",
            "ADVISORIES",
        }
        assert report["processes"]["services"]["probe"]["running"]
        url = running_embedded(tmp_path)
        assert url == report["nats_url"]

        nc = await nats.connect(url)
        command = ingest("through-up")
        await Publisher(nc.jetstream()).publish(command)
        await nc.close()

        async def handled() -> bool:
            status = json.loads(run_cli(tmp_path, "status", "--json").stdout)
            probe = next(
                c for s in status["streams"] for c in s["consumers"] if c["durable"] == "probe_probe"
            )
            answers = next(s for s in status["streams"] if s["name"] == "DATASETS")
            # the command was consumed and the service's answer (an event) was published
            return probe["pending"] == 0 and probe["ack_pending"] == 0 and answers["messages"] >= 1

        await eventually(handled, timeout=30, interval=0.5, what="the command to be handled")
        human = run_cli(tmp_path, "status")
        assert human.returncode == 0
        assert "probe_probe" in human.stdout and "Dead letters" in human.stdout
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    assert "stopped cleanly" in output
    assert "probe |" in output  # service logs are shown, prefixed
    assert running_embedded(tmp_path) is None
    stopped = run_cli(tmp_path, "status")
    assert stopped.returncode == 1
    assert "NATS is not running" in stopped.stderr


def test_provision_reports_drift_and_changes_nothing_until_applied(tmp_path: Path) -> None:
    first = run_cli(tmp_path, "provision")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created") == 13  # 7 streams, 6 buckets

    async def loosen() -> int:
        from skill_adapter.runtime.nats_server import EmbeddedNats

        with EmbeddedNats(tmp_path) as server:
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            info = await js.stream_info("TRAINING")
            info.config.max_msgs = 10
            await js.update_stream(info.config)
            await nc.close()
        return 10

    asyncio.run(loosen())
    drifted = run_cli(tmp_path, "provision")
    assert drifted.returncode == 3
    assert "drifted" in drifted.stdout and "max_msgs: expected 1000000, found 10" in drifted.stdout
    assert "--apply" in drifted.stderr
    again = run_cli(tmp_path, "provision")
    assert again.returncode == 3, "without --apply nothing changed"
    applied = run_cli(tmp_path, "provision", "--apply")
    assert applied.returncode == 0
    assert "updated" in applied.stdout
    assert run_cli(tmp_path, "provision").returncode == 0


def test_nats_command_runs_the_embedded_server_until_interrupted(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*CLI, "nats"],
        cwd=ROOT,
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while running_embedded(tmp_path) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert running_embedded(tmp_path)
        twice = run_cli(tmp_path, "nats")
        assert twice.returncode == 1 and "already runs" in twice.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "listening on nats://127.0.0.1:" in out
    assert running_embedded(tmp_path) is None


def test_asyncapi_and_db_upgrade_commands(tmp_path: Path) -> None:
    out = tmp_path / "asyncapi.json"
    result = run_cli(tmp_path, "asyncapi", "--format", "json", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "training.evt.job.succeeded.v1" in json.loads(out.read_text())["channels"]
    bad = run_cli(tmp_path, "asyncapi", "--format", "xml")
    assert bad.returncode == 2 and "yaml or json" in bad.stderr
    upgraded = run_cli(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "skill-adapter.db").exists()
