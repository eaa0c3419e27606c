"""Handle each message once: the effect, the processed-message record and the messages it
causes commit in one transaction (inbox + transactional outbox).

JetStream delivers at least once: a worker can die after its commit and before its ack, and
the message comes again. The second delivery finds the processed record, does nothing, and
only makes sure what the first one caused gets published.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import nats.errors
from nats.js.errors import APIError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skill_adapter.contracts import Message, Subject

from .log import get_logger
from .models import OutboxMessage, ProcessedMessage
from .publisher import MSG_ID, TYPE_HEADER, Publisher, encode

log = get_logger(__name__)

Effect = Callable[[AsyncSession], Awaitable[Message | Sequence[Message] | None]]


def as_messages(result: Message | Sequence[Message] | None) -> list[Message]:
    if result is None:
        return []
    if isinstance(result, Message):
        return [result]
    return list(result)


class Inbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def handle_once(self, consumer: str, message: Message, effect: Effect) -> list[int] | None:
        """Run ``effect`` unless ``consumer`` already handled ``message``.

        Returns the outbox ids written (to publish now), or ``None`` for a duplicate.
        """
        async with self._sessions() as session:
            async with session.begin():
                seen = await session.get(ProcessedMessage, (consumer, message.event_id))
                if seen is not None:
                    return None
            try:
                async with session.begin():
                    caused = as_messages(await effect(session))
                    rows = [stage(session, out) for out in caused]
                    session.add(
                        ProcessedMessage(
                            consumer=consumer, event_id=message.event_id, subject=message.SUBJECT
                        )
                    )
                    await session.flush()
                    ids = [row.id for row in rows]
            except IntegrityError:
                async with session.begin():
                    if await session.get(ProcessedMessage, (consumer, message.event_id)) is not None:
                        return None  # a concurrent delivery of the same message committed first
                raise
            return ids


def stage(session: AsyncSession, message: Message) -> OutboxMessage:
    """Add ``message`` to the outbox within the caller's transaction."""
    payload = encode(message)
    if len(payload) > MAX_PAYLOAD:
        raise MessageTooLarge(
            f"{message.SUBJECT} is {len(payload)} bytes; at most {MAX_PAYLOAD} can be published"
        )
    row = OutboxMessage(event_id=message.event_id, subject=message.SUBJECT, payload=payload)
    session.add(row)
    return row


MAX_PAYLOAD = 8 * 1024 * 1024 - 64 * 1024
"""Largest message the outbox accepts (the embedded server's max_payload, less header room)."""


class MessageTooLarge(ValueError):
    """A caused message too large to publish: fails the handler, so it is retried, then dead-lettered."""


def _permanent(exc: Exception) -> bool:
    if isinstance(exc, nats.errors.MaxPayloadError):
        return True
    return isinstance(exc, APIError) and "size" in str(exc.description or "").lower()


class Outbox:
    """Publishes staged messages; a sweep catches what a crash or a NATS outage left behind.

    Rows are independent: one that cannot be sent now does not hold back the others, and one
    that can never be sent (too large for the server) is parked with its reason instead of
    being retried forever.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], publisher: Publisher) -> None:
        self._sessions = sessions
        self._publisher = publisher
        self._lock = asyncio.Lock()

    async def publish(self, ids: Sequence[int] | None = None, limit: int = 500) -> int:
        """Publish pending rows (``ids`` only, or the oldest ``limit``); returns how many."""
        async with self._lock, self._sessions() as session:
            query = select(OutboxMessage).where(
                OutboxMessage.published_at.is_(None), OutboxMessage.failed_reason.is_(None)
            )
            if ids is not None:
                if not ids:
                    return 0
                query = query.where(OutboxMessage.id.in_(ids))
            rows = (await session.scalars(query.order_by(OutboxMessage.id).limit(limit))).all()
            sent = 0
            for row in rows:
                headers = {MSG_ID: row.event_id, TYPE_HEADER: Subject.parse(row.subject).type}
                values: dict[str, object]
                try:
                    await self._publisher.publish_raw(row.subject, row.payload, headers)
                    values = {"published_at": datetime.now(UTC)}
                    sent += 1
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - decided per row below
                    if _permanent(exc):
                        log.error(
                            "outbox message can never be published; parked",
                            event_id=row.event_id,
                            error=str(exc),
                        )
                        values = {"failed_reason": str(exc)[:2000], "attempts": row.attempts + 1}
                    else:
                        log.warning(
                            "outbox publish failed; will retry", event_id=row.event_id, error=str(exc)
                        )
                        values = {"attempts": row.attempts + 1}
                await session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values)
                )
                await session.commit()
            return sent

    async def prune(self, published_for: timedelta, processed_for: timedelta) -> None:
        """Forget published rows and processed-message records once they can no longer matter."""
        now = datetime.now(UTC)
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(OutboxMessage).where(OutboxMessage.published_at < now - published_for)
            )
            await session.execute(
                delete(ProcessedMessage).where(ProcessedMessage.processed_at < now - processed_for)
            )

    async def run(
        self,
        interval: float = 2.0,
        *,
        keep_published: timedelta = timedelta(days=1),
        keep_processed: timedelta = timedelta(days=31),
        prune_every: int = 150,
    ) -> None:
        """Sweep forever; prune now and then. Processed records outlive the streams' max age
        (30 days), so a message still in a stream is never forgotten as handled."""
        rounds = 0
        while True:
            try:
                await self.publish()
                if rounds % prune_every == 0:
                    await self.prune(keep_published, keep_processed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep sweeping; the rows stay pending
                log.warning("outbox sweep failed; will retry", error=str(exc))
            rounds += 1
            await asyncio.sleep(interval)
