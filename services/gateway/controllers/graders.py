"""``POST /v1/graders/run``: grade sample replies against a rubric, nothing stored."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from skill_adapter.contracts.api import GraderRun, GraderRunRequest

from ..auth import requires
from ..errors import error_responses
from ..graders import GraderRunner


class GraderController(Controller):
    path = "/v1/graders"
    tags = ["graders"]

    @post(
        "/run",
        operation_id="runGrader",
        summary="Grade replies against a skill's rubric or an inline one",
        guards=[requires("graders:run")],
        status_code=200,
        responses=error_responses(404),
    )
    async def run(
        self, data: JSONBody[GraderRunRequest], grader_runner: NamedDependency[GraderRunner]
    ) -> GraderRun:
        return await grader_runner.run(data)
