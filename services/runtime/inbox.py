"""Handle each message once: the effect, the processed-message record and the messages it
causes commit in one transaction (inbox + transactional outbox).

JetStream delivers at least once: a worker can die after its commit and before its ack, and
the message comes again. The second delivery finds the processed record, does nothing, and
only makes sure what the first one caused gets published.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select, update
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
    row = OutboxMessage(event_id=message.event_id, subject=message.SUBJECT, payload=encode(message))
    session.add(row)
    return row


class Outbox:
    """Publishes staged messages; a sweep catches what a crash left behind."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], publisher: Publisher) -> None:
        self._sessions = sessions
        self._publisher = publisher
        self._lock = asyncio.Lock()

    async def publish(self, ids: Sequence[int] | None = None, limit: int = 500) -> int:
        """Publish pending rows (``ids`` only, or the oldest ``limit``); returns how many."""
        async with self._lock, self._sessions() as session:
            query = select(OutboxMessage).where(OutboxMessage.published_at.is_(None))
            if ids is not None:
                if not ids:
                    return 0
                query = query.where(OutboxMessage.id.in_(ids))
            rows = (await session.scalars(query.order_by(OutboxMessage.id).limit(limit))).all()
            sent = 0
            for row in rows:
                headers = {MSG_ID: row.event_id, TYPE_HEADER: Subject.parse(row.subject).type}
                await self._publisher.publish_raw(row.subject, row.payload, headers)
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id)
                    .values(published_at=datetime.now(UTC))
                )
                await session.commit()
                sent += 1
            return sent

    async def run(self, interval: float = 2.0) -> None:
        """Sweep forever; errors (NATS briefly away) are logged and retried."""
        while True:
            try:
                await self.publish()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep sweeping; the rows stay pending
                log.warning("outbox sweep failed; will retry", error=str(exc))
            await asyncio.sleep(interval)
