"""What a run evaluates against: the skill version (document, rubric) and its held-out prompts.

The skill version is the normalized zip the skill-parser stored in ``skill-versions``; held-out
prompts come from the dataset the adapter was trained on (manifest and ``heldout.jsonl`` in
``datasets``, each checked against its digest), else from the skill bundle itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pydantic import ValidationError

from skill_adapter.contracts import DATASETS_BUCKET, SKILL_VERSIONS_BUCKET, Rubric
from skill_adapter.runtime.objects import ObjectMissing, Objects
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.document import SkillDocument

from .prompts import DatasetManifest, EvalPrompt, PromptsInvalid, bundle_prompts, parse_heldout, sha256


class RunFailed(Exception):
    """A run that cannot go on: ``code`` and a reason a person can act on."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class LoadedSkill:
    document: SkillDocument
    rubric: Rubric
    prompts: list[EvalPrompt]
    prompt_origin: str


async def load_skill(
    objects: Objects, name: str, version: str, dataset_object: str | None, dataset_digest: str | None
) -> LoadedSkill:
    try:
        data = await objects.get(SKILL_VERSIONS_BUCKET.name, f"{name}/{version}.zip")
    except ObjectMissing as exc:
        raise RunFailed("skill_not_found", f"skill {name!r} has no accepted version {version!r}") from exc
    analysis = await asyncio.to_thread(analyze, data, f"{name}.zip", "lenient")
    if not analysis.ok or analysis.document is None or analysis.rubric is None or analysis.bundle is None:
        raise RunFailed(
            "skill_not_found", f"the stored bundle of {name} {version} does not analyse: {analysis.reason()}"
        )
    if dataset_object:
        prompts = await dataset_prompts(objects, name, version, dataset_object, dataset_digest)
        origin = f"{DATASETS_BUCKET.name}/{dataset_object}"
    else:
        try:
            prompts = bundle_prompts(analysis.bundle, analysis.evals)
        except PromptsInvalid as exc:
            raise RunFailed("heldout_invalid", str(exc)) from exc
        origin = "skill bundle (evals/evals.json, prompts/heldout.json)"
    if not prompts:
        raise RunFailed(
            "no_heldout_prompts",
            f"{name} {version} has no held-out prompts in {origin}: add evals/evals.json or "
            "prompts/heldout.json to the skill, or evaluate with a dataset that has heldout.jsonl records",
        )
    return LoadedSkill(analysis.document, analysis.rubric, prompts, origin)


async def dataset_prompts(
    objects: Objects, name: str, version: str, manifest_name: str, digest: str | None
) -> list[EvalPrompt]:
    bucket = DATASETS_BUCKET.name
    try:
        raw = await objects.get(bucket, manifest_name)
    except ObjectMissing as exc:
        raise RunFailed(
            "dataset_not_found", f"the dataset manifest {bucket}/{manifest_name} does not exist"
        ) from exc
    if digest is not None and sha256(raw) != digest:
        raise RunFailed(
            "dataset_digest_mismatch",
            f"{bucket}/{manifest_name} has sha256 {sha256(raw)[:12]}…, expected {digest[:12]}…: "
            "the dataset changed since the adapter was trained",
        )
    try:
        manifest = DatasetManifest.model_validate_json(raw)
    except ValidationError as exc:
        raise RunFailed(
            "dataset_invalid", f"{bucket}/{manifest_name} is not a dataset manifest: {exc}"
        ) from exc
    if (manifest.skill_name, manifest.skill_version) != (name, version):
        raise RunFailed(
            "dataset_skill_mismatch",
            f"dataset {manifest.dataset_id} is for {manifest.skill_name} {manifest.skill_version[:12]}…, "
            f"not {name} {version[:12]}…",
        )
    held = [f for f in manifest.files if f.role == "heldout"]
    if not held:
        raise RunFailed("no_heldout_prompts", f"dataset {manifest.dataset_id} lists no heldout.jsonl")
    prompts: list[EvalPrompt] = []
    for entry in held:
        try:
            data = await objects.get(bucket, entry.name)
        except ObjectMissing as exc:
            raise RunFailed(
                "dataset_not_found", f"{bucket}/{entry.name} (listed by the manifest) does not exist"
            ) from exc
        if sha256(data) != entry.digest:
            raise RunFailed(
                "dataset_digest_mismatch",
                f"{bucket}/{entry.name} has sha256 {sha256(data)[:12]}…, the manifest says {entry.digest[:12]}…",
            )
        try:
            prompts.extend(parse_heldout(data, entry.name))
        except PromptsInvalid as exc:
            raise RunFailed("dataset_invalid", str(exc)) from exc
    return prompts
