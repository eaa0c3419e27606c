"""Skills context: ingesting a SKILL.md (or a zipped skill folder) and its verdict."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .envelope import Command, Diagnostic, Event, Sha256Hex


class IngestSkill(Command, subject="skills.cmd.skill.ingest.v1"):
    """Parse and validate the skill stored as ``object_name`` in the ``skills`` bucket."""

    object_name: str = Field(min_length=1, max_length=1024)
    digest: Sha256Hex
    source: Literal["bucket", "api", "cli"] = "bucket"
    mode: Literal["strict", "lenient"] = "strict"


class SkillParsed(Event, subject="skills.evt.skill.parsed.v1"):
    """A skill version was accepted; its rubric is ready."""

    skill_name: str = Field(min_length=1, max_length=64)
    skill_version: str = Field(description="Digest of the normalized skill content.")
    object_name: str
    digest: Sha256Hex
    description: str = Field(max_length=1024)
    rubric_object: str | None = None
    rubric_digest: str | None = None
    criteria_count: int = Field(default=0, ge=0)
    warnings: list[Diagnostic] = Field(default_factory=list)


class SkillRejected(Event, subject="skills.evt.skill.rejected.v1"):
    """A skill could not be accepted; ``errors`` say why and where."""

    object_name: str
    digest: str | None = None
    skill_name: str | None = None
    reason: str = Field(min_length=1)
    errors: list[Diagnostic] = Field(default_factory=list)
