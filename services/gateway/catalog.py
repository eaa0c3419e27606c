"""What the skills API answers: the read model shaped into API resources, with typed misses.

The routes and the grader both resolve skills here, so "no such skill" and "no such version"
mean the same thing everywhere.
"""

from __future__ import annotations

from skill_adapter.contracts.api import SkillDetail, SkillList, SkillRejectionList, SkillVersion

from .errors import SkillNotFound, VersionNotFound
from .repository import SkillRepository


class SkillCatalog:
    def __init__(self, skills: SkillRepository) -> None:
        self._skills = skills

    async def page(self, limit: int, after: str | None) -> SkillList:
        page = await self._skills.list_skills(limit, after)
        names = [skill.name for skill in page.items]
        return SkillList(
            data=page.items,
            first_id=names[0] if names else None,
            last_id=names[-1] if names else None,
            has_more=page.has_more,
        )

    async def rejections(self, limit: int, after: str | None, skill: str | None) -> SkillRejectionList:
        page = await self._skills.list_rejections(limit, after, skill)
        ids = [rejection.id for rejection in page.items]
        return SkillRejectionList(
            data=page.items,
            first_id=ids[0] if ids else None,
            last_id=ids[-1] if ids else None,
            has_more=page.has_more,
        )

    async def detail(self, name: str) -> SkillDetail:
        skill = await self._skills.get_skill(name)
        if skill is None:
            raise SkillNotFound(name)
        return SkillDetail(**skill.model_dump(), versions=await self._skills.versions(name))

    async def version(self, name: str, version: str | None = None, *, param: str = "name") -> SkillVersion:
        """``version`` of skill ``name``, its latest when ``None``; ``param`` names the field
        that held the skill name, for the error."""
        found = (
            await self._skills.latest_version(name)
            if version is None
            else await self._skills.get_version(name, version)
        )
        if found is not None:
            return found
        if version is None or await self._skills.get_skill(name) is None:
            raise SkillNotFound(name, param=param)
        raise VersionNotFound(name, version)
