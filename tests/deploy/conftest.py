"""Fixtures of the deploy tests: deploy/nats/nats-server.conf with the generated users, for real."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from skill_adapter.contracts import BUCKETS, STREAMS
from skill_adapter.runtime.provisioning import provision

from .generated import DEPLOY, permissions, real_service
from .servers import NatsProcess

PERMS = permissions()
SERVICES = list(PERMS.FOOTPRINTS)
ROOT_USER = "test-root"


@pytest.fixture(scope="module")
def passwords() -> dict[str, str]:
    return {user: PERMS.new_password() for user in [PERMS.PROVISIONER, *SERVICES, ROOT_USER]}


def start_auth_server(root: Path, passwords: dict[str, str]) -> NatsProcess:
    """deploy/nats/nats-server.conf as compose runs it, on free ports, plus a test-only root user."""
    config = (DEPLOY / "nats" / "nats-server.conf").read_text()
    config = re.sub(r"(?m)^listen: .*$", "listen: 127.0.0.1:{port}", config)
    config = re.sub(r"(?m)^http: .*$", "http: 127.0.0.1:{monitor_port}", config)
    config = re.sub(r"(?m)^(\s*)store_dir: .*$", r"\1store_dir: {store_dir}", config)
    config = re.sub(r"(?m)^(\s*)max_file_store: .*$", r"\1max_file_store: 1T", config)
    auth = (DEPLOY / "nats" / "auth.conf").read_text()
    # Only the tests (seeding messages, checking that refusals left nothing) use this user.
    auth = auth.replace(
        "  users: [\n", f'  users: [\n    {{user: "{ROOT_USER}", password: $TEST_ROOT_PASSWORD}}\n', 1
    )
    (root / "auth.conf").write_text(auth)
    env = {PERMS.password_variable(user): password for user, password in passwords.items()}
    env["TEST_ROOT_PASSWORD"] = passwords[ROOT_USER]
    return NatsProcess(root, "auth-test", config, env=env).start()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory, passwords: dict[str, str]) -> Iterator[NatsProcess]:
    """The server with every stream, bucket and service consumer provisioned."""
    process = start_auth_server(tmp_path_factory.mktemp("nats-auth"), passwords)
    asyncio.run(_provision_everything(process.url, passwords, tmp_path_factory.mktemp("services")))
    yield process
    process.stop()


async def _provision_everything(url: str, passwords: dict[str, str], state: Path) -> None:
    """What `skill-adapter provision` does with the provisioner's credentials, plus every
    service's consumers (the services would create them at start-up)."""
    nc = await nats.connect(url, user=PERMS.PROVISIONER, password=passwords[PERMS.PROVISIONER])
    try:
        js = nc.jetstream(timeout=10)
        consumers = [
            spec
            for footprint in PERMS.FOOTPRINTS.values()
            for spec in real_service(footprint.package, state / footprint.package).consumers()
        ]
        results = await provision(js, STREAMS, consumers, buckets=BUCKETS)
        assert {r.action for r in results} == {"created"}, [r.describe() for r in results]
    finally:
        await nc.close()
