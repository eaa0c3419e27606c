"""``/v1/skills``: upload (or just validate) a skill, list skills, versions and rejections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, MultipartBody, QueryParameter

from skill_adapter.contracts.api import (
    SkillDetail,
    SkillList,
    SkillRejectionList,
    SkillValidation,
    SkillVersion,
    SkillVersionAccepted,
)
from skill_adapter.contracts.skills import Mode

from ..auth import requires
from ..catalog import SkillCatalog
from ..errors import UploadTooLarge, error_responses
from ..ingest import SkillIngest, Upload
from ..settings import GatewaySettings

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="How many objects to return (1-100).")]
After = Annotated[str | None, QueryParameter(description="The id of the last object of the previous page.")]


@dataclass
class SkillUpload:
    """The multipart form of ``POST /v1/skills``."""

    file: UploadFile
    """A ``SKILL.md`` (send it as ``<folder>/SKILL.md`` to check the folder name) or a zip."""
    mode: Mode = "strict"


def version_location(name: str, version: str) -> str:
    return f"/v1/skills/{quote(name)}/versions/{version}"


class SkillController(Controller):
    path = "/v1/skills"
    tags = ["skills"]

    @post(
        "/",
        operation_id="createSkill",
        summary="Upload a skill (SKILL.md or zip), or only validate it",
        guards=[requires("skills:write")],
        status_code=202,
        responses={
            200: ResponseSpec(
                data_container=SkillVersion | SkillValidation,
                description="This version already exists, or `validate_only` and the skill is valid.",
                generate_examples=False,
            ),
            **error_responses(413, 422),
        },
    )
    async def create_skill(
        self,
        data: MultipartBody[SkillUpload],
        skill_ingest: NamedDependency[SkillIngest],
        settings: NamedDependency[GatewaySettings],
        validate_only: Annotated[
            bool, QueryParameter(description="Only validate: store nothing, start nothing.")
        ] = False,
    ) -> Response[SkillVersionAccepted | SkillVersion | SkillValidation]:
        content = await data.file.read(settings.max_upload_bytes + 1)
        await data.file.close()
        if len(content) > settings.max_upload_bytes:
            raise UploadTooLarge(settings.max_upload_bytes)
        upload = Upload(filename=data.file.filename, data=content, mode=data.mode)
        if validate_only:
            return Response(await skill_ingest.validate(upload), status_code=200)
        outcome = await skill_ingest.submit(upload)
        return Response(
            outcome,
            status_code=202 if isinstance(outcome, SkillVersionAccepted) else 200,
            headers={"Location": version_location(outcome.name, outcome.version)},
        )

    @get(
        "/",
        operation_id="listSkills",
        summary="List skills",
        guards=[requires("skills:read")],
        responses=error_responses(),
    )
    async def list_skills(
        self, catalog: NamedDependency[SkillCatalog], limit: Limit = 20, after: After = None
    ) -> SkillList:
        return await catalog.page(limit, after)

    @get(
        "/{name:str}",
        operation_id="retrieveSkill",
        summary="A skill and its versions",
        guards=[requires("skills:read")],
        responses=error_responses(404),
    )
    async def retrieve_skill(
        self, name: FromPath[str], catalog: NamedDependency[SkillCatalog]
    ) -> SkillDetail:
        return await catalog.detail(name)

    @get(
        "/{name:str}/versions/{version:str}",
        operation_id="retrieveSkillVersion",
        summary="One version of a skill with its rubric, warnings and files",
        guards=[requires("skills:read")],
        responses=error_responses(404),
    )
    async def retrieve_version(
        self, name: FromPath[str], version: FromPath[str], catalog: NamedDependency[SkillCatalog]
    ) -> SkillVersion:
        return await catalog.version(name, version)


class SkillRejectionController(Controller):
    """``/v1/skill_rejections``: its own resource, so no skill name can be shadowed by it."""

    path = "/v1/skill_rejections"
    tags = ["skills"]

    @get(
        "/",
        operation_id="listSkillRejections",
        summary="Recently rejected skills and why",
        guards=[requires("skills:read")],
        responses=error_responses(),
    )
    async def list_rejections(
        self,
        catalog: NamedDependency[SkillCatalog],
        limit: Limit = 20,
        after: After = None,
        skill: Annotated[
            str | None, QueryParameter(description="Only rejections of this skill name.")
        ] = None,
    ) -> SkillRejectionList:
        return await catalog.rejections(limit, after, skill)
