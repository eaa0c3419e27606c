"""Skills context: ingesting a SKILL.md (or a zipped skill folder) and its verdict."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .envelope import Command, Diagnostic, Event, Sha256Hex
from .rubric import Rubric

Mode = Literal["strict", "lenient"]
Source = Literal["bucket", "inbox", "api", "cli", "reconciler"]


class IngestSkill(Command, subject="skills.cmd.skill.ingest.v1"):
    """Parse and validate the skill stored as ``object_name`` in the ``skills`` bucket.

    ``object_name`` is ``<folder>/SKILL.md`` or ``<folder>.zip``: the folder is the name the
    skill's ``name`` must equal.
    """

    object_name: str = Field(min_length=1, max_length=1024)
    digest: Sha256Hex
    object_nuid: str | None = Field(
        default=None,
        max_length=64,
        description="The Object Store's id of this put; a newer put supersedes it.",
    )
    source: Source = "bucket"
    mode: Mode = "strict"
    auto_train: bool | None = Field(
        default=None,
        description="False: a new version must not start a fine-tuning job (the uploader runs its own); "
        "None: the gateway's setting decides.",
    )

    @classmethod
    def for_object(
        cls,
        object_name: str,
        digest: str,
        nuid: str | None,
        *,
        source: Source,
        mode: Mode,
        producer: str,
        auto_train: bool | None = None,
    ) -> IngestSkill:
        """The one way every producer builds this command (same id for the same put)."""
        return cls(
            event_id=ingest_event_id(object_name, digest, nuid),
            correlation_id=f"object:{object_name}"[:256],
            producer=producer,
            object_name=object_name,
            digest=digest,
            object_nuid=nuid,
            source=source,
            mode=mode,
            auto_train=auto_train,
        )


MODE_HEADER = "Skill-Adapter-Mode"
AUTO_TRAIN_HEADER = "Skill-Adapter-Auto-Train"
"""Object header: ``false`` keeps a new version from starting a fine-tuning job (``IngestSkill.auto_train``)."""


def auto_train_of(headers: dict[str, str] | None) -> bool | None:
    """``IngestSkill.auto_train`` from an object's headers."""
    value = (headers or {}).get(AUTO_TRAIN_HEADER, "").strip().lower()
    return {"false": False, "true": True}.get(value)


"""Object header in the ``skills`` bucket naming the mode to ingest that object in."""


def ingest_event_id(object_name: str, digest: str, nuid: str | None = None) -> str:
    """The event id of the ingest command for one *put* of an object: whoever asks first (the
    bucket watcher, the reconciler, the inbox mirror, the API, the CLI), it is one command.
    The Object Store gives every put a new ``nuid``, so putting the same bytes again (in
    another mode, or after they were replaced) is a new ingestion."""
    return "ingest-" + hashlib.sha256(f"{object_name}\n{digest}\n{nuid or ''}".encode()).hexdigest()[:48]


class SkillFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    path: str
    size: int = Field(ge=0)
    digest: Sha256Hex


class SkillParsed(Event, subject="skills.evt.skill.parsed.v1"):
    """A skill version was accepted; its rubric is ready."""

    skill_name: str = Field(min_length=1, max_length=64)
    skill_version: Sha256Hex = Field(description="Digest of the normalized skill content.")
    object_name: str = Field(description="The object that was ingested (bucket `skills`).")
    digest: Sha256Hex = Field(description="Digest of the ingested object's bytes.")
    bundle_object: str = Field(description="The normalized bundle (zip) in bucket `skill-versions`.")
    description: str = Field(max_length=1024)
    mode: Mode = "strict"
    new_version: bool = Field(description="False when this content was already a known version.")
    auto_train: bool | None = Field(
        default=None, description="The ingestion's wish: False keeps this version from starting a job."
    )
    files: list[SkillFile] = Field(default_factory=list)
    warnings: list[Diagnostic] = Field(default_factory=list)
    rubric: Rubric


class SkillRejected(Event, subject="skills.evt.skill.rejected.v1"):
    """A skill could not be accepted; ``errors`` say why and where."""

    object_name: str
    digest: Sha256Hex | None = None
    skill_name: str | None = None
    mode: Mode = "strict"
    reason: str = Field(min_length=1)
    errors: list[Diagnostic] = Field(min_length=1)
    warnings: list[Diagnostic] = Field(default_factory=list)
