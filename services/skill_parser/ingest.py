"""Ingest one object of the ``skills`` bucket: analyze it, keep the version, say the verdict."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from skill_adapter.contracts import (
    SKILL_VERSIONS_BUCKET,
    SKILLS_BUCKET,
    IngestSkill,
    SkillParsed,
    SkillRejected,
)
from skill_adapter.runtime.log import get_logger
from skill_adapter.runtime.objects import ObjectMissing, Objects
from skill_adapter.skillspec.analysis import Analysis, analyze
from skill_adapter.skillspec.bundle import to_zip
from skill_adapter.skillspec.diagnostics import Code, error
from skill_adapter.skillspec.limits import DEFAULT_LIMITS, Limits

from .models import Ingestion, SkillVersion

log = get_logger(__name__)

PRODUCER = "skill-parser"


def bundle_object(name: str, version: str) -> str:
    return f"{name}/{version}.zip"


async def ingest(
    command: IngestSkill, session: AsyncSession, objects: Objects, limits: Limits = DEFAULT_LIMITS
) -> SkillParsed | SkillRejected | None:
    """Everything happens in ``session``'s transaction except the bundle upload, which is
    content-addressed (re-uploading the same version writes the same bytes). ``None`` when a
    newer put of the object superseded this command (that put has its own)."""
    info = await objects.info(SKILLS_BUCKET.name, command.object_name)
    if info is None:
        return _missing(command)
    if command.object_nuid and info.nuid != command.object_nuid:
        log.info("superseded by a newer put; skipped", object=command.object_name)
        return None
    if info.size > limits.total_bytes:
        await _record_rejection(session, command.object_name, info.digest, None, "too large")
        return _rejected(
            command,
            reason=f"{command.object_name} is {info.size} bytes; at most {limits.total_bytes}",
            errors=[
                error(
                    Code.FILE_TOO_LARGE,
                    f"{info.size} bytes; at most {limits.total_bytes}",
                    command.object_name,
                )
            ],
        )
    try:
        data = await objects.get(SKILLS_BUCKET.name, command.object_name)
    except ObjectMissing:
        return _missing(command)
    analysis = await asyncio.to_thread(analyze, data, command.object_name, command.mode, limits)
    if not analysis.ok:
        await _record_rejection(
            session, command.object_name, analysis.digest, analysis.skill_name, analysis.reason()
        )
        return _rejected(command, analysis=analysis)
    return await _accept(command, analysis, session, objects)


async def _accept(
    command: IngestSkill, analysis: Analysis, session: AsyncSession, objects: Objects
) -> SkillParsed:
    assert analysis.document and analysis.version and analysis.rubric and analysis.bundle
    name, version = analysis.document.name, analysis.version
    existing = await session.get(SkillVersion, (name, version))
    stored = bundle_object(name, version)
    if existing is None:
        await objects.put(SKILL_VERSIONS_BUCKET.name, stored, to_zip(analysis.bundle, name))
        session.add(
            SkillVersion(
                skill_name=name,
                version=version,
                description=analysis.document.description,
                bundle_object=stored,
                rubric=analysis.rubric.model_dump(mode="json"),
            )
        )
    await session.merge(
        Ingestion(
            object_name=command.object_name,
            digest=analysis.digest,
            verdict="parsed",
            skill_name=name,
            skill_version=version,
            reason="accepted",
        )
    )
    return SkillParsed(
        correlation_id=f"skill:{name}",
        causation_id=command.event_id,
        producer=PRODUCER,
        skill_name=name,
        skill_version=version,
        object_name=command.object_name,
        digest=analysis.digest,
        bundle_object=stored,
        description=analysis.document.description,
        mode=command.mode,
        new_version=existing is None,
        auto_train=command.auto_train,
        files=analysis.files(),
        warnings=analysis.warnings,
        rubric=analysis.rubric,
    )


async def _record_rejection(
    session: AsyncSession, object_name: str, digest: str, skill_name: str | None, reason: str
) -> None:
    await session.merge(
        Ingestion(
            object_name=object_name,
            digest=digest,
            verdict="rejected",
            skill_name=skill_name,
            reason=reason[:4000],
        )
    )


def _missing(command: IngestSkill) -> SkillRejected:
    return _rejected(
        command,
        reason=f"{command.object_name} is no longer in the skills bucket",
        errors=[
            error(Code.OBJECT_MISSING, "the object was deleted before it could be read", command.object_name)
        ],
    )


def _rejected(
    command: IngestSkill,
    *,
    analysis: Analysis | None = None,
    reason: str | None = None,
    errors: list | None = None,
) -> SkillRejected:
    return SkillRejected(
        **command.caused(),
        producer=PRODUCER,
        object_name=command.object_name,
        digest=analysis.digest if analysis else None,
        skill_name=analysis.skill_name if analysis else None,
        mode=command.mode,
        reason=reason or (analysis.reason() if analysis else "rejected"),
        errors=errors or (analysis.errors if analysis else []),
        warnings=analysis.warnings if analysis else [],
    )
