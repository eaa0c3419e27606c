"""Each service as its container runs it: its own process, its own NATS user and nothing more.

The server runs deploy/nats/nats-server.conf with the generated users; `skill-adapter provision`
creates the streams and buckets with the provisioner's identity, as the compose service and the
Kubernetes Job do. Then every service starts with only its own credentials (read from a secret
file, as in the containers), creates its own consumers, and must become healthy by the image's
own health check without a single permissions violation in the server's log. The skill-parser
also does its work end to end: a SKILL.md put into the bucket comes out as a parsed event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from skill_adapter.contracts import SKILL_VERSIONS_BUCKET, SKILLS_BUCKET, SkillParsed
from skill_adapter.runtime.nats_server import free_port

from .conftest import PERMS, ROOT_USER, SERVICES, start_auth_server
from .generated import DEPLOY, ROOT
from .servers import NatsProcess

pytestmark = [pytest.mark.integration, pytest.mark.deploy, pytest.mark.slow]

HEALTHCHECK = DEPLOY / "docker" / "healthcheck.py"
EXAMPLE_SKILL = ROOT / "services" / "cli" / "example_skills" / "json-reply" / "SKILL.md"


def service_env(server: NatsProcess, user: str, password: str, state: Path) -> dict[str, str]:
    state.mkdir(parents=True, exist_ok=True)
    secret = state / "nats_password"
    secret.write_text(password + "\n")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SKILL_ADAPTER_", "NATS_", "DATABASE_URL"))
    }
    env.update(
        NATS_URL=server.url,
        SKILL_ADAPTER_NATS_USER=user,
        SKILL_ADAPTER_NATS_PASSWORD_FILE=str(secret),
        SKILL_ADAPTER_EMBEDDED_NATS="false",
        SKILL_ADAPTER_STATE_DIR=str(state),
        SKILL_ADAPTER_LOG_FORMAT="json",
        HF_HUB_OFFLINE="1",
    )
    return env


@pytest.fixture(scope="module")
def provisioned_server(
    tmp_path_factory: pytest.TempPathFactory, passwords: dict[str, str]
) -> Iterator[NatsProcess]:
    server = start_auth_server(tmp_path_factory.mktemp("nats-services"), passwords)
    env = service_env(
        server, PERMS.PROVISIONER, passwords[PERMS.PROVISIONER], tmp_path_factory.mktemp("provisioner")
    )
    result = subprocess.run(
        [sys.executable, "-m", "skill_adapter.cli", "provision"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    yield server
    server.stop()


def violations(server: NatsProcess, user: str) -> list[str]:
    return [line for line in server.log().splitlines() if f'"$G/user:{user}"' in line and "Violation" in line]


def healthcheck(package: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), package], env=env, capture_output=True, text=True, timeout=60
    )


def wait_until(check, what: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the service exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout} s:\n{log.read_text()[-4000:]}")


def gateway_healthy(port: int) -> bool:
    with contextlib.suppress(OSError):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status == 200 and json.loads(response.read())["nats"] is True
    return False


async def put_skill_and_wait_for_verdict(server: NatsProcess, password: str) -> SkillParsed:
    nc = await nats.connect(server.url, user=ROOT_USER, password=password)
    try:
        js = nc.jetstream(timeout=10)
        store = await js.object_store(SKILLS_BUCKET.name)
        await store.put("json-reply/SKILL.md", EXAMPLE_SKILL.read_bytes())
        sub = await js.subscribe(SkillParsed.SUBJECT, ordered_consumer=True)
        msg = await sub.next_msg(timeout=60)
        parsed = SkillParsed.model_validate_json(msg.data)
        versions = await js.object_store(SKILL_VERSIONS_BUCKET.name)
        assert (await versions.get_info(f"json-reply/{parsed.skill_version}.zip")).size > 0
        return parsed
    finally:
        await nc.close()


@pytest.mark.parametrize("service", SERVICES)
def test_the_service_runs_with_only_its_own_credentials(
    service: str, provisioned_server: NatsProcess, passwords: dict[str, str], tmp_path: Path
) -> None:
    package = PERMS.FOOTPRINTS[service].package
    env = service_env(provisioned_server, service, passwords[service], tmp_path / "state")
    if service == "gateway":
        port = free_port()
        env.update(
            SKILL_ADAPTER_PORT=str(port),
            # No model in this test: an upstream that is never asked.
            SKILL_ADAPTER_BACKENDS='[{"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "models": ["x"]}]',
        )
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", f"skill_adapter.{package}"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        if service == "gateway":
            wait_until(lambda: gateway_healthy(port), "/health answering 200", process, log)
        else:
            wait_until(
                lambda: healthcheck(package, env).returncode == 0, "the image's health check", process, log
            )
        if service == "skill-parser":
            parsed = asyncio.run(put_skill_and_wait_for_verdict(provisioned_server, passwords[ROOT_USER]))
            assert parsed.skill_name == "json-reply"
        assert violations(provisioned_server, service) == []
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if service == "skill-parser":
        # The health check notices a service that stopped pulling (its last pull request expires).
        deadline = time.monotonic() + 30
        while healthcheck(package, env).returncode == 0:
            assert time.monotonic() < deadline, "the health check still passes with the service gone"
            time.sleep(1)
