"""API keys: random, shown once, stored as a salted sha256, scoped, revocable.

A key reads ``sa-<id>_<secret>``: the id finds the row, the secret is 32 random bytes
(``secrets.token_urlsafe``). Only ``sha256(salt + key)`` is stored, and it is compared in
constant time. The random secret has 256 bits of entropy, so a fast hash is enough: there is
nothing to brute-force. ``admin`` implies every other scope.

``KeyStore`` is what the HTTP app uses; ``create_key``, ``list_keys`` and ``revoke_key`` are the
synchronous entry points of the ``skill-adapter keys`` command (they migrate the database
first, so they work on a fresh one).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar, cast

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skill_adapter.contracts.api import SCOPES, Scope
from skill_adapter.runtime import RuntimeSettings
from skill_adapter.runtime import db as runtime_db

from .models import MIGRATIONS, ApiKeyRow

T = TypeVar("T")

KEY_PREFIX = "sa-"
ID_PREFIX = "key_"
_TOKEN = re.compile(r"^sa-(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
_DUMMY_SALT = "0" * 32


class InvalidKeyRequest(ValueError):
    """A key request the store refuses (unknown scope, empty name)."""


@dataclass(frozen=True)
class ApiKey:
    """What may be known about a key (never its secret)."""

    id: str
    name: str
    scopes: tuple[Scope, ...]
    hint: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: Scope) -> bool:
        return "admin" in self.scopes or scope in self.scopes


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: ``token`` is the only time the secret exists in clear."""

    key: ApiKey
    token: str


def _hash(salt: str, token: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + token.encode()).hexdigest()


def _public(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        scopes=tuple(cast(list[Scope], row.scopes)),
        hint=row.hint,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def normalize_scopes(scopes: Iterable[str]) -> tuple[Scope, ...]:
    """Known scopes, deduplicated, in canonical order; raises ``InvalidKeyRequest`` otherwise."""
    wanted = set(scopes)
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise InvalidKeyRequest(f"unknown scope {', '.join(unknown)}; choose from {', '.join(SCOPES)}")
    if not wanted:
        raise InvalidKeyRequest(f"a key needs at least one scope ({', '.join(SCOPES)})")
    return tuple(scope for scope in SCOPES if scope in wanted)


class KeyStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], touch_interval: float = 60.0) -> None:
        self._sessions = sessions
        self._touch_interval = timedelta(seconds=touch_interval)

    async def create(self, name: str, scopes: Iterable[str]) -> IssuedKey:
        name = name.strip()
        if not name or len(name) > 128:
            raise InvalidKeyRequest("a key needs a name of 1 to 128 characters")
        granted = normalize_scopes(scopes)
        key_id = secrets.token_hex(6)
        token = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        salt = secrets.token_hex(16)
        row = ApiKeyRow(
            id=f"{ID_PREFIX}{key_id}",
            name=name,
            scopes=list(granted),
            salt=salt,
            secret_hash=_hash(salt, token),
            hint=token[-4:],
            created_at=datetime.now(UTC),
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return IssuedKey(key=_public(row), token=token)

    async def list(self) -> list[ApiKey]:
        async with self._sessions() as session:
            rows = await session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id))
            return [_public(row) for row in rows]

    async def revoke(self, key_id: str) -> ApiKey | None:
        """Revoke ``key_id`` (idempotent); ``None`` when there is no such key."""
        async with self._sessions.begin() as session:
            row = await session.get(ApiKeyRow, key_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
            return _public(row)

    async def authenticate(self, token: str) -> ApiKey | None:
        """The active key ``token`` belongs to, recording its use; ``None`` otherwise."""
        match = _TOKEN.match(token)
        async with self._sessions() as session:
            row = await session.get(ApiKeyRow, f"{ID_PREFIX}{match['id']}") if match else None
            # Hash even when there is no row, so a miss costs the same time as a wrong secret.
            expected = row.secret_hash if row else _hash(_DUMMY_SALT, "")
            valid = hmac.compare_digest(_hash(row.salt if row else _DUMMY_SALT, token), expected)
            if row is None or not valid or row.revoked_at is not None:
                return None
            key = _public(row)
            now = datetime.now(UTC)
            if key.last_used_at is None or now - key.last_used_at >= self._touch_interval:
                await session.execute(
                    update(ApiKeyRow).where(ApiKeyRow.id == row.id).values(last_used_at=now)
                )
                await session.commit()
            return key


# -- synchronous entry points for the CLI ---------------------------------------------------


def _run(settings: RuntimeSettings, work: Callable[[KeyStore], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = runtime_db.create_engine(settings.resolved_database_url())
        try:
            await runtime_db.migrate(engine, MIGRATIONS.script_location, MIGRATIONS.version_table)
            return await work(KeyStore(runtime_db.session_factory(engine)))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def create_key(settings: RuntimeSettings, name: str, scopes: Sequence[str]) -> IssuedKey:
    return _run(settings, lambda store: store.create(name, scopes))


def list_keys(settings: RuntimeSettings) -> list[ApiKey]:
    return _run(settings, lambda store: store.list())


def revoke_key(settings: RuntimeSettings, key_id: str) -> ApiKey | None:
    return _run(settings, lambda store: store.revoke(key_id))
