"""Grader dry-runs: grade sample replies against a skill's rubric or an inline one.

Like OpenAI's ``/fine_tuning/alpha/graders/run``: nothing is stored, the caller sees every
criterion's verdict and evidence per sample. Judge criteria come back not evaluated (there is
no judge yet). Grading runs in a worker thread: regexes and JSON Schemas over 100 samples of
100k characters are real CPU work.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from skill_adapter.contracts import Rubric
from skill_adapter.contracts.api import (
    GraderRun,
    GraderRunRequest,
    GraderRunSummary,
    GraderSample,
    SampleGrade,
)
from skill_adapter.skillspec.rubric.checks import validate_check
from skill_adapter.skillspec.rubric.grading import grade

from .catalog import SkillCatalog
from .errors import BadRequest


def check_rubric(rubric: Rubric) -> None:
    """Refuse an inline rubric whose checks cannot run (bad regex, invalid JSON Schema)."""
    for index, criterion in enumerate(rubric.criteria):
        problems = validate_check(criterion.check)
        if problems:
            raise BadRequest(
                f"Criterion {criterion.id!r} cannot be run: {'; '.join(problems)}",
                param=f"rubric.criteria[{index}].check",
                code="invalid_rubric",
            )


def grade_samples(rubric: Rubric, samples: Sequence[GraderSample]) -> list[SampleGrade]:
    return [
        SampleGrade.model_validate(grade(rubric, sample.text, eval_id=sample.eval_id).to_dict())
        for sample in samples
    ]


def summarize(results: Sequence[SampleGrade]) -> GraderRunSummary:
    passed = sum(1 for result in results if result.passed)
    scores = [result.score for result in results if result.score is not None]
    return GraderRunSummary(
        samples=len(results),
        passed=passed,
        pass_rate=passed / len(results),
        mean_score=sum(scores) / len(scores) if scores else None,
    )


class GraderRunner:
    def __init__(self, catalog: SkillCatalog) -> None:
        self._catalog = catalog

    async def run(self, request: GraderRunRequest) -> GraderRun:
        if request.rubric is not None:
            check_rubric(request.rubric)
            rubric = request.rubric
        else:
            assert request.skill is not None  # the request model enforces one of the two
            rubric = (await self._catalog.version(request.skill, request.version, param="skill")).rubric
        results = await anyio.to_thread.run_sync(grade_samples, rubric, request.samples)
        return GraderRun(
            skill=request.skill,
            version=rubric.skill_version if request.skill else None,
            results=results,
            summary=summarize(results),
        )
