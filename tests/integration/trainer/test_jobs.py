"""The trainer service's job lifecycle over real NATS and a real database: start, progress,
checkpoints, the adapter in its bucket and its registration; cancel, pause and resume; the same
job asked for twice.

The training itself is ``ScriptedTraining`` (tests/support/trainer.py), which talks to the
service exactly as ``run_training`` does; ``test_crash_resume.py`` runs the real one.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import select

from skill_adapter.contracts import (
    ADAPTERS_BUCKET,
    CHECKPOINTS_BUCKET,
    AdapterRegistered,
    CancelJob,
    JobCancelled,
    JobCheckpointed,
    JobFailed,
    JobPaused,
    JobProgress,
    JobStarted,
    JobSucceeded,
    PauseJob,
    ResumeJob,
)
from skill_adapter.modelstore import ModelInfo, preflight_adapter, unpack_archive
from skill_adapter.runtime.db import create_engine, session_factory
from skill_adapter.trainer.models import CheckpointRecord, TrainingJob
from tests.integration.trainer.conftest import RunService
from tests.support.helpers import dead_letters_for
from tests.support.trainer import ScriptedTraining, Trainer, start_job

pytestmark = pytest.mark.integration


async def job_row(database_url: str, job_id: str) -> tuple[TrainingJob | None, list[CheckpointRecord]]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            row = await session.get(TrainingJob, job_id)
            ledger = (
                await session.scalars(
                    select(CheckpointRecord)
                    .where(CheckpointRecord.job_id == job_id)
                    .order_by(CheckpointRecord.id)
                )
            ).all()
            return row, list(ledger)
    finally:
        await engine.dispose()


async def stored_checkpoints(trainer: Trainer, job_id: str) -> set[str]:
    return {
        o.name for o in await trainer.objects.list(CHECKPOINTS_BUCKET.name) if o.name.startswith(f"{job_id}/")
    }


async def test_a_job_trains_checkpoints_and_registers_its_adapter(
    run_service: RunService,
    trainer: Trainer,
    tiny_base: ModelInfo,
    adapter_template: Path,
    tmp_path: Path,
    database_url: str,
    unique: str,
) -> None:
    skill = await trainer.push_skill(tmp_path)
    dataset = await trainer.push_dataset(tmp_path / "dataset", f"ds-{unique}")
    training = ScriptedTraining(adapter_template, steps=6, checkpoint_every=2)
    job_id = f"job-{unique}"
    async with run_service(training, database_url=database_url):
        command = await trainer.send(start_job(job_id, dataset, skill, str(tiny_base.path)))
        outcome = await trainer.outcome(job_id)
        await trainer.wait_for(job_id, AdapterRegistered)

    assert isinstance(outcome, JobSucceeded), outcome
    events = trainer.of(job_id)
    kinds = [type(e) for e in events]
    assert kinds[0] is JobStarted and kinds[-2:] == [AdapterRegistered, JobSucceeded], kinds
    assert kinds.count(JobStarted) == 1 and kinds.count(AdapterRegistered) == 1
    registered = next(e for e in events if isinstance(e, AdapterRegistered))
    assert (registered.dataset_object, registered.dataset_digest) == (
        command.dataset_object,
        command.dataset_digest,
    ), "the evaluator finds the held-out prompts of the adapter's dataset"
    assert all(e.causation_id == command.event_id for e in events)
    assert all(e.correlation_id == job_id for e in events)
    # progress and checkpoints in the order they happened
    assert [e.step for e in events if isinstance(e, JobProgress)] == [1, 2, 3, 4, 5, 6]
    checkpoints = [e for e in events if isinstance(e, JobCheckpointed)]
    assert [(e.phase, e.step, e.final) for e in checkpoints] == [
        ("sft", 2, False),
        ("sft", 4, False),
        ("sft", 6, False),
        ("sft", 6, True),
    ]
    assert checkpoints[0].object_name == f"{job_id}/sft-000002.zip"
    assert checkpoints[-1].object_name == f"{job_id}/sft-000006-final.zip"
    at = {
        (type(e).__name__, getattr(e, "step", None), getattr(e, "final", None)): i
        for i, e in enumerate(events)
    }
    assert at["JobProgress", 2, None] < at["JobCheckpointed", 2, False] < at["JobProgress", 3, None]
    started = events[0]
    assert isinstance(started, JobStarted)
    assert started.device == "cpu" and started.resumed_from_step is None and started.worker_id
    assert started.hyperparameters == {"lora_r": 8, "max_steps": 6, "learning_rate": 1e-3}

    registered = next(e for e in events if isinstance(e, AdapterRegistered))
    adapter_id = f"ft:tiny:mini-json:{job_id}"
    assert registered.adapter_id == outcome.adapter_id == adapter_id
    assert registered.object_name == outcome.adapter_object == f"{adapter_id}.zip"
    assert registered.digest == outcome.adapter_digest
    assert registered.base_model == tiny_base.id and registered.rank == 8
    assert registered.chat_template_hash == tiny_base.chat_template_sha256
    assert (registered.skill_name, registered.skill_version, registered.job_id) == (*skill, job_id)
    assert outcome.trained_tokens == 600 and outcome.metrics == {"sft_loss": pytest.approx(1 / 6)}

    # the adapter is in its bucket, with the digest announced, and it can be served
    archive = tmp_path / "adapter.zip"
    await trainer.objects.get_file(ADAPTERS_BUCKET.name, registered.object_name, archive)
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == registered.digest
    unpack_archive(archive, tmp_path / "adapter")
    assert preflight_adapter(tmp_path / "adapter", tiny_base) == []

    # the ledger and the bucket agree; retention kept the last two (the final is one of them)
    row, ledger = await job_row(database_url, job_id)
    assert row is not None and row.status == "succeeded" and row.adapter_id == adapter_id
    assert row.attempts == 1 and row.lease_until is None and row.device == "cpu"
    assert {r.object_name for r in ledger} == await stored_checkpoints(trainer, job_id)
    assert {(r.step, r.final) for r in ledger} == {(6, False), (6, True)}
    assert not (tmp_path / "trainer" / job_id).exists(), "the work dir is cleaned up"


async def test_cancel_a_queued_job_at_once_and_a_running_one_at_its_next_step(
    run_service: RunService,
    trainer: Trainer,
    tiny_base: ModelInfo,
    adapter_template: Path,
    tmp_path: Path,
    js: JetStreamContext,
    unique: str,
) -> None:
    skill = await trainer.push_skill(tmp_path)
    dataset = await trainer.push_dataset(tmp_path / "dataset", f"ds-{unique}")
    training = ScriptedTraining(adapter_template, steps=2000, checkpoint_every=1000, step_seconds=0.02)
    running, queued = f"run-{unique}", f"queued-{unique}"
    async with run_service(training):
        await trainer.send(start_job(running, dataset, skill, str(tiny_base.path)))
        await trainer.wait_for(running, JobProgress)
        await trainer.send(start_job(queued, dataset, skill, str(tiny_base.path)))  # the worker is busy
        await asyncio.sleep(0.5)
        cancel = await trainer.send(
            CancelJob(producer="tests", correlation_id=queued, job_id=queued, reason="no")
        )
        gone = await trainer.outcome(queued, timeout=10)
        assert isinstance(gone, JobCancelled) and gone.reason == "no" and gone.causation_id == cancel.event_id
        assert not trainer.of(queued, JobStarted)

        await trainer.send(
            CancelJob(producer="tests", correlation_id=running, job_id=running, reason="enough")
        )
        stopped = await trainer.outcome(running, timeout=10)
        assert isinstance(stopped, JobCancelled) and stopped.reason == "enough"
        steps = len(training.steps_run[running])
        assert steps < 2000

        # commands that no longer fit (a finished job, an unknown one) are acknowledged, nothing else
        for job_id in (running, f"unknown-{unique}"):
            await trainer.send(CancelJob(producer="tests", correlation_id=job_id, job_id=job_id))
            await trainer.send(PauseJob(producer="tests", correlation_id=job_id, job_id=job_id))
            await trainer.send(ResumeJob(producer="tests", correlation_id=job_id, job_id=job_id))
        await trainer.quiet(1.5)
    assert len(trainer.of(running, JobCancelled)) == 1 and not trainer.of(running, JobSucceeded, JobPaused)
    assert not trainer.of(f"unknown-{unique}")
    for consumer in ("trainer_cancel", "trainer_pause", "trainer_resume"):
        assert await dead_letters_for(js, consumer) == []
    row, _ = await job_row(f"sqlite+aiosqlite:///{tmp_path / 'trainer.db'}", running)
    assert row is not None and row.status == "cancelled" and row.reason == "enough"
    assert len(training.steps_run[running]) == steps, "the training stopped"


async def test_a_paused_job_resumes_from_its_pause_checkpoint(
    run_service: RunService,
    trainer: Trainer,
    tiny_base: ModelInfo,
    adapter_template: Path,
    tmp_path: Path,
    unique: str,
) -> None:
    skill = await trainer.push_skill(tmp_path)
    dataset = await trainer.push_dataset(tmp_path / "dataset", f"ds-{unique}")
    training = ScriptedTraining(adapter_template, steps=30, checkpoint_every=1000, step_seconds=0.05)
    job_id = f"job-{unique}"
    async with run_service(training):
        await trainer.send(start_job(job_id, dataset, skill, str(tiny_base.path)))
        await trainer.wait_for(job_id, JobProgress, count=3)
        await trainer.send(PauseJob(producer="tests", correlation_id=job_id, job_id=job_id))
        paused = (await trainer.wait_for(job_id, JobPaused, timeout=10))[0]
        assert isinstance(paused, JobPaused) and 3 <= paused.step < 30
        saved = trainer.of(job_id, JobCheckpointed)
        assert [(c.step, c.final) for c in saved] == [(paused.step, False)]  # saved by the pause
        await trainer.quiet(0.5)
        assert training.steps_run[job_id] == list(range(1, paused.step + 1)), "nothing runs while paused"

        await trainer.send(ResumeJob(producer="tests", correlation_id=job_id, job_id=job_id))
        outcome = await trainer.outcome(job_id, timeout=30)
    assert isinstance(outcome, JobSucceeded)
    first, second = trainer.of(job_id, JobStarted)
    assert first.resumed_from_step is None
    assert second.resumed_from_step == paused.step and second.resumed_from_phase == "sft"
    assert training.calls == [(job_id, None), (job_id, paused.step)]
    assert training.steps_run[job_id] == list(range(1, 31)), "every step once, none repeated"
    assert len(trainer.of(job_id, AdapterRegistered)) == 1


async def test_a_queued_job_pauses_at_once_and_runs_when_resumed(
    run_service: RunService,
    trainer: Trainer,
    tiny_base: ModelInfo,
    adapter_template: Path,
    tmp_path: Path,
    unique: str,
) -> None:
    skill = await trainer.push_skill(tmp_path)
    dataset = await trainer.push_dataset(tmp_path / "dataset", f"ds-{unique}")
    blocker = ScriptedTraining(adapter_template, steps=60, checkpoint_every=1000, step_seconds=0.05)
    first, second = f"first-{unique}", f"second-{unique}"
    async with run_service(blocker):
        await trainer.send(start_job(first, dataset, skill, str(tiny_base.path)))
        await trainer.wait_for(first, JobProgress)
        await trainer.send(start_job(second, dataset, skill, str(tiny_base.path)))
        await asyncio.sleep(0.3)
        await trainer.send(PauseJob(producer="tests", correlation_id=second, job_id=second))
        paused = (await trainer.wait_for(second, JobPaused, timeout=10))[0]
        assert isinstance(paused, JobPaused) and paused.step == 0
        assert isinstance(await trainer.outcome(first, timeout=30), JobSucceeded)
        await trainer.quiet(0.5)
        assert not trainer.of(second, JobStarted), "a paused job is not claimed"
        await trainer.send(ResumeJob(producer="tests", correlation_id=second, job_id=second))
        assert isinstance(await trainer.outcome(second, timeout=30), JobSucceeded)


async def test_the_same_job_twice_is_one_job_and_other_settings_are_refused(
    run_service: RunService,
    trainer: Trainer,
    tiny_base: ModelInfo,
    adapter_template: Path,
    tmp_path: Path,
    unique: str,
) -> None:
    skill = await trainer.push_skill(tmp_path)
    dataset = await trainer.push_dataset(tmp_path / "dataset", f"ds-{unique}")
    training = ScriptedTraining(adapter_template, steps=2)
    job_id = f"job-{unique}"
    command = start_job(job_id, dataset, skill, str(tiny_base.path))
    async with run_service(training):
        await trainer.send(command)
        assert isinstance(await trainer.outcome(job_id), JobSucceeded)
        await trainer.send(command.model_copy(update={"event_id": f"again-{unique}"}))  # a resend
        await trainer.send(start_job(job_id, dataset, skill, str(tiny_base.path), seed=7))
        refused = (await trainer.wait_for(job_id, JobFailed))[0]
        await trainer.send(start_job("not a valid id!", dataset, skill, str(tiny_base.path)))
        invalid = (await trainer.wait_for("not a valid id!", JobFailed))[0]
        await trainer.quiet(1.0)
    assert isinstance(refused, JobFailed) and refused.code == "duplicate_job_id"
    assert "already exists (succeeded) with other settings" in refused.reason
    assert isinstance(invalid, JobFailed) and invalid.code == "invalid_job_id"
    assert len(trainer.of(job_id, JobStarted)) == 1 and len(trainer.of(job_id, JobSucceeded)) == 1
    assert len(trainer.of(job_id, AdapterRegistered)) == 1
    assert training.calls == [(job_id, None)]
