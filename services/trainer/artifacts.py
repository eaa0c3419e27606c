"""What a job reads and writes in the Object Store, and the names it uses there.

- the dataset: ``datasets/<dataset_id>/manifest.json`` (the job names it and its sha256) and
  every file it lists, each checked against the digest the manifest records;
- the skill version: ``skill-versions/<name>/<version>.zip``, analysed again for its rubric
  (the compiler is deterministic, so the trainer keeps no copy of the parser's tables);
- checkpoints: ``training-checkpoints/<job_id>/<phase>-<step:06d>[-final].zip``;
- the adapter: ``adapters/<adapter_id>.zip``, where the adapter id is a function of the job
  alone, so a job that is finished twice (a crash between upload and commit) overwrites the
  same object and registers the same id.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from skill_adapter.contracts import DATASETS_BUCKET, SKILL_VERSIONS_BUCKET, Rubric, StartJob
from skill_adapter.modelstore import ALIASES
from skill_adapter.runtime.objects import ObjectMissing, Objects
from skill_adapter.skillspec.analysis import analyze

from .core import TrainingError

MANIFEST = "manifest.json"
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
REGENERATE = (
    "generate the dataset again (skill-adapter data generate <skill>) and start the job with its digest"
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _slug(text: str, limit: int, fallback: str) -> str:
    return _UNSAFE.sub("-", text).strip("-.")[:limit].strip("-.") or fallback


def adapter_id_for(command: StartJob) -> str:
    """``ft:<base>:<skill>:<job_id>``, OpenAI's shape for fine-tuned model ids.

    ``<base>`` is the last part of the base model's name (``SmolLM2-135M-Instruct``). Every
    part is made of ``[A-Za-z0-9._-]``, so the id is also a safe folder name (the gateway keeps
    each adapter in ``<adapters_dir>/<adapter_id>``) and a vLLM ``lora_name``.
    """
    named = command.base_model.strip()
    base = ALIASES.get(named.lower(), named).rstrip("/").rsplit("/", 1)[-1]
    return f"ft:{_slug(base, 48, 'base')}:{_slug(command.skill_name, 64, 'skill')}:{command.job_id}"


def adapter_object(adapter_id: str) -> str:
    return f"{adapter_id}.zip"


def checkpoint_object(job_id: str, phase: str, step: int, final: bool) -> str:
    return f"{job_id}/{phase}-{step:06d}{'-final' if final else ''}.zip"


def skill_bundle_object(name: str, version: str) -> str:
    return f"{name}/{version}.zip"


async def load_rubric(objects: Objects, name: str, version: str) -> Rubric:
    """The rubric of an accepted skill version; ``skill_not_found`` when there is none."""
    try:
        data = await objects.get(SKILL_VERSIONS_BUCKET.name, skill_bundle_object(name, version))
    except ObjectMissing as exc:
        raise TrainingError(
            "skill_not_found",
            f"skill {name!r} has no accepted version {version!r} in {SKILL_VERSIONS_BUCKET.name}",
            ["push the skill first (skill-adapter skills push) and use the version it reports"],
        ) from exc
    analysis = await asyncio.to_thread(analyze, data, f"{name}.zip", "lenient")
    if not analysis.ok or analysis.rubric is None:
        raise TrainingError(
            "skill_not_found",
            f"the stored bundle of {name} {version} no longer analyses: {analysis.reason()}",
        )
    if analysis.version != version:
        raise TrainingError(
            "skill_not_found", f"the stored bundle of {name} {version} has version {analysis.version}"
        )
    return analysis.rubric


def _manifest_files(manifest: Any) -> list[tuple[str, str]]:
    """``(object name, digest)`` of every file the manifest lists."""
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list) or not files:
        raise TrainingError("dataset_invalid", f"{MANIFEST} lists no files", [REGENERATE])
    listed = []
    for entry in files:
        name = entry.get("name") if isinstance(entry, dict) else None
        digest = entry.get("digest") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not isinstance(digest, str):
            raise TrainingError("dataset_invalid", f"{MANIFEST}: a file entry without a name or digest")
        base = Path(name).name
        if base in ("", ".", "..", MANIFEST) or name.startswith("/"):
            raise TrainingError("dataset_invalid", f"{MANIFEST}: file name {name!r} is not allowed")
        listed.append((name, digest))
    bases = [Path(name).name for name, _ in listed]
    if len(set(bases)) != len(bases):
        raise TrainingError("dataset_invalid", f"{MANIFEST} lists two files with the same name")
    return listed


async def fetch_dataset(objects: Objects, command: StartJob, folder: Path) -> dict[str, Any]:
    """Download the job's dataset into ``folder`` after checking every digest; returns the manifest."""
    bucket = DATASETS_BUCKET.name
    try:
        data = await objects.get(bucket, command.dataset_object)
    except ObjectMissing as exc:
        raise TrainingError(
            "dataset_not_found",
            f"the dataset manifest {bucket}/{command.dataset_object} does not exist",
            ["start the job with the object_name of a datasets.evt.dataset.generated.v1 event"],
        ) from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != command.dataset_digest:
        raise TrainingError(
            "dataset_digest_mismatch",
            f"{command.dataset_object} has sha256 {actual[:12]}…, the job asked for "
            f"{command.dataset_digest[:12]}…: the dataset changed or the job names another one",
            ["start the job with the digest from the dataset's datasets.evt.dataset.generated.v1 event"],
        )
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise TrainingError("dataset_invalid", f"{MANIFEST} is not JSON: {exc}", [REGENERATE]) from exc
    for key, wanted in (("skill_name", command.skill_name), ("skill_version", command.skill_version)):
        recorded = manifest.get(key) if isinstance(manifest, dict) else None
        if recorded is not None and recorded != wanted:
            raise TrainingError(
                "dataset_skill_mismatch",
                f"the dataset was generated for {key} {recorded!r}, the job trains {wanted!r}",
                ["generate a dataset for this skill version, or start the job for the dataset's skill"],
            )
    files = _manifest_files(manifest)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread((folder / MANIFEST).write_bytes, data)
    for name, digest in files:
        local = folder / Path(name).name
        try:
            stored = await objects.get_file(bucket, name, local)
        except ObjectMissing as exc:
            raise TrainingError(
                "dataset_not_found", f"{bucket}/{name}, listed in {MANIFEST}, does not exist", [REGENERATE]
            ) from exc
        got = stored.digest or await asyncio.to_thread(sha256_file, local)
        if got != digest:
            raise TrainingError(
                "dataset_digest_mismatch",
                f"{name} has sha256 {got[:12]}…, its manifest records {digest[:12]}…: the file changed "
                "after the dataset was generated",
                [REGENERATE],
            )
    return manifest
