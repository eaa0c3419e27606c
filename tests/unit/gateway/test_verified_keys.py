"""The memory of verified API keys, on a fake clock: what makes an entry stale, and its bound."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from skill_adapter.gateway.keys import ApiKey, VerifiedKeys, sqlite_changes
from skill_adapter.runtime import db as runtime_db

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def key(key_id: str) -> ApiKey:
    return ApiKey(
        id=key_id,
        name="tests",
        scopes=("models:use",),
        hint="abcd",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        last_used_at=None,
        revoked_at=None,
    )


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def test_a_key_is_remembered_while_the_database_is_unchanged() -> None:
    verified = VerifiedKeys(8, clock=Clock())
    assert verified.get(digest("t1"), version=1) is None
    verified.put(digest("t1"), key("key_1"), version=1, touch_in=60)
    assert verified.get(digest("t1"), version=1) == key("key_1")
    assert verified.get(digest("t2"), version=1) is None  # another token is another entry
    assert (verified.hits, verified.misses) == (1, 2)


def test_any_change_of_the_database_makes_an_entry_stale() -> None:
    verified = VerifiedKeys(8, clock=Clock())
    verified.put(digest("t1"), key("key_1"), version=1, touch_in=60)
    assert verified.get(digest("t1"), version=2) is None
    assert len(verified) == 0  # dropped, not kept for an older version
    assert verified.get(digest("t1"), version=1) is None


def test_an_entry_lasts_until_the_keys_last_use_is_due_to_be_written() -> None:
    clock = Clock()
    verified = VerifiedKeys(8, clock=clock)
    verified.put(digest("t1"), key("key_1"), version=1, touch_in=5)
    clock.now += 4.9
    assert verified.get(digest("t1"), version=1) is not None
    clock.now += 0.1
    assert verified.get(digest("t1"), version=1) is None
    verified.put(digest("t1"), key("key_1"), version=1, touch_in=0)  # key_touch_interval 0
    assert verified.get(digest("t1"), version=1) is None


def test_the_least_recently_used_key_goes_first() -> None:
    verified = VerifiedKeys(2, clock=Clock())
    verified.put(digest("t1"), key("key_1"), version=1, touch_in=60)
    verified.put(digest("t2"), key("key_2"), version=1, touch_in=60)
    assert verified.get(digest("t1"), version=1) is not None  # t2 is now the least recent
    verified.put(digest("t3"), key("key_3"), version=1, touch_in=60)
    assert len(verified) == 2
    assert verified.get(digest("t2"), version=1) is None
    assert verified.get(digest("t1"), version=1) is not None
    assert verified.get(digest("t3"), version=1) is not None


def test_forgetting_a_key_drops_every_token_of_it() -> None:
    verified = VerifiedKeys(8, clock=Clock())
    verified.put(digest("t1"), key("key_1"), version=1, touch_in=60)
    verified.put(digest("t2"), key("key_2"), version=1, touch_in=60)
    verified.forget("key_1")
    assert verified.get(digest("t1"), version=1) is None
    assert verified.get(digest("t2"), version=1) is not None


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite://",
        "postgresql+asyncpg://user@127.0.0.1:9/db",
    ],
)
def test_only_a_sqlite_file_gives_a_change_signal(url: str) -> None:
    """Elsewhere there is no cheap way to see another process's revocation: nothing is remembered."""
    engine = runtime_db.create_engine(url)
    assert sqlite_changes(engine) is None
