"""The skills read model: written from ``SkillParsed`` / ``SkillRejected``, read by the API.

Writes happen in the event handler's session, so they commit together with the runtime's
record that the event was processed. They are idempotent on their own too: a version is keyed
by ``(name, version)`` and a rejection by its event id. Events may arrive out of order (a
retried one overtakes a newer one): the latest version is whichever was parsed last by
``occurred_at``, never simply the last one handled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from skill_adapter.contracts import Diagnostic, Rubric, SkillFile, SkillParsed, SkillRejected
from skill_adapter.contracts.api import Skill, SkillRejection, SkillVersion, SkillVersionSummary

from .errors import BadRequest
from .models import SkillRejectionRow, SkillRow, SkillVersionRow

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


class SkillRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # -- writes (event handlers) --------------------------------------------------------
    async def record_parsed(self, event: SkillParsed) -> bool:
        """Record the version ``event`` announces; ``False`` when it was already known.

        The skill's latest version is the one of its most recent ``skill.parsed`` event, so
        putting an earlier version again makes it the latest again (a revert), while an older
        event delivered late changes nothing.
        """
        session = self._session
        key = (event.skill_name, event.skill_version)
        new = await session.get(SkillVersionRow, key) is None
        if new:
            session.add(
                SkillVersionRow(
                    name=event.skill_name,
                    version=event.skill_version,
                    description=event.description,
                    mode=event.mode,
                    rubric=event.rubric.model_dump(mode="json"),
                    warnings=[w.model_dump(mode="json") for w in event.warnings],
                    files=[f.model_dump(mode="json") for f in event.files],
                    criteria=len(event.rubric.criteria),
                    bundle_object=event.bundle_object,
                    object_name=event.object_name,
                    digest=event.digest,
                    event_id=event.event_id,
                    created_at=event.occurred_at,
                )
            )
        skill = await session.get(SkillRow, event.skill_name)
        if skill is None:
            session.add(
                SkillRow(
                    name=event.skill_name,
                    description=event.description,
                    latest_version=event.skill_version,
                    created_at=event.occurred_at,
                    updated_at=event.occurred_at,
                )
            )
        else:
            if event.occurred_at >= skill.updated_at:
                skill.description = event.description
                skill.latest_version = event.skill_version
                skill.updated_at = event.occurred_at
            skill.created_at = min(skill.created_at, event.occurred_at)
        await session.flush()
        return new

    async def record_rejected(self, event: SkillRejected) -> bool:
        """Keep the rejection; ``False`` when this event was already recorded."""
        found = await self._session.scalar(
            select(SkillRejectionRow.id).where(SkillRejectionRow.event_id == event.event_id)
        )
        if found is not None:
            return False
        self._session.add(
            SkillRejectionRow(
                event_id=event.event_id,
                object_name=event.object_name,
                digest=event.digest,
                skill_name=event.skill_name,
                mode=event.mode,
                reason=event.reason,
                errors=[e.model_dump(mode="json") for e in event.errors],
                warnings=[w.model_dump(mode="json") for w in event.warnings],
                created_at=event.occurred_at,
            )
        )
        await self._session.flush()
        return True

    # -- reads --------------------------------------------------------------------------
    async def list_skills(self, limit: int, after: str | None = None) -> Page[Skill]:
        """Skills by name; ``after`` is the name the previous page ended with."""
        query = self._skills_query().order_by(SkillRow.name).limit(limit + 1)
        if after is not None:
            query = query.where(SkillRow.name > after)
        rows = (await self._session.execute(query)).all()
        return Page([_skill(row, count) for row, count in rows[:limit]], has_more=len(rows) > limit)

    async def get_skill(self, name: str) -> Skill | None:
        row = (await self._session.execute(self._skills_query().where(SkillRow.name == name))).first()
        return _skill(row[0], row[1]) if row else None

    async def versions(self, name: str) -> list[SkillVersionSummary]:
        rows = await self._session.scalars(
            select(SkillVersionRow)
            .where(SkillVersionRow.name == name)
            .order_by(SkillVersionRow.created_at.desc(), SkillVersionRow.version.desc())
        )
        return [
            SkillVersionSummary(
                name=row.name,
                version=row.version,
                description=row.description,
                criteria=row.criteria,
                created_at=unix(row.created_at),
            )
            for row in rows
        ]

    async def get_version(self, name: str, version: str) -> SkillVersion | None:
        row = await self._session.get(SkillVersionRow, (name, version))
        return _version(row) if row else None

    async def latest_version(self, name: str) -> SkillVersion | None:
        skill = await self._session.get(SkillRow, name)
        return await self.get_version(name, skill.latest_version) if skill else None

    async def list_rejections(
        self, limit: int, after: str | None = None, skill_name: str | None = None
    ) -> Page[SkillRejection]:
        """Newest first; ``after`` is the id (event id) the previous page ended with."""
        query = select(SkillRejectionRow).order_by(SkillRejectionRow.id.desc()).limit(limit + 1)
        if skill_name is not None:
            query = query.where(SkillRejectionRow.skill_name == skill_name)
        if after is not None:
            cursor = await self._session.scalar(
                select(SkillRejectionRow.id).where(SkillRejectionRow.event_id == after)
            )
            if cursor is None:
                raise BadRequest(f"No rejection with id {after!r} to page after.", param="after")
            query = query.where(SkillRejectionRow.id < cursor)
        rows = list(await self._session.scalars(query))
        return Page([_rejection(row) for row in rows[:limit]], has_more=len(rows) > limit)

    @staticmethod
    def _skills_query() -> Select[tuple[SkillRow, int]]:
        counts = (
            select(SkillVersionRow.name, func.count().label("n")).group_by(SkillVersionRow.name).subquery()
        )
        return select(SkillRow, counts.c.n).join(counts, counts.c.name == SkillRow.name)


def _skill(row: SkillRow, count: int) -> Skill:
    return Skill(
        name=row.name,
        description=row.description,
        latest_version=row.latest_version,
        version_count=count,
        created_at=unix(row.created_at),
        updated_at=unix(row.updated_at),
    )


def _version(row: SkillVersionRow) -> SkillVersion:
    return SkillVersion(
        name=row.name,
        version=row.version,
        description=row.description,
        mode="lenient" if row.mode == "lenient" else "strict",
        object_name=row.object_name,
        digest=row.digest,
        bundle_object=row.bundle_object,
        criteria=row.criteria,
        rubric=Rubric.model_validate(row.rubric),
        warnings=[Diagnostic.model_validate(w) for w in row.warnings],
        files=[SkillFile.model_validate(f) for f in row.files],
        created_at=unix(row.created_at),
    )


def _rejection(row: SkillRejectionRow) -> SkillRejection:
    return SkillRejection(
        id=row.event_id,
        object_name=row.object_name,
        digest=row.digest,
        skill_name=row.skill_name,
        mode="lenient" if row.mode == "lenient" else "strict",
        reason=row.reason,
        errors=[Diagnostic.model_validate(e) for e in row.errors],
        warnings=[Diagnostic.model_validate(w) for w in row.warnings],
        created_at=unix(row.created_at),
    )
