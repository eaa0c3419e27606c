"""Shared fixtures: a real nats-server per session (own port, own store), SQLite per test."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from skill_adapter.runtime.nats_server import EmbeddedNats

# A new skill version starts a real fine-tuning job by default (``auto_train``): the tests that
# want one say so; everywhere else a published or uploaded skill starts nothing.
os.environ.setdefault("SKILL_ADAPTER_AUTO_TRAIN", "false")

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path_factory.mktemp("nats-session")).start()
    yield server
    server.stop()


@pytest.fixture
def nats_url(nats_server: EmbeddedNats) -> str:
    return nats_server.url


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.drain()


@pytest.fixture
def js(nc: Client) -> JetStreamContext:
    return nc.jetstream(timeout=10)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def unique() -> str:
    """A short unique token, to keep tests on a shared server out of each other's way."""
    return uuid.uuid4().hex[:8]


def postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh database on the PostgreSQL server, dropped afterwards.

    Skipped (with the reason) where no PostgreSQL runs, e.g. a laptop without one; CI and
    the development machines run one on 127.0.0.1:5432.
    """
    if "TEST_POSTGRES_URL" not in os.environ and not postgres_reachable():
        pytest.skip("no PostgreSQL on 127.0.0.1:5432 and TEST_POSTGRES_URL unset")
    import asyncpg
    from sqlalchemy.engine import make_url

    admin = make_url(POSTGRES_URL)
    name = f"skill_adapter_test_{uuid.uuid4().hex[:10]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test against SQLite (the default) and PostgreSQL (DATABASE_URL)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("postgres_url"))
