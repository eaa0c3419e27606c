"""API keys: random, shown once, stored as a salted sha256, scoped, revocable.

A key reads ``sa-<id>_<secret>``: the id finds the row, the secret is 32 random bytes
(``secrets.token_urlsafe``). Only ``sha256(salt + key)`` is stored, and it is compared in
constant time. The random secret has 256 bits of entropy, so a fast hash is enough: there is
nothing to brute-force. ``admin`` implies every other scope, ``models:evaluate`` implies
``models:use`` (``IMPLIED_SCOPES``).

``KeyStore`` is what the HTTP app uses; ``create_key``, ``list_keys`` and ``revoke_key`` are the
synchronous entry points of the ``skill-adapter keys`` command (they migrate the database
first, so they work on a fresh one).

Reading a key's row costs a database round trip (about 2 ms through aiosqlite), so a gateway
remembers the keys it verified (``VerifiedKeys``, by the sha256 of the token, least recently
used out first) for as long as the database has not changed since. SQLite tells that in tens of
microseconds without a thread hop (``PRAGMA data_version``, ``SqliteChanges``), so a revocation
by any process, the ``skill-adapter keys revoke`` command included, is refused from the next
request on; any other write to the database only costs the next requests a read. Where the
database gives no such signal (PostgreSQL, in-memory SQLite) every request reads the key's row.
A remembered key goes back to the database when its last use is due to be written
(``key_touch_interval``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar, cast
from urllib.parse import quote, urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from skill_adapter.contracts.api import IMPLIED_SCOPES, SCOPES, Scope
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
    webhook_url: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: Scope) -> bool:
        return any(scope == held or scope in IMPLIED_SCOPES.get(held, ()) for held in self.scopes)


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: ``token`` is the only time the secret exists in clear."""

    key: ApiKey
    token: str
    webhook_secret: str | None = None


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
        webhook_url=row.webhook_url,
    )


def check_webhook_url(url: str) -> str:
    """An absolute http(s) URL with a host; raises ``InvalidKeyRequest`` otherwise."""
    parsed = urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname or len(url) > 2048:
        raise InvalidKeyRequest(f"the webhook URL must be an absolute http(s) URL: {url!r}")
    return url.strip()


def normalize_scopes(scopes: Iterable[str]) -> tuple[Scope, ...]:
    """Known scopes, deduplicated, in canonical order; raises ``InvalidKeyRequest`` otherwise."""
    wanted = set(scopes)
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise InvalidKeyRequest(f"unknown scope {', '.join(unknown)}; choose from {', '.join(SCOPES)}")
    if not wanted:
        raise InvalidKeyRequest(f"a key needs at least one scope ({', '.join(SCOPES)})")
    return tuple(scope for scope in SCOPES if scope in wanted)


ChangeSignal = Callable[[], int | None]
"""A counter that differs whenever the database may have changed since it was last read; ``None``
when that cannot be told (then nothing is remembered)."""


class SqliteChanges:
    """``PRAGMA data_version`` of a read-only connection of its own, which changes whenever another
    connection, in this process or any other, commits to the database file. It never waits (a busy
    database answers ``None``) and costs tens of microseconds, so it runs on the event loop."""

    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(
            f"file:{quote(path)}?mode=ro",
            uri=True,
            timeout=0,
            isolation_level=None,
            check_same_thread=False,
        )

    def __call__(self) -> int | None:
        try:
            row = self._connection.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            return None
        return int(row[0])

    def close(self) -> None:
        self._connection.close()


def sqlite_changes(engine: AsyncEngine) -> SqliteChanges | None:
    """The change signal of a SQLite database file; ``None`` for other databases, in-memory ones and
    URLs with options (URI file names), where a connection of its own may not see the same data."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or engine.url.query:
        return None
    try:
        return SqliteChanges(database)
    except sqlite3.Error:
        return None


@dataclass(frozen=True)
class _Verified:
    key: ApiKey
    version: int
    touch_due: float


class VerifiedKeys:
    """Keys whose secret matched, by the sha256 of their token: an entry holds while the database's
    change counter is what it was read as before the key's row, and until the key's last use is due
    to be written. At most ``size`` entries, the least recently used dropped first."""

    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._clock = clock
        self._entries: OrderedDict[bytes, _Verified] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes, version: int) -> ApiKey | None:
        entry = self._entries.get(digest)
        if entry is not None and (entry.version != version or self._clock() >= entry.touch_due):
            del self._entries[digest]
            entry = None
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(digest)
        return entry.key

    def put(self, digest: bytes, key: ApiKey, version: int, touch_in: float) -> None:
        """Remember ``key`` as read at ``version``; its last use is due to be written in ``touch_in`` s."""
        self._entries[digest] = _Verified(key, version, self._clock() + touch_in)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, key_id: str) -> None:
        for digest in [d for d, entry in self._entries.items() if entry.key.id == key_id]:
            del self._entries[digest]


class KeyStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        touch_interval: float = 60.0,
        *,
        changes: ChangeSignal | None = None,
        cache_size: int = 1024,
    ) -> None:
        """``changes`` (e.g. ``sqlite_changes(engine)``) lets up to ``cache_size`` verified keys be
        remembered; without it every ``authenticate`` reads the database."""
        self._sessions = sessions
        self._touch_interval = timedelta(seconds=touch_interval)
        self._changes = changes if cache_size > 0 else None
        self.verified = VerifiedKeys(cache_size)

    async def create(self, name: str, scopes: Iterable[str], webhook_url: str | None = None) -> IssuedKey:
        """A new key; with ``webhook_url`` its jobs' outcomes are POSTed there, signed with the
        secret returned once (``IssuedKey.webhook_secret``, Standard Webhooks' ``whsec_`` form)."""
        name = name.strip()
        if not name or len(name) > 128:
            raise InvalidKeyRequest("a key needs a name of 1 to 128 characters")
        granted = normalize_scopes(scopes)
        url = check_webhook_url(webhook_url) if webhook_url is not None else None
        webhook_secret = f"whsec_{base64.b64encode(secrets.token_bytes(32)).decode()}" if url else None
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
            webhook_url=url,
            webhook_secret=webhook_secret,
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return IssuedKey(key=_public(row), token=token, webhook_secret=webhook_secret)

    async def list(self) -> list[ApiKey]:
        async with self._sessions() as session:
            rows = await session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id))
            return [_public(row) for row in rows]

    async def revoke(self, key_id: str) -> ApiKey | None:
        """Revoke ``key_id`` (idempotent); ``None`` when there is no such key."""
        try:
            async with self._sessions.begin() as session:
                row = await session.get(ApiKeyRow, key_id)
                if row is None:
                    return None
                if row.revoked_at is None:
                    row.revoked_at = datetime.now(UTC)
                return _public(row)
        finally:
            self.verified.forget(key_id)

    async def authenticate(self, token: str) -> ApiKey | None:
        """The active key ``token`` belongs to, recording its use; ``None`` otherwise."""
        # Read before the row: a revocation committed after the read changes it.
        version = self._changes() if self._changes is not None else None
        digest = hashlib.sha256(token.encode()).digest()
        if version is not None and (known := self.verified.get(digest, version)) is not None:
            return known
        verified = await self._verify(token)
        if verified is None:
            return None
        key, touch_in = verified
        if version is not None:
            self.verified.put(digest, key, version, touch_in)
        return key

    async def _verify(self, token: str) -> tuple[ApiKey, float] | None:
        """Check ``token`` against its row, writing its last use when due: the key, and the
        seconds until its last use is due to be written again."""
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
            last_use = key.last_used_at
            if last_use is None or now - last_use >= self._touch_interval:
                await session.execute(
                    update(ApiKeyRow).where(ApiKeyRow.id == row.id).values(last_used_at=now)
                )
                await session.commit()
                last_use = now
            return key, (self._touch_interval - (now - last_use)).total_seconds()


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


def create_key(
    settings: RuntimeSettings, name: str, scopes: Sequence[str], webhook_url: str | None = None
) -> IssuedKey:
    return _run(settings, lambda store: store.create(name, scopes, webhook_url))


def list_keys(settings: RuntimeSettings) -> list[ApiKey]:
    return _run(settings, lambda store: store.list())


def revoke_key(settings: RuntimeSettings, key_id: str) -> ApiKey | None:
    return _run(settings, lambda store: store.revoke(key_id))
