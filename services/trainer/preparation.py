"""Everything a job needs before training starts, checked before any long work.

In order, cheapest first: the skill version (its rubric: GRPO's rewards), the dataset (the
manifest's digest, then every file's), the base model (the model store; the embedded model
may be converted once), then the newest checkpoint of the job, if it has one, downloaded,
verified against the ledger and unpacked to resume from. A checkpoint that is missing or
damaged is skipped for the one before it; with none left the job starts afresh.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

from skill_adapter.contracts import CHECKPOINTS_BUCKET, StartJob
from skill_adapter.modelstore import ModelInfo, ModelStore, ModelStoreError, UnsafeArchive, unpack_archive
from skill_adapter.runtime.log import get_logger
from skill_adapter.runtime.objects import ObjectMissing, Objects

from .artifacts import fetch_dataset, load_rubric, sha256_file
from .core import TrainingError, TrainSpec
from .ledger import Ledger
from .models import CheckpointRecord
from .settings import TrainerSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class Prepared:
    spec: TrainSpec
    base: ModelInfo
    resumed: CheckpointRecord | None


async def resolve_base(settings: TrainerSettings, name: str) -> ModelInfo:
    store = ModelStore(settings.resolved_model_cache_dir())
    try:
        return await asyncio.to_thread(store.resolve, name)
    except ModelStoreError as exc:
        raise TrainingError(
            "base_model_not_found",
            f"base model {name!r} cannot be used: {exc}",
            ["name a local model folder, a model in the HuggingFace cache, or the embedded smollm2"],
        ) from exc


async def fetch_checkpoint(
    objects: Objects, ledger: Ledger, job_id: str, work: Path
) -> tuple[Path, CheckpointRecord] | None:
    """The newest stored checkpoint that downloads and verifies, unpacked below ``work``."""
    for record in await ledger.checkpoints(job_id):
        archive = work / "resume.zip"
        folder = work / "resume" / Path(record.object_name).stem
        try:
            stored = await objects.get_file(CHECKPOINTS_BUCKET.name, record.object_name, archive)
            digest = stored.digest or await asyncio.to_thread(sha256_file, archive)
            if digest != record.digest:
                raise ValueError(f"it has sha256 {digest[:12]}…, the ledger records {record.digest[:12]}…")
            await asyncio.to_thread(shutil.rmtree, folder, True)
            await asyncio.to_thread(unpack_archive, archive, folder)
        except (ObjectMissing, ValueError, UnsafeArchive, OSError) as exc:
            log.warning(
                "checkpoint unusable; trying an older one",
                job=job_id,
                object_name=record.object_name,
                error=str(exc),
            )
            continue
        finally:
            archive.unlink(missing_ok=True)
        log.info("resuming from checkpoint", job=job_id, phase=record.phase, step=record.step)
        return folder, record
    return None


async def prepare(
    objects: Objects, ledger: Ledger, settings: TrainerSettings, command: StartJob, work: Path
) -> Prepared:
    rubric = await load_rubric(objects, command.skill_name, command.skill_version)
    dataset_dir = work / "dataset"
    await fetch_dataset(objects, command, dataset_dir)
    base = await resolve_base(settings, command.base_model)
    found = await fetch_checkpoint(objects, ledger, command.job_id, work)
    spec = TrainSpec(
        job_id=command.job_id,
        base=base,
        dataset_dir=dataset_dir,
        dataset_digest=command.dataset_digest,
        rubric=rubric,
        method=command.method,
        adapter_type=command.adapter_type,
        hyperparameters=dict(command.hyperparameters),
        seed=command.seed,
        device=settings.trainer_device,
        work_dir=work / "run",
        resume_from=found[0] if found else None,
        skill_name=command.skill_name,
        skill_version=command.skill_version,
    )
    return Prepared(spec=spec, base=base, resumed=found[1] if found else None)
