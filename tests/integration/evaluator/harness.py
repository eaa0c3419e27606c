"""A running evaluator plus what the pipeline before it would have left behind: a skill version,
a dataset with held-out prompts, and adapters in the ``adapters`` bucket."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from skill_adapter.contracts import (
    ADAPTERS_BUCKET,
    BUCKETS,
    AdapterPromoted,
    AdapterRegistered,
    AdapterRetired,
    DatasetStats,
    EvaluationCompleted,
    EvaluationFailed,
    EvaluationProgress,
    HeldoutRecord,
    StartEvaluation,
)
from skill_adapter.data_generator.artifact import FileEntry, Manifest, sha256, to_jsonl
from skill_adapter.modelstore import pack_folder
from skill_adapter.runtime.objects import Objects, ensure_bucket
from skill_adapter.runtime.publisher import Publisher
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip
from tests.integration.inference.conftest import TINY, make_adapter
from tests.support.helpers import eventually

EVENTS = (EvaluationProgress, EvaluationCompleted, EvaluationFailed, AdapterPromoted, AdapterRetired)

HELDOUT = [
    HeldoutRecord(prompt_id="h1", prompt="What is the capital of Italy?", source="heldout_file"),
    HeldoutRecord(prompt_id="h2", prompt="Name a primary colour.", source="heldout_file"),
    HeldoutRecord(
        prompt_id="n1",
        prompt="What is 6 times 7?",
        source="near_miss",
        near_miss=True,
        expected_content=["42"],
    ),
]


@dataclass
class Harness:
    nc: Client
    objects: Objects
    events: list[Any] = field(default_factory=list)

    async def setup(self) -> None:
        for bucket in BUCKETS:
            await ensure_bucket(self.nc.jetstream(), bucket)

    async def push_skill(self, folder: Path) -> str:
        data = to_zip(from_directory(folder), folder.name)
        analysis = analyze(data, f"{folder.name}.zip")
        assert analysis.version
        await self.objects.put("skill-versions", f"{folder.name}/{analysis.version}.zip", data)
        return analysis.version

    async def put_dataset(self, dataset_id: str, skill: str, version: str) -> tuple[str, str]:
        """A dataset as the data generator stores it (only held-out prompts matter here)."""
        heldout = to_jsonl(HELDOUT)
        name = f"{dataset_id}/heldout.jsonl"
        await self.objects.put("datasets", name, heldout)
        manifest = Manifest(
            dataset_id=dataset_id,
            created_at=datetime.now(UTC),
            skill_name=skill,
            skill_version=version,
            skill_bundle_digest="0" * 64,
            rubric_digest="0" * 64,
            base_model=TINY,
            strategy_requested="auto",
            strategies=["guided"],
            seed=0,
            num_samples_requested=1,
            max_length=256,
            counts={"heldout": len(HELDOUT)},
            acceptance_rates={},
            sample_schema={},
            files=[
                FileEntry(name=name, role="heldout", digest=sha256(heldout), records=3, bytes=len(heldout))
            ],
            stats=DatasetStats(),
        )
        data = manifest.model_dump_json().encode()
        await self.objects.put("datasets", f"{dataset_id}/manifest.json", data)
        return f"{dataset_id}/manifest.json", sha256(data)

    async def register(
        self,
        adapter_id: str,
        base_model_path: Path,
        tmp: Path,
        *,
        skill: str,
        version: str,
        dataset: tuple[str, str] | None,
        base_model: str = TINY,
        seed: int = 1,
    ) -> AdapterRegistered:
        made = await asyncio.to_thread(make_adapter, base_model_path, tmp / f"made-{seed}", seed=seed)
        archive = pack_folder(made, tmp / f"adapter-{seed}.zip")
        stored = await self.objects.put_file(ADAPTERS_BUCKET.name, f"{adapter_id}.zip", archive)
        event = AdapterRegistered(
            correlation_id=adapter_id,
            producer="tests",
            adapter_id=adapter_id,
            base_model=base_model,
            skill_name=skill,
            skill_version=version,
            job_id=adapter_id.rsplit(":", 1)[-1],
            object_name=stored.name,
            digest=stored.digest,
            rank=8,
            dataset_object=dataset[0] if dataset else None,
            dataset_digest=dataset[1] if dataset else None,
        )
        await Publisher(self.nc.jetstream()).publish(event)
        return event

    async def start(self, **fields: Any) -> StartEvaluation:
        values = {"producer": "tests", "correlation_id": fields["run_id"], "base_model": TINY, **fields}
        command = StartEvaluation(**values)
        await Publisher(self.nc.jetstream()).publish(command)
        return command

    async def outcome(self, model: str, timeout: float = 180) -> EvaluationCompleted | EvaluationFailed:
        async def done() -> EvaluationCompleted | EvaluationFailed | None:
            for event in self.events:
                if isinstance(event, EvaluationCompleted | EvaluationFailed) and event.model == model:
                    return event
            return None

        return await eventually(done, timeout=timeout, what=f"the evaluation of {model}")

    async def outcome_of(self, run_id: str, timeout: float = 180) -> EvaluationCompleted | EvaluationFailed:
        async def done() -> EvaluationCompleted | EvaluationFailed | None:
            for event in self.events:
                if isinstance(event, EvaluationCompleted | EvaluationFailed) and event.run_id == run_id:
                    return event
            return None

        return await eventually(done, timeout=timeout, what=f"run {run_id}")

    def progress(self, run_id: str) -> list[EvaluationProgress]:
        return [e for e in self.events if isinstance(e, EvaluationProgress) and e.run_id == run_id]

    def of(self, kind: type, adapter_id: str) -> list[Any]:
        return [
            e for e in self.events if isinstance(e, kind) and getattr(e, "adapter_id", None) == adapter_id
        ]

    async def json(self, name: str) -> Any:
        return json.loads(await self.objects.get("evaluations", name))
