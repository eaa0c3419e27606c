"""Dataset runs in the database: the migration matches the models, a run has one owner, and a
cancel recorded before a run's outcome wins over it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, update

from skill_adapter.contracts import CancelDataset, DatasetFailed, DatasetGenerated, GenerateDataset
from skill_adapter.data_generator import cancel
from skill_adapter.data_generator.models import DataGeneratorBase, DatasetRun
from skill_adapter.data_generator.service import MIGRATIONS
from skill_adapter.data_generator.settings import DataGeneratorSettings
from skill_adapter.data_generator.worker import Worker
from skill_adapter.runtime.db import create_engine, migrate, session_factory
from skill_adapter.runtime.models import OutboxMessage

pytestmark = pytest.mark.integration


def command(dataset_id: str) -> GenerateDataset:
    return GenerateDataset(
        producer="test",
        correlation_id=dataset_id,
        dataset_id=dataset_id,
        skill_name="s",
        skill_version="v",
        base_model="m",
    )


async def test_the_migration_creates_exactly_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine, MIGRATIONS.script_location, MIGRATIONS.version_table)

        def diff(sync):  # type: ignore[no-untyped-def]
            context = MigrationContext.configure(sync, opts={"compare_type": True})
            return [
                d
                for d in compare_metadata(context, DataGeneratorBase.metadata)
                if not (d[0] == "remove_table")  # other components' tables live in the same database
            ]

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_racing_workers_claim_a_run_once_and_an_expired_lease_is_taken_over(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine, MIGRATIONS.script_location, MIGRATIONS.version_table)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            session.add(
                DatasetRun(
                    dataset_id="d1",
                    command=command("d1").model_dump(mode="json"),
                    status="queued",
                    attempts=0,
                )
            )
        settings = DataGeneratorSettings(datagen_lease_seconds=30)
        workers = [Worker(SimpleNamespace(sessions=sessions), settings) for _ in range(4)]  # type: ignore[arg-type]

        claims = await asyncio.gather(*(w.claim() for w in workers))
        won = [(w, c) for w, c in zip(workers, claims, strict=True) if c is not None]
        assert len(won) == 1
        assert won[0][1][0].dataset_id == "d1" and won[0][1][1] == 1
        assert all(c is None for c in await asyncio.gather(*(w.claim() for w in workers)))

        # the owner dies: once its lease runs out, another worker takes the run over
        async with sessions() as session, session.begin():
            await session.execute(
                update(DatasetRun).values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
            )
        again = await workers[3].claim()
        assert again is not None and again[1] == 2
        async with sessions() as session:
            row = await session.get(DatasetRun, "d1")
            assert row is not None and row.owner == workers[3].owner and row.status == "running"
    finally:
        await engine.dispose()


class FakeObjects:
    """The ``datasets`` bucket: names stored, and deletions in order."""

    def __init__(self, *names: str) -> None:
        self.names = set(names)
        self.deleted: list[str] = []

    async def delete(self, bucket: str, name: str) -> bool:
        self.deleted.append(name)
        if name in self.names:
            self.names.remove(name)
            return True
        return False


class FakeOutbox:
    def __init__(self) -> None:
        self.published: list[int] = []

    async def publish(self, ids: list[int]) -> int:
        self.published += ids
        return len(ids)


async def test_a_cancel_that_lands_while_the_files_are_stored_wins_over_the_dataset(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)  # the outbox
        await migrate(engine, MIGRATIONS.script_location, MIGRATIONS.version_table)
        sessions = session_factory(engine)
        asked = command("d1")
        async with sessions() as session, session.begin():
            session.add(
                DatasetRun(
                    dataset_id="d1", command=asked.model_dump(mode="json"), status="queued", attempts=0
                )
            )
        objects = FakeObjects("d1/train.jsonl", "d1/validation.jsonl", "d1/manifest.json")
        runtime = SimpleNamespace(sessions=sessions, objects=objects, outbox=FakeOutbox())
        worker = Worker(runtime, DataGeneratorSettings())  # type: ignore[arg-type]
        assert await worker.claim() is not None

        async with sessions() as session, session.begin():  # the cancel, handled as the files were stored
            effect = await cancel.cancel(
                session, CancelDataset(producer="t", correlation_id="j", dataset_id="d1", reason="stop")
            )
        assert effect.event is None and effect.poke

        generated = DatasetGenerated(
            producer="data-generator",
            correlation_id="d1",
            dataset_id="d1",
            skill_name="s",
            skill_version="v",
            object_name="d1/manifest.json",
            digest="ab" * 32,
            num_train=1,
            num_validation=1,
            num_heldout=0,
        )
        await worker.finish(asked, generated)

        assert objects.deleted[0] == "d1/manifest.json" and objects.names == set()
        async with sessions() as session:
            row = await session.get(DatasetRun, "d1")
            assert row is not None
            assert (row.status, row.reason, row.manifest_object, row.lease_until) == (
                "failed",
                "stop",
                None,
                None,
            )
            staged = (await session.scalars(select(OutboxMessage))).all()
        assert [m.subject for m in staged] == [DatasetFailed.SUBJECT]
        failed = DatasetFailed.model_validate_json(staged[0].payload)
        assert (failed.code, failed.reason, failed.dataset_id) == ("cancelled", "stop", "d1")
        assert runtime.outbox.published == [staged[0].id]

        # the run has ended: a late cancel changes nothing
        async with sessions() as session, session.begin():
            late = await cancel.cancel(
                session, CancelDataset(producer="t", correlation_id="j", dataset_id="d1")
            )
        assert late.event is None and not late.poke and "already failed" in late.note
    finally:
        await engine.dispose()
