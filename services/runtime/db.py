"""Database access: async engines (SQLite by default, PostgreSQL by URL) and migrations.

Each component keeps its own Alembic history and version table, so the runtime and the
services can share one database without their migrations colliding.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

RUNTIME_MIGRATIONS = "skill_adapter.runtime:migrations"
RUNTIME_VERSION_TABLE = "skill_adapter_runtime_version"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def migrate(
    engine: AsyncEngine,
    script_location: str = RUNTIME_MIGRATIONS,
    version_table: str = RUNTIME_VERSION_TABLE,
) -> None:
    """Upgrade to head; safe when several processes start at once.

    PostgreSQL serializes migrators with an advisory lock, SQLite with a lock file beside the
    database.
    """
    with contextlib.ExitStack() as stack:
        database = engine.url.database or ""
        if engine.dialect.name == "sqlite" and database not in ("", ":memory:"):
            lock = stack.enter_context(Path(f"{database}.migrate.lock").open("w"))  # noqa: ASYNC230 (tiny)
            await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        async with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                key = int.from_bytes(hashlib.sha256(version_table.encode()).digest()[:8], "big", signed=True)
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            await connection.run_sync(_upgrade, script_location, version_table)


def run_migrations(target_metadata: MetaData) -> None:
    """The body of every component's Alembic ``env.py``: migrate on the connection that
    ``migrate`` hands over, recording the version in that component's own table."""
    from alembic import context

    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations through skill_adapter.runtime.db.migrate (or `skill-adapter db upgrade`)"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=config.attributes.get("version_table", "alembic_version"),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _upgrade(connection: Connection, script_location: str, version_table: str) -> None:
    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["connection"] = connection
    config.attributes["version_table"] = version_table
    command.upgrade(config, "head")
