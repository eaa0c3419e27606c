"""The crash test: a trainer process killed with SIGKILL mid-job is restarted and finishes the
job from its last checkpoint, with the real training code on a tiny random Llama.

Real nats-server (the session's), a SQLite file, the dataset in the data generator's format in
the ``datasets`` bucket. Killing the trainer does not kill the nats-server, so this says
nothing about JetStream's own fsync (see PITFALLS.md); it is about the trainer's claim, lease,
checkpoints and the single registration of the adapter.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.js.errors import NotFoundError

from skill_adapter.contracts import (
    ADAPTERS_BUCKET,
    DATASETS_BUCKET,
    AdapterRegistered,
    DatasetStats,
    HeldoutRecord,
    JobCheckpointed,
    JobProgress,
    JobStarted,
    JobSucceeded,
)
from skill_adapter.data_generator.artifact import (
    ChatMessage,
    GrpoRecord,
    Manifest,
    SampleRecord,
    entry,
    to_jsonl,
)
from skill_adapter.modelstore import ModelInfo, preflight_adapter, unpack_archive
from skill_adapter.runtime.nats_server import EmbeddedNats
from tests.integration.trainer.test_jobs import job_row
from tests.support.helpers import eventually
from tests.support.trainer import Trainer, start_job

pytest.importorskip("torch", reason="training needs the trainer extra")
pytest.importorskip("trl", reason="training needs the trainer extra")
pytest.importorskip("skill_adapter.trainer.training", reason="the training code")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


async def push_generated_dataset(
    trainer: Trainer, dataset_id: str, skill: tuple[str, str], base: str
) -> tuple[str, str]:
    """A small dataset written with the data generator's own records and manifest."""

    def reply(i: int) -> SampleRecord:
        question, answer = f"What is {i} plus {i}?", f'{{"answer": "{2 * i}"}}'
        return SampleRecord(
            messages=[
                ChatMessage(role="user", content=question),
                ChatMessage(role="assistant", content=answer),
            ],
            prompt_id=f"p{i}",
            source="near_miss",
            strategy="guided",
            score=1.0,
            tokens=len(question) + len(answer),
        )

    files = {
        "train": [reply(i) for i in range(24)],
        "validation": [reply(100 + i) for i in range(2)],
        "heldout": [HeldoutRecord(prompt_id="h1", prompt="What is 7 plus 7?", source="evals")],
        "grpo": [
            GrpoRecord(
                prompt=[ChatMessage(role="user", content="What is 3 plus 4?")],
                prompt_id="g1",
                reward_mean=0.5,
                reward_std=0.5,
            )
        ],
    }
    entries = []
    for role, records in files.items():
        data = to_jsonl(records)
        name = f"{dataset_id}/{role}.jsonl"
        await trainer.objects.put(DATASETS_BUCKET.name, name, data)
        entries.append(entry(name, role, data, records))
    manifest = Manifest(
        dataset_id=dataset_id,
        created_at=datetime.now(UTC),
        skill_name=skill[0],
        skill_version=skill[1],
        skill_bundle_digest="0" * 64,
        rubric_digest="0" * 64,
        base_model=base,
        strategy_requested="guided",
        strategies=["guided"],
        seed=0,
        num_samples_requested=24,
        max_length=256,
        counts={role: len(records) for role, records in files.items()},
        acceptance_rates={"guided": 1.0},
        sample_schema=SampleRecord.model_json_schema(),
        files=entries,
        stats=DatasetStats(),
    )
    data = manifest.model_dump_json(indent=2).encode()
    await trainer.objects.put(DATASETS_BUCKET.name, f"{dataset_id}/manifest.json", data)
    return f"{dataset_id}/manifest.json", hashlib.sha256(data).hexdigest()


def trainer_process(root: Path, nats_url: str, log_name: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SKILL_ADAPTER_NATS_URL": nats_url,
        "SKILL_ADAPTER_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'trainer.db'}",
        "SKILL_ADAPTER_STATE_DIR": str(root),
        "SKILL_ADAPTER_EMBEDDED_NATS": "false",
        "SKILL_ADAPTER_TRAINER_DEVICE": "cpu",
        "SKILL_ADAPTER_TRAINER_LEASE_SECONDS": "6",
        "SKILL_ADAPTER_TRAINER_POLL_SECONDS": "0.5",
        "SKILL_ADAPTER_TRAINER_PROGRESS_SECONDS": "0",
        "SKILL_ADAPTER_LOG_FORMAT": "json",
    }
    log = (root / log_name).open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "skill_adapter.trainer"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def ready(trainer: Trainer, process: subprocess.Popen[bytes]) -> None:
    """Until the trainer has provisioned its consumers (a fresh server has no streams yet)."""
    js = trainer.nc.jetstream(timeout=5)

    async def provisioned() -> bool:
        assert process.poll() is None, "the trainer exited during start-up"
        try:
            await js.consumer_info("TRAINING", "trainer_start")
        except NotFoundError:
            return False
        return True

    await eventually(provisioned, timeout=120, what="the trainer's consumers")


@pytest.fixture
def tiny(tmp_path: Path) -> ModelInfo:
    from skill_adapter.modelstore import tiny_random_model

    return tiny_random_model(tmp_path / "tiny", initializer_range=0.3)


async def test_a_killed_trainer_restarts_and_finishes_from_its_checkpoint(
    nats_server: EmbeddedNats, trainer: Trainer, tiny: ModelInfo, tmp_path: Path, unique: str
) -> None:
    skill = await trainer.push_skill(tmp_path)
    dataset = await push_generated_dataset(trainer, f"ds-{unique}", skill, tiny.id)
    job_id = f"crash-{unique}"
    command = start_job(
        job_id,
        dataset,
        skill,
        tiny.id,
        hyperparameters={
            "max_steps": 120,
            "checkpoint_every": 5,
            "batch_size": 4,
            "lora_r": 8,
            "learning_rate": 5e-3,
        },
    )
    first = trainer_process(tmp_path, nats_server.url, "trainer-1.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        await ready(trainer, first)
        await trainer.send(command)
        checkpoint = (await trainer.wait_for(job_id, JobCheckpointed, timeout=240))[0]
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        assert isinstance(checkpoint, JobCheckpointed) and checkpoint.step >= 5
        assert not trainer.of(job_id, JobSucceeded), "killed mid-job"
        killed_at = len(trainer.events)

        second = trainer_process(tmp_path, nats_server.url, "trainer-2.log")
        outcome = await trainer.outcome(job_id, timeout=420)
        await asyncio.sleep(1.0)  # anything duplicated would arrive now
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
    log = (tmp_path / "trainer-2.log").read_text(errors="replace")
    assert isinstance(outcome, JobSucceeded), log[-4000:]

    starts = trainer.of(job_id, JobStarted)
    assert len(starts) == 2
    resumed = starts[1]
    assert isinstance(resumed, JobStarted)
    assert resumed.resumed_from_step is not None and resumed.resumed_from_step >= checkpoint.step > 0
    assert resumed.resumed_from_phase == "sft" and resumed.worker_id != starts[0].worker_id  # type: ignore[attr-defined]
    after = [e for e in trainer.events[killed_at:] if isinstance(e, JobProgress) and e.job_id == job_id]
    assert after and min(e.step for e in after) == resumed.resumed_from_step + 1, (
        "no step from the start again"
    )
    assert max(e.step for e in after) == 120

    assert len(trainer.of(job_id, JobSucceeded)) == 1
    registered = trainer.of(job_id, AdapterRegistered)
    assert len(registered) == 1 and registered[0].object_name == outcome.adapter_object  # type: ignore[attr-defined]
    ours = [o for o in await trainer.objects.list(ADAPTERS_BUCKET.name) if o.name.endswith(f":{job_id}.zip")]
    assert [o.name for o in ours] == [outcome.adapter_object] and ours[0].digest == outcome.adapter_digest
    archive = tmp_path / "adapter.zip"
    await trainer.objects.get_file(ADAPTERS_BUCKET.name, outcome.adapter_object, archive)
    unpack_archive(archive, tmp_path / "adapter")
    assert preflight_adapter(tmp_path / "adapter", tiny) == []

    row, _ = await job_row(f"sqlite+aiosqlite:///{tmp_path / 'trainer.db'}", job_id)
    assert row is not None and row.status == "succeeded" and row.attempts == 2
    assert second is not None and second.returncode == 0, "the restarted trainer stops cleanly"
