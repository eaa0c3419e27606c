"""Small helpers the integration tests share."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from skill_adapter.contracts import DEADLETTER_STREAM, IngestSkill
from skill_adapter.runtime.deadletter import DeadLetter, read_dead_letters

T = TypeVar("T")


def ingest(object_name: str, correlation: str = "test") -> IngestSkill:
    return IngestSkill(
        correlation_id=correlation,
        producer="tests",
        object_name=object_name,
        digest=hashlib.sha256(object_name.encode()).hexdigest(),
    )


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout: float = 20.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


async def dead_letters_for(js: JetStreamContext, consumer: str) -> list[DeadLetter]:
    try:
        letters = await read_dead_letters(js, limit=10_000)
    except NotFoundError:
        return []
    return [letter for letter in letters if letter.consumer == consumer]


async def deadletter_count(js: JetStreamContext) -> int:
    return (await js.stream_info(DEADLETTER_STREAM)).state.messages
