"""Migrations and exactly-once handling on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, inspect, select, text

from skill_adapter.contracts import DatasetProgress
from skill_adapter.runtime.db import RUNTIME_VERSION_TABLE, create_engine, migrate, session_factory
from skill_adapter.runtime.inbox import Inbox
from skill_adapter.runtime.models import OutboxMessage, ProcessedMessage
from tests.support.helpers import ingest

pytestmark = pytest.mark.integration


def answer_to(command) -> DatasetProgress:
    return DatasetProgress(**command.caused(), producer="tests", dataset_id="d", stage="s", done=1, total=1)


async def test_migrations_create_the_runtime_tables_and_are_repeatable(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        await migrate(engine)  # a second start changes nothing
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            version = (
                await conn.execute(text(f"SELECT version_num FROM {RUNTIME_VERSION_TABLE}"))
            ).scalar_one()
        assert {"processed_messages", "outbox", RUNTIME_VERSION_TABLE} <= tables
        assert version == "0002"
    finally:
        await engine.dispose()


async def test_concurrent_migrations_do_not_collide(database_url: str) -> None:
    engines = [create_engine(database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate(e) for e in engines))
    finally:
        for e in engines:
            await e.dispose()


async def test_a_message_is_handled_once_with_its_outbox(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate(engine)
    sessions = session_factory(engine)
    inbox = Inbox(sessions)
    command = ingest("once")
    calls = 0

    async def effect(session):
        nonlocal calls
        calls += 1
        await session.execute(text("CREATE TABLE IF NOT EXISTS effects (event_id VARCHAR(128))"))
        await session.execute(text("INSERT INTO effects VALUES (:e)"), {"e": command.event_id})
        return answer_to(command)

    try:
        first = await inbox.handle_once("svc_a", command, effect)
        again = await inbox.handle_once("svc_a", command, effect)
        other_consumer = await inbox.handle_once("svc_b", command, effect)
        assert first and len(first) == 1
        assert again is None
        assert other_consumer is not None  # each consumer handles it once
        assert calls == 2
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(ProcessedMessage)) == 2
            rows = (await session.scalars(select(OutboxMessage))).all()
            assert {r.subject for r in rows} == {DatasetProgress.SUBJECT}
            assert all(r.published_at is None for r in rows)
    finally:
        await engine.dispose()


async def test_failed_effect_rolls_back_everything(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate(engine)
    sessions = session_factory(engine)
    command = ingest("boom")

    async def effect(session):
        session.add(OutboxMessage(event_id="x-" + command.event_id, subject="a.evt.b.c.v1", payload=b"{}"))
        await session.flush()
        raise RuntimeError("boom")

    try:
        with pytest.raises(RuntimeError):
            await Inbox(sessions).handle_once("svc", command, effect)
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
            assert await session.scalar(select(func.count()).select_from(ProcessedMessage)) == 0
    finally:
        await engine.dispose()


async def test_racing_deliveries_of_one_message_apply_it_once(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate(engine)
    sessions = session_factory(engine)
    command = ingest("race")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS effects (event_id VARCHAR(128))"))

    async def effect(session):
        await session.execute(text("INSERT INTO effects VALUES (:e)"), {"e": command.event_id})
        await asyncio.sleep(0.2)  # both deliveries are inside their transactions now
        return None

    try:
        results = await asyncio.gather(
            *(Inbox(sessions).handle_once("svc", command, effect) for _ in range(2)), return_exceptions=True
        )
        async with engine.connect() as conn:
            count = (
                await conn.execute(
                    text("SELECT count(*) FROM effects WHERE event_id = :e"), {"e": command.event_id}
                )
            ).scalar_one()
        assert count == 1
        assert sorted(r is None for r in results if not isinstance(r, BaseException)) in (
            [False, True],
            [False],
        )
    finally:
        await engine.dispose()


class FlakyPublisher:
    """A fake publisher: refuses one subject for good, another once, sends the rest."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.failed_once = False

    async def publish_raw(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        import nats.errors

        if subject == "too.evt.big.thing.v1":
            raise nats.errors.MaxPayloadError
        if subject == "flaky.evt.once.thing.v1" and not self.failed_once:
            self.failed_once = True
            raise TimeoutError("nats briefly away")
        self.sent.append(headers["Nats-Msg-Id"])


async def test_outbox_rows_are_independent_and_unpublishable_ones_are_parked(database_url: str) -> None:
    from datetime import timedelta

    from skill_adapter.runtime.inbox import Outbox

    engine = create_engine(database_url)
    await migrate(engine)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        for event_id, subject in (
            ("big", "too.evt.big.thing.v1"),
            ("flaky", "flaky.evt.once.thing.v1"),
            ("ok", "fine.evt.ok.thing.v1"),
        ):
            session.add(OutboxMessage(event_id=event_id, subject=subject, payload=b"{}"))
    publisher = FlakyPublisher()
    outbox = Outbox(sessions, publisher)  # type: ignore[arg-type]
    try:
        assert await outbox.publish() == 1
        assert publisher.sent == ["ok"], "a failing row does not hold back the next ones"
        assert await outbox.publish() == 1
        assert publisher.sent == ["ok", "flaky"]
        assert await outbox.publish() == 0, "the parked row is not retried"
        async with sessions() as session:
            big = (await session.scalars(select(OutboxMessage).where(OutboxMessage.event_id == "big"))).one()
            assert big.failed_reason and big.published_at is None and big.attempts == 1
        await outbox.prune(timedelta(0), timedelta(0))
        async with sessions() as session:
            left = {r.event_id for r in (await session.scalars(select(OutboxMessage))).all()}
        assert left == {"big"}, "published rows are pruned, the parked one is kept for a person to see"
    finally:
        await engine.dispose()
