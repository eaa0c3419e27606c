"""Skill uploads: validate at once, store in the ``skills`` bucket, ask the parser to ingest.

The gateway runs the same ``analyze`` as the skill-parser, so an invalid skill is refused in
the response (nothing stored, nothing published) instead of surfacing later as a rejection.
A valid one is stored under its canonical name (``<name>.zip``, a deterministic re-pack of the
bundle, or ``<name>/SKILL.md`` as uploaded) and announced with an ``IngestSkill`` whose event
id is a function of the object and its digest: a retried upload is dropped by the stream's
de-duplication, as is the command the parser's bucket watcher sends for the same object
(``IngestSkill.for_object`` is shared by every producer). Content that is already a known version is
answered from the read model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath

import anyio

from skill_adapter.contracts import MODE_HEADER, SKILLS_BUCKET, IngestSkill
from skill_adapter.contracts.api import SkillValidation, SkillVersion, SkillVersionAccepted
from skill_adapter.contracts.skills import Mode
from skill_adapter.runtime import Publisher
from skill_adapter.runtime.objects import Objects
from skill_adapter.skillspec.analysis import Analysis, analyze
from skill_adapter.skillspec.bundle import ZIP_MAGIC, to_zip
from skill_adapter.skillspec.document import SKILL_MD

from .errors import InvalidSkill
from .repository import SkillRepository

PRODUCER = "gateway"


@dataclass(frozen=True)
class Upload:
    filename: str | None
    data: bytes
    mode: Mode = "strict"

    @property
    def is_zip(self) -> bool:
        return (self.filename or "").lower().endswith(".zip") or self.data.startswith(ZIP_MAGIC)

    def object_name(self) -> str:
        """The name to analyze the upload under: ``<folder>.zip`` or ``[<folder>/]SKILL.md``.

        Only the last folder of the client's file name is kept (never a path to follow).
        """
        path = PurePosixPath((self.filename or "").replace("\\", "/").lstrip("/"))
        if self.is_zip:
            return path.name if path.name.lower().endswith(".zip") else "skill.zip"
        folder = path.parent.name
        return f"{folder}/{SKILL_MD}" if folder else SKILL_MD


@dataclass(frozen=True)
class StoredSkill:
    object_name: str
    digest: str
    data: bytes


def stored_form(analysis: Analysis, upload: Upload) -> StoredSkill:
    """What goes into the bucket for a valid skill, and under which name."""
    assert analysis.document is not None and analysis.bundle is not None
    name = analysis.document.name
    if upload.is_zip:
        data = to_zip(analysis.bundle, name)
        object_name = f"{name}.zip"
    else:
        data = upload.data
        object_name = f"{name}/{SKILL_MD}"
    return StoredSkill(object_name=object_name, digest=hashlib.sha256(data).hexdigest(), data=data)


class SkillIngest:
    def __init__(self, objects: Objects, publisher: Publisher, skills: SkillRepository) -> None:
        self._objects = objects
        self._publisher = publisher
        self._skills = skills

    async def analyze(self, upload: Upload) -> Analysis:
        """The verdict on ``upload``; raises ``InvalidSkill`` with every diagnostic."""
        analysis = await anyio.to_thread.run_sync(analyze, upload.data, upload.object_name(), upload.mode)
        if not analysis.ok:
            raise InvalidSkill(analysis.reason(), [*analysis.errors, *analysis.warnings])
        return analysis

    async def validate(self, upload: Upload) -> SkillValidation:
        analysis = await self.analyze(upload)
        assert analysis.document is not None and analysis.rubric is not None and analysis.version
        return SkillValidation(
            name=analysis.document.name,
            version=analysis.version,
            description=analysis.document.description,
            mode=upload.mode,
            warnings=analysis.warnings,
            criteria=len(analysis.rubric.criteria),
            rubric=analysis.rubric,
            files=analysis.files(),
        )

    async def submit(self, upload: Upload) -> SkillVersion | SkillVersionAccepted:
        """The known version, or the accepted upload once stored and announced."""
        analysis = await self.analyze(upload)
        assert analysis.document is not None and analysis.rubric is not None and analysis.version
        name = analysis.document.name
        known = await self._skills.get_version(name, analysis.version)
        latest = await self._skills.latest_version(name)
        if known is not None and latest is not None and latest.version == known.version:
            return known
        # a new version, or an earlier one put back (a revert): ingest it, so its skill.parsed
        # event moves the skill's latest version
        stored = stored_form(analysis, upload)
        # always a new put: its nuid makes this a new ingestion even when the same bytes were
        # refused before in another mode
        put = await self._objects.put(
            SKILLS_BUCKET.name, stored.object_name, stored.data, headers={MODE_HEADER: upload.mode}
        )
        await self._publisher.publish(
            IngestSkill.for_object(
                stored.object_name, put.digest, put.nuid, source="api", mode=upload.mode, producer=PRODUCER
            )
        )
        if known is not None:
            return known
        return SkillVersionAccepted(
            name=name,
            version=analysis.version,
            warnings=analysis.warnings,
            criteria=len(analysis.rubric.criteria),
        )
