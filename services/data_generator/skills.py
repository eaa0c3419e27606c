"""A skill version as the generator needs it: its files, document, evals and rubric.

The skill-parser stores every accepted version as a normalized zip in the ``skill-versions``
bucket; analysing it again here gives the same rubric (the compiler is deterministic), so the
generator needs no copy of the parser's tables.
"""

from __future__ import annotations

import asyncio

from skill_adapter.contracts import SKILL_VERSIONS_BUCKET
from skill_adapter.runtime.objects import ObjectMissing, Objects
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.version import sha256

from .pipeline import LoadedSkill


class SkillNotFound(LookupError):
    """No accepted skill version by that name and version."""


def bundle_object(name: str, version: str) -> str:
    return f"{name}/{version}.zip"


async def load_skill(objects: Objects, name: str, version: str) -> LoadedSkill:
    try:
        data = await objects.get(SKILL_VERSIONS_BUCKET.name, bundle_object(name, version))
    except ObjectMissing as exc:
        raise SkillNotFound(
            f"skill {name!r} has no accepted version {version!r} (push it first: skill-adapter skills push)"
        ) from exc
    analysis = await asyncio.to_thread(analyze, data, f"{name}.zip", "lenient")
    if not analysis.ok or analysis.document is None or analysis.rubric is None or analysis.bundle is None:
        raise SkillNotFound(f"the stored bundle of {name} {version} no longer analyses: {analysis.reason()}")
    if analysis.version != version:
        raise SkillNotFound(f"the stored bundle of {name} {version} has version {analysis.version}")
    return LoadedSkill(
        bundle=analysis.bundle,
        document=analysis.document,
        evals=analysis.evals,
        rubric=analysis.rubric,
        bundle_digest=sha256(data),
    )
