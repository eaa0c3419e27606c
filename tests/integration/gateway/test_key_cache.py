"""A gateway remembers the API keys it verified, and still refuses a revoked one at once.

These gateways keep the default ``key_touch_interval`` (60 s), so a key's second request is
answered from memory (the other tests write the last use on every request, which always reads
the database). Revocations come from this gateway, from another engine in this process and
from the ``skill-adapter keys revoke`` command in a process of its own.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from skill_adapter.gateway.keys import SqliteChanges, create_key, revoke_key
from tests.integration.gateway.conftest import Gateway, StartGateway, error_of

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


async def status(gateway: Gateway, token: str) -> int:
    response = await gateway.client.get("/v1/skills", headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 401:
        assert error_of(response)["code"] == "invalid_api_key"
    return response.status_code


def cli_revoke(gateway: Gateway, key_id: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env.update(
        SKILL_ADAPTER_DATABASE_URL=str(gateway.settings.database_url),
        SKILL_ADAPTER_STATE_DIR=str(gateway.settings.state_dir),
    )
    return subprocess.run(
        [sys.executable, "-m", "skill_adapter.cli", "keys", "revoke", key_id],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_verified_key_is_answered_from_memory(start_gateway: StartGateway) -> None:
    async with start_gateway(key_touch_interval=60) as gateway:
        token = await gateway.key("skills:read")
        verified = gateway.state.keys.verified
        # The first use writes the key's last use: the database changed, so the next one reads it again.
        assert [await status(gateway, token) for _ in range(2)] == [200, 200]
        hits = verified.hits
        assert [await status(gateway, token) for _ in range(3)] == [200, 200, 200]
        assert verified.hits == hits + 3
        assert await status(gateway, token[:-1] + ("A" if token[-1] != "A" else "B")) == 401


async def test_a_key_revoked_by_the_cli_in_another_process_is_refused_at_once(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway(key_touch_interval=60) as gateway:
        issued = await asyncio.to_thread(create_key, gateway.settings, "ci", ["skills:read"])
        assert [await status(gateway, issued.token) for _ in range(3)] == [200, 200, 200]
        assert gateway.state.keys.verified.hits >= 1  # remembered before the revocation

        revoked = await asyncio.to_thread(cli_revoke, gateway, issued.key.id)
        assert revoked.returncode == 0, revoked.stderr
        assert await status(gateway, issued.token) == 401


async def test_a_key_revoked_through_another_engine_is_refused_at_once(start_gateway: StartGateway) -> None:
    async with start_gateway(key_touch_interval=60) as gateway:
        keep = await asyncio.to_thread(create_key, gateway.settings, "keep", ["skills:read"])
        drop = await asyncio.to_thread(create_key, gateway.settings, "drop", ["skills:read"])
        for token in (keep.token, drop.token) * 3:
            assert await status(gateway, token) == 200
        assert gateway.state.keys.verified.hits >= 2
        await asyncio.to_thread(revoke_key, gateway.settings, drop.key.id)
        assert await status(gateway, drop.token) == 401
        assert await status(gateway, keep.token) == 200  # read again, still good


async def test_a_key_revoked_through_this_gateway_is_refused_at_once(start_gateway: StartGateway) -> None:
    async with start_gateway(key_touch_interval=60) as gateway:
        issued = gateway.in_app(gateway.state.keys.create, "short-lived", ["skills:read"])
        assert [await status(gateway, issued.token) for _ in range(3)] == [200, 200, 200]
        assert gateway.state.keys.verified.hits >= 1
        gateway.in_app(gateway.state.keys.revoke, issued.key.id)
        assert await status(gateway, issued.token) == 401


async def test_the_last_use_is_still_written_when_due(start_gateway: StartGateway) -> None:
    async with start_gateway(key_touch_interval=0.5) as gateway:
        issued = gateway.in_app(gateway.state.keys.create, "tracked", ["skills:read"])

        def last_use() -> datetime | None:
            [key] = [k for k in gateway.in_app(gateway.state.keys.list) if k.id == issued.key.id]
            return key.last_used_at

        assert await status(gateway, issued.token) == 200
        first = last_use()
        assert first is not None
        assert await status(gateway, issued.token) == 200
        assert last_use() == first  # within the interval: no write
        await asyncio.sleep(0.6)
        assert await status(gateway, issued.token) == 200
        later = last_use()
        assert later is not None and later > first


async def test_a_cache_size_of_zero_reads_every_request(start_gateway: StartGateway) -> None:
    async with start_gateway(key_touch_interval=60, key_cache_size=0) as gateway:
        token = await gateway.key("skills:read")
        assert [await status(gateway, token) for _ in range(3)] == [200, 200, 200]
        assert (gateway.state.keys.verified.hits, len(gateway.state.keys.verified)) == (0, 0)


def test_the_change_signal_sees_commits_of_other_connections(tmp_path: Path) -> None:
    path = tmp_path / "signal.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x INTEGER)")
    changes = SqliteChanges(str(path))
    try:
        before = changes()
        assert before is not None and changes() == before  # reading changes nothing
        writer.execute("INSERT INTO t VALUES (1)")
        after = changes()
        assert after is not None and after != before
        writer.execute("BEGIN IMMEDIATE")  # a write in progress, not committed: no change yet
        writer.execute("INSERT INTO t VALUES (2)")
        assert changes() == after
        writer.execute("COMMIT")
        assert changes() not in (after, None)
    finally:
        changes.close()
        writer.close()
