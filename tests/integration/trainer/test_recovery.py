"""Jobs outlive their workers: an expired lease is taken over and resumed from the last
checkpoint, a job that keeps dying is failed, a stopping worker hands its job back, two
workers never hold one job, and retention keeps the checkpoints it promises."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import update

from skill_adapter.contracts import (
    CHECKPOINTS_BUCKET,
    AdapterRegistered,
    JobCheckpointed,
    JobFailed,
    JobProgress,
    JobStarted,
    JobSucceeded,
)
from skill_adapter.modelstore import ModelInfo, pack_folder
from skill_adapter.runtime.db import create_engine, migrate, session_factory
from skill_adapter.trainer.core import CHECKPOINT_META
from skill_adapter.trainer.models import MIGRATIONS, CheckpointRecord, TrainerBase, TrainingJob
from skill_adapter.trainer.repository import JobRepository, NotOurs
from tests.integration.trainer.conftest import RunService
from tests.integration.trainer.test_jobs import job_row, stored_checkpoints
from tests.support.trainer import ScriptedTraining, Trainer, start_job

pytestmark = pytest.mark.integration


async def migrated(database_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    await migrate(engine)
    await migrate(engine, MIGRATIONS.script_location, MIGRATIONS.version_table)
    return engine


async def test_an_expired_lease_is_taken_over_and_resumed_from_the_last_checkpoint(
    run_service: RunService,
    trainer: Trainer,
    tiny_base: ModelInfo,
    adapter_template: Path,
    tmp_path: Path,
    database_url: str,
    unique: str,
) -> None:
    """What a worker that died at step 4 (after storing its checkpoint) leaves behind."""
    skill = await trainer.push_skill(tmp_path)
    dataset = await trainer.push_dataset(tmp_path / "dataset", f"ds-{unique}")
    job_id = f"job-{unique}"
    command = start_job(job_id, dataset, skill, str(tiny_base.path))
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    (folder / "state.json").write_text(json.dumps({"step": 4}))
    (folder / CHECKPOINT_META).write_text(
        json.dumps({"phase": "sft", "step": 4, "metrics": {}, "final": False})
    )
    stored = await trainer.objects.put_file(
        CHECKPOINTS_BUCKET.name, f"{job_id}/sft-000004.zip", pack_folder(folder, tmp_path / "c.zip")
    )
    engine = await migrated(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            session.add(
                TrainingJob(
                    job_id=job_id,
                    command=command.model_dump(mode="json"),
                    status="running",
                    owner="dead-worker",
                    lease_until=datetime.now(UTC) + timedelta(seconds=2),
                    attempts=1,
                    phase="sft",
                    step=4,
                )
            )
            await session.flush()
            session.add(
                CheckpointRecord(
                    job_id=job_id,
                    phase="sft",
                    step=4,
                    final=False,
                    object_name=stored.name,
                    digest=stored.digest,
                    size=stored.size,
                    metrics={},
                )
            )
    finally:
        await engine.dispose()

    training = ScriptedTraining(adapter_template, steps=6, checkpoint_every=2)
    async with run_service(training, database_url=database_url):
        await asyncio.sleep(1.0)
        assert training.calls == [], "a live lease is respected"
        outcome = await trainer.outcome(job_id, timeout=30)
    assert isinstance(outcome, JobSucceeded)
    (started,) = trainer.of(job_id, JobStarted)
    assert started.resumed_from_step == 4 and started.resumed_from_phase == "sft"
    assert training.calls == [(job_id, 4)] and training.steps_run[job_id] == [5, 6]
    row, _ = await job_row(database_url, job_id)
    assert row is not None and row.attempts == 2 and row.owner != "dead-worker" and row.status == "succeeded"


async def test_a_job_that_keeps_killing_its_workers_fails(
    run_service: RunService,
    trainer: Trainer,
    tiny_base: ModelInfo,
    adapter_template: Path,
    tmp_path: Path,
    unique: str,
) -> None:
    skill = await trainer.push_skill(tmp_path)
    dataset = await trainer.push_dataset(tmp_path / "dataset", f"ds-{unique}")
    job_id = f"job-{unique}"
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'trainer.db'}"
    engine = await migrated(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            session.add(
                TrainingJob(
                    job_id=job_id,
                    command=start_job(job_id, dataset, skill, str(tiny_base.path)).model_dump(mode="json"),
                    status="running",
                    owner="third-dead-worker",
                    lease_until=datetime.now(UTC) - timedelta(seconds=1),
                    attempts=3,
                    step=0,
                )
            )
    finally:
        await engine.dispose()
    training = ScriptedTraining(adapter_template)
    async with run_service(training):
        failed = await trainer.outcome(job_id, timeout=20)
    assert isinstance(failed, JobFailed) and failed.code == "worker_crashed"
    assert "claimed 3 times" in failed.reason and training.calls == []


async def test_a_stopping_worker_hands_its_job_back_and_the_next_one_resumes_it(
    run_service: RunService,
    trainer: Trainer,
    tiny_base: ModelInfo,
    adapter_template: Path,
    tmp_path: Path,
    unique: str,
) -> None:
    skill = await trainer.push_skill(tmp_path)
    dataset = await trainer.push_dataset(tmp_path / "dataset", f"ds-{unique}")
    job_id = f"job-{unique}"
    training = ScriptedTraining(adapter_template, steps=40, checkpoint_every=3, step_seconds=0.05)
    async with run_service(training):
        await trainer.send(start_job(job_id, dataset, skill, str(tiny_base.path)))
        await trainer.wait_for(job_id, JobCheckpointed)
    row, _ = await job_row(f"sqlite+aiosqlite:///{tmp_path / 'trainer.db'}", job_id)
    assert row is not None and (row.status, row.owner, row.attempts) == ("queued", None, 0)
    assert not trainer.of(job_id, JobFailed, JobSucceeded)
    last = max(e.step for e in trainer.of(job_id, JobCheckpointed))  # type: ignore[attr-defined]

    async with run_service(training):
        outcome = await trainer.outcome(job_id, timeout=30)
    assert isinstance(outcome, JobSucceeded)
    assert trainer.of(job_id, JobStarted)[-1].resumed_from_step == last  # type: ignore[attr-defined]
    assert training.calls == [(job_id, None), (job_id, last)]


async def test_two_workers_never_hold_the_same_job(database_url: str, unique: str, tmp_path: Path) -> None:
    engine = await migrated(database_url)
    try:
        sessions = session_factory(engine)
        command = start_job(f"job-{unique}", ("d/manifest.json", "0" * 64), ("s", "v"), "m")
        async with sessions() as session, session.begin():
            session.add(
                TrainingJob(
                    job_id=command.job_id,
                    command=command.model_dump(mode="json"),
                    status="queued",
                    attempts=0,
                )
            )
        repositories = [JobRepository(sessions, f"worker-{i}", 30) for i in range(4)]
        claims = await asyncio.gather(*(r.claim() for r in repositories))
        assert [c is not None for c in claims].count(True) == 1
        winner = repositories[[c is not None for c in claims].index(True)]
        assert all(c is None for c in await asyncio.gather(*(r.claim() for r in repositories)))
        await winner.renew(command.job_id, "sft", 3)

        async with sessions() as session, session.begin():  # the winner stops renewing
            await session.execute(
                update(TrainingJob).values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
            )
        taker = next(r for r in repositories if r is not winner)
        again = await taker.claim()
        assert again is not None and again.attempt == 2 and again.step == 3
        with pytest.raises(NotOurs):  # the old owner can change nothing now
            await winner.finish(command.job_id, "succeeded", [])
        assert not await winner.holds(command.job_id) and await taker.holds(command.job_id)
    finally:
        await engine.dispose()


async def test_retention_keeps_the_last_k_the_best_and_the_finals(
    run_service: RunService,
    trainer: Trainer,
    tiny_base: ModelInfo,
    adapter_template: Path,
    tmp_path: Path,
    unique: str,
) -> None:
    skill = await trainer.push_skill(tmp_path)
    dataset = await trainer.push_dataset(tmp_path / "dataset", f"ds-{unique}")
    job_id = f"job-{unique}"
    eval_loss = {1: 0.9, 2: 0.5, 3: 0.2, 4: 0.6, 5: 0.7, 6: 0.8, 7: 0.85, 8: 0.9}
    training = ScriptedTraining(
        adapter_template,
        steps=8,
        checkpoint_every=1,
        metrics=lambda step: {"loss": 1.0 / step, "eval_loss": eval_loss[step]},
    )
    async with run_service(training, trainer_keep_checkpoints=2):
        await trainer.send(start_job(job_id, dataset, skill, str(tiny_base.path)))
        assert isinstance(await trainer.outcome(job_id), JobSucceeded)
    assert len(trainer.of(job_id, JobCheckpointed)) == 9
    kept = {f"{job_id}/sft-000003.zip", f"{job_id}/sft-000008.zip", f"{job_id}/sft-000008-final.zip"}
    assert await stored_checkpoints(trainer, job_id) == kept  # best (eval_loss 0.2), last 2, the final
    _, ledger = await job_row(f"sqlite+aiosqlite:///{tmp_path / 'trainer.db'}", job_id)
    assert {r.object_name for r in ledger} == kept
    assert len(trainer.of(job_id, AdapterRegistered)) == 1 and trainer.of(job_id, JobProgress)


async def test_the_migration_creates_exactly_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine, MIGRATIONS.script_location, MIGRATIONS.version_table)

        def diff(sync):  # type: ignore[no-untyped-def]
            context = MigrationContext.configure(sync, opts={"compare_type": True})
            return [
                d
                for d in compare_metadata(context, TrainerBase.metadata)
                if not (d[0] == "remove_table")  # other components' tables live in the same database
            ]

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()
