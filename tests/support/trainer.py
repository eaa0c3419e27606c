"""The trainer service under test: a small stand-in for the training code, datasets and skills in
the buckets, and a recorder of the events a job causes.

``ScriptedTraining`` does what ``run_training`` does at the seam (``core.Hooks``), with none
of the maths: it reports ``started``, one progress report per step, hands over real checkpoint
folders (with ``skill_adapter_checkpoint.json``), obeys ``control()`` after every step, resumes
from a checkpoint folder where it says it stopped, and ends with a real PEFT adapter on the
tiny model (copied from a template made once) with its manifest, so the serving preflight
and the gateway can use it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from skill_adapter.contracts import (
    ADAPTERS_BUCKET,
    CHECKPOINTS_BUCKET,
    DATASETS_BUCKET,
    SKILL_VERSIONS_BUCKET,
    AdapterRegistered,
    JobCancelled,
    JobCheckpointed,
    JobFailed,
    JobPaused,
    JobProgress,
    JobStarted,
    JobSucceeded,
    Message,
    StartJob,
)
from skill_adapter.modelstore import AdapterManifest, ModelInfo, write_adapter_manifest
from skill_adapter.runtime.objects import Objects, ensure_bucket
from skill_adapter.runtime.publisher import Publisher
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip
from skill_adapter.trainer.core import (
    CHECKPOINT_META,
    Checkpoint,
    Hooks,
    Outcome,
    Progress,
    TrainingError,
    TrainingStopped,
    TrainSpec,
)
from tests.support.helpers import eventually
from tests.support.skills import write_mini_skill
from tests.support.training import sample, write_dataset

TRAINING_EVENTS: tuple[type[Message], ...] = (
    JobStarted,
    JobProgress,
    JobCheckpointed,
    JobPaused,
    JobSucceeded,
    JobFailed,
    JobCancelled,
)
FINAL = (JobSucceeded, JobFailed, JobCancelled)


def make_lora(base: ModelInfo, target: Path, *, rank: int = 8, seed: int = 1) -> Path:
    """A real PEFT LoRA adapter on ``base`` with non-zero weights (its replies differ)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base.path, local_files_only=True)
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        target_modules=["q_proj", "v_proj"],
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(target)
    return target


@dataclass
class ScriptedTraining:
    """A training function for ``build_service(train=...)``; see the module docstring."""

    adapter_template: Path
    steps: int = 6
    checkpoint_every: int = 2
    step_seconds: float = 0.0
    metrics: Callable[[int], dict[str, float]] = lambda step: {"loss": 1.0 / step}
    fail: dict[str, BaseException] = field(default_factory=dict)
    """job id -> exception to raise after the first step."""
    calls: list[tuple[str, int | None]] = field(default_factory=list)
    """(job id, the step it resumed from) for every call."""
    steps_run: dict[str, list[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, spec: TrainSpec, hooks: Hooks) -> Outcome:
        start = 0
        if spec.resume_from is not None:
            meta = json.loads((spec.resume_from / CHECKPOINT_META).read_text())
            start = int(meta["step"])
            assert (spec.resume_from / "state.json").is_file(), "the checkpoint's files came back"
        with self._lock:
            self.calls.append((spec.job_id, start if spec.resume_from is not None else None))
        assert (spec.dataset_dir / "manifest.json").is_file() and (spec.dataset_dir / "train.jsonl").is_file()
        hooks.started("cpu", {"lora_r": 8, "max_steps": self.steps, "learning_rate": 1e-3}, start or None)
        for step in range(start + 1, self.steps + 1):
            if self.step_seconds:
                time.sleep(self.step_seconds)
            with self._lock:
                self.steps_run.setdefault(spec.job_id, []).append(step)
            hooks.progress(
                Progress(
                    phase="sft", step=step, total_steps=self.steps, epoch=step / self.steps, loss=1.0 / step
                )
            )
            if spec.job_id in self.fail:
                raise self.fail[spec.job_id]
            wanted = hooks.control()
            if wanted == "cancel":
                raise TrainingStopped("cancel", "sft", step)
            if wanted == "pause" or step % self.checkpoint_every == 0 or step == self.steps:
                self._checkpoint(spec, hooks, step, final=False)
            if wanted == "pause":
                raise TrainingStopped("pause", "sft", step)
        self._checkpoint(spec, hooks, self.steps, final=True)
        adapter = spec.work_dir / "adapter"
        shutil.rmtree(adapter, ignore_errors=True)
        shutil.copytree(self.adapter_template, adapter)
        config = json.loads((adapter / "adapter_config.json").read_text())
        config["base_model_name_or_path"] = spec.base.id
        (adapter / "adapter_config.json").write_text(json.dumps(config))
        write_adapter_manifest(
            adapter,
            AdapterManifest.for_base(
                spec.base, rank=int(config["r"]), skill_name=spec.skill_name, job_id=spec.job_id
            ),
        )
        return Outcome(
            adapter_dir=adapter,
            device="cpu",
            hyperparameters={"lora_r": 8},
            metrics={"sft_loss": 1.0 / self.steps, "nan_is_dropped": float("nan")},
            trained_tokens=100 * (self.steps - start),
        )

    def _checkpoint(self, spec: TrainSpec, hooks: Hooks, step: int, *, final: bool) -> None:
        folder = spec.work_dir / ("sft-final" if final else f"sft/checkpoint-{step}")
        folder.mkdir(parents=True, exist_ok=True)
        metrics = self.metrics(step)
        (folder / "state.json").write_text(json.dumps({"step": step}))
        meta = {"phase": "sft", "step": step, "metrics": metrics, "final": final}
        (folder / CHECKPOINT_META).write_text(json.dumps(meta))
        hooks.checkpoint(Checkpoint(phase="sft", step=step, path=folder, metrics=metrics, final=final))
        shutil.rmtree(folder)  # the service stored it; the training code keeps no old copies


def failing(code: str) -> TrainingError:
    return TrainingError(code, f"{code} on purpose", ["do something else"])


@dataclass
class Trainer:
    """A NATS client beside the service: puts inputs into buckets, sends commands, records events."""

    nc: Client
    objects: Objects
    events: list[Message] = field(default_factory=list)

    @classmethod
    async def connect(cls, nc: Client) -> Trainer:
        js = nc.jetstream(timeout=10)
        for bucket in (SKILL_VERSIONS_BUCKET, DATASETS_BUCKET, CHECKPOINTS_BUCKET, ADAPTERS_BUCKET):
            await ensure_bucket(js, bucket)
        trainer = cls(nc, Objects(js))
        models = {m.SUBJECT: m for m in (*TRAINING_EVENTS, AdapterRegistered)}

        async def on_event(msg: Any) -> None:
            trainer.events.append(models[msg.subject].model_validate_json(msg.data))

        await nc.subscribe("training.evt.job.*.v1", cb=on_event)
        await nc.subscribe(AdapterRegistered.SUBJECT, cb=on_event)
        return trainer

    async def push_skill(self, parent: Path) -> tuple[str, str]:
        """The mini JSON skill as the skill-parser stores it: ``(name, version)``."""
        folder = parent / "mini-json" if (parent / "mini-json").is_dir() else write_mini_skill(parent)
        data = to_zip(from_directory(folder), folder.name)
        analysis = analyze(data, f"{folder.name}.zip")
        assert analysis.version
        await self.objects.put(SKILL_VERSIONS_BUCKET.name, f"{folder.name}/{analysis.version}.zip", data)
        return folder.name, analysis.version

    async def push_dataset(self, folder: Path, dataset_id: str, **manifest_fields: Any) -> tuple[str, str]:
        """A small dataset in the data generator's layout: ``(manifest object, its sha256)``."""
        train = [sample(f"What is {i} + {i}?", json.dumps({"answer": str(2 * i)})) for i in range(8)]
        validation = [sample("What is 10 + 10?", '{"answer": "20"}')]
        write_dataset(folder, train, validation, dataset_id=dataset_id)
        if manifest_fields:
            manifest = json.loads((folder / "manifest.json").read_text())
            manifest.update(manifest_fields)
            (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
        for name in ("train.jsonl", "validation.jsonl", "heldout.jsonl", "grpo.jsonl"):
            await self.objects.put(DATASETS_BUCKET.name, f"{dataset_id}/{name}", (folder / name).read_bytes())
        data = (folder / "manifest.json").read_bytes()
        await self.objects.put(DATASETS_BUCKET.name, f"{dataset_id}/manifest.json", data)
        return f"{dataset_id}/manifest.json", hashlib.sha256(data).hexdigest()

    async def send(self, command: Message) -> Message:
        await Publisher(self.nc.jetstream(timeout=10)).publish(command)
        return command

    def of(self, job_id: str, *kinds: type[Message]) -> list[Message]:
        return [
            e
            for e in self.events
            if getattr(e, "job_id", None) == job_id and (not kinds or isinstance(e, kinds))
        ]

    async def wait_for(
        self, job_id: str, *kinds: type[Message], timeout: float = 60, count: int = 1
    ) -> list[Message]:
        async def found() -> list[Message] | None:
            matching = self.of(job_id, *kinds)
            return matching if len(matching) >= count else None

        names = "/".join(k.__name__ for k in kinds)
        return await eventually(found, timeout=timeout, what=f"{count} {names} of {job_id}")

    async def outcome(self, job_id: str, timeout: float = 60) -> Message:
        return (await self.wait_for(job_id, *FINAL, timeout=timeout))[0]

    async def quiet(self, seconds: float = 1.0) -> None:
        """Let in-flight events arrive."""
        await asyncio.sleep(seconds)


def start_job(
    job_id: str, dataset: tuple[str, str], skill: tuple[str, str], base_model: str, **fields: Any
) -> StartJob:
    values: dict[str, Any] = {
        "producer": "tests",
        "correlation_id": job_id,
        "job_id": job_id,
        "skill_name": skill[0],
        "skill_version": skill[1],
        "base_model": base_model,
        "dataset_object": dataset[0],
        "dataset_digest": dataset[1],
        "method": "sft",
        **fields,
    }
    return StartJob(**values)
