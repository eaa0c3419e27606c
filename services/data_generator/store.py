"""Writing a finished dataset to the ``datasets`` bucket, and the event that announces it.

Each file is validated record by record before it is stored; ``manifest.json`` (the lineage
sidecar) goes last, so a reader that finds a manifest finds every file it lists, with the
digest it says.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from skill_adapter.contracts import (
    DATASETS_BUCKET,
    DatasetFile,
    DatasetGenerated,
    GenerateDataset,
    HeldoutRecord,
)
from skill_adapter.runtime.objects import Objects

from .artifact import (
    FileEntry,
    GrpoRecord,
    Manifest,
    SampleRecord,
    entry,
    parse_jsonl,
    sha256,
    to_jsonl,
)
from .pipeline import GeneratedDataset, LoadedSkill
from .strategies import Sampler

MANIFEST = "manifest.json"
FILES = ("train.jsonl", "validation.jsonl", "heldout.jsonl", "grpo.jsonl")
"""The dataset's files besides the manifest, in the order they are stored."""


def object_name(dataset_id: str, file: str) -> str:
    return f"{dataset_id}/{file}"


def rubric_digest(skill: LoadedSkill) -> str:
    canonical = json.dumps(skill.rubric.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def store_dataset(
    objects: Objects,
    command: GenerateDataset,
    skill: LoadedSkill,
    dataset: GeneratedDataset,
    sampler: Sampler,
    judge_model: str | None,
) -> tuple[Manifest, str]:
    """Store every file, then the manifest; returns it and its digest."""
    files: list[FileEntry] = []
    parts: list[tuple[str, str, list, type]] = [
        (FILES[0], "train", dataset.train, SampleRecord),
        (FILES[1], "validation", dataset.validation, SampleRecord),
        (FILES[2], "heldout", dataset.heldout, HeldoutRecord),
        (FILES[3], "grpo", dataset.grpo, GrpoRecord),
    ]
    for file, role, records, model in parts:
        data = to_jsonl(records)
        parse_jsonl(data, model, file)  # what we store must read back
        name = object_name(command.dataset_id, file)
        await objects.put(DATASETS_BUCKET.name, name, data)
        files.append(entry(name, role, data, records))
    info = await sampler.base.model_info(command.base_model)
    stats = dataset.stats
    manifest = Manifest(
        dataset_id=command.dataset_id,
        created_at=datetime.now(UTC),
        skill_name=command.skill_name,
        skill_version=command.skill_version,
        skill_bundle_digest=skill.bundle_digest,
        rubric_digest=rubric_digest(skill),
        base_model=command.base_model,
        base_chat_template_sha256=info.get("chat_template_sha256"),
        teacher_model=sampler.teacher_model if "teacher" in dataset.strategies else None,
        judge_model=judge_model,
        strategy_requested=command.strategy,
        strategies=dataset.strategies,
        strategies_skipped=dataset.skipped,
        seed=command.seed,
        num_samples_requested=command.num_samples,
        max_length=dataset.max_length,
        counts={
            "train": len(dataset.train),
            "validation": len(dataset.validation),
            "heldout": len(dataset.heldout),
            "grpo": len(dataset.grpo),
        },
        acceptance_rates={name: round(s.acceptance_rate, 4) for name, s in stats.strategies.items()},
        sample_schema=SampleRecord.model_json_schema(),
        files=files,
        stats=stats,
    )
    data = manifest.model_dump_json(indent=2).encode()
    await objects.put(DATASETS_BUCKET.name, object_name(command.dataset_id, MANIFEST), data)
    return manifest, sha256(data)


async def remove_dataset(objects: Objects, dataset_id: str) -> list[str]:
    """Delete whatever a run stored (the manifest first: without it the rest is no dataset);
    returns the names that were there. An error propagates: the caller must not report the run
    ended while a manifest may remain."""
    removed = []
    for file in (MANIFEST, *FILES):
        name = object_name(dataset_id, file)
        if await objects.delete(DATASETS_BUCKET.name, name):
            removed.append(name)
    return removed


def finished_event(
    command: GenerateDataset,
    skill: LoadedSkill,
    dataset: GeneratedDataset,
    stored: tuple[Manifest, str],
    *,
    producer: str,
) -> DatasetGenerated:
    manifest, digest = stored
    return DatasetGenerated(
        producer=producer,
        correlation_id=command.correlation_id,
        causation_id=command.event_id,
        dataset_id=command.dataset_id,
        skill_name=skill.document.name,
        skill_version=command.skill_version,
        object_name=object_name(command.dataset_id, MANIFEST),
        digest=digest,
        num_train=len(dataset.train),
        num_validation=len(dataset.validation),
        num_heldout=len(dataset.heldout),
        num_grpo=len(dataset.grpo),
        base_model=command.base_model,
        strategy_counts={name: s.kept for name, s in dataset.stats.strategies.items() if s.kept},
        files=[
            DatasetFile(name=f.name, digest=f.digest, records=f.records, role=f.role) for f in manifest.files
        ],
        stats=dataset.stats,
    )
