"""Grade one reply against a rubric: every applicable criterion, with its evidence.

A criterion with an ``eval_id`` applies only when grading that eval's reply. Judge criteria
are reported but not evaluated (``passed`` and ``score`` are ``None``): no judge is guessed.
``Grade.passed`` is true when every applicable deterministic criterion passes; ``Grade.score``
is the weighted mean of their scores (``None`` when none applies).

``Grade.to_dict()`` is the JSON the grader API returns; ``Grade.to_grading_json()`` is the
Agent Skills ``grading.json`` shape (``expectations: [{text, passed, evidence}]`` and a
``summary``), with criteria that were not evaluated listed apart.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from skill_adapter.contracts import CheckKind, Criterion, Rubric

from .checks import run_check

NOT_EVALUATED = "not evaluated: no judge configured"


class CriterionResult(BaseModel):
    """The outcome of one criterion on one reply."""

    model_config = ConfigDict(frozen=True)

    criterion_id: str
    kind: CheckKind
    passed: bool | None = Field(description="None when the criterion was not evaluated.")
    score: float | None = Field(ge=0, le=1, description="None when the criterion was not evaluated.")
    evidence: str
    deterministic: bool
    weight: float
    text: str = Field(description="What the criterion asks, as its source worded it.")


class Grade(BaseModel):
    """Every applicable criterion's outcome on one reply."""

    model_config = ConfigDict(frozen=True)

    skill_name: str
    skill_version: str
    eval_id: str | None
    passed: bool = Field(description="Every applicable deterministic criterion passed.")
    score: float | None = Field(description="Weighted mean of deterministic scores; None if none applied.")
    results: list[CriterionResult]

    @property
    def evaluated(self) -> list[CriterionResult]:
        return [r for r in self.results if r.passed is not None]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return self.model_dump(mode="json")

    def to_grading_json(self) -> dict[str, Any]:
        """The Agent Skills ``grading.json`` shape: expectations with evidence and a summary."""
        evaluated = self.evaluated
        passed = sum(1 for r in evaluated if r.passed)
        total = len(evaluated)
        return {
            "expectations": [{"text": r.text, "passed": r.passed, "evidence": r.evidence} for r in evaluated],
            "summary": {
                "passed": passed,
                "failed": total - passed,
                "total": total,
                "pass_rate": round(passed / total, 4) if total else 0.0,
            },
            "not_evaluated": [
                {"text": r.text, "evidence": r.evidence} for r in self.results if r.passed is None
            ],
        }


def applies(criterion: Criterion, eval_id: str | None) -> bool:
    """Whether ``criterion`` grades a reply to eval ``eval_id`` (``None``: not an eval prompt)."""
    return criterion.eval_id is None or criterion.eval_id == eval_id


def grade_criterion(criterion: Criterion, text: str) -> CriterionResult:
    """One criterion on one reply; a judge criterion comes back not evaluated."""
    fields = {
        "criterion_id": criterion.id,
        "kind": criterion.check.kind,
        "deterministic": criterion.deterministic,
        "weight": criterion.weight,
        "text": criterion.provenance.text,
    }
    if not criterion.deterministic:
        return CriterionResult(passed=None, score=None, evidence=NOT_EVALUATED, **fields)
    outcome = run_check(criterion.check, text)
    return CriterionResult(passed=outcome.passed, score=outcome.score, evidence=outcome.evidence, **fields)


def weighted_score(results: list[CriterionResult]) -> float | None:
    """Weighted mean of the evaluated results' scores; ``None`` when there are none."""
    scored = [(r.score, r.weight) for r in results if r.score is not None]
    total = sum(weight for _, weight in scored)
    if not total:
        return None
    return sum(score * weight for score, weight in scored) / total


def grade(rubric: Rubric, text: str, *, eval_id: str | None = None) -> Grade:
    """Grade ``text``, the reply to eval ``eval_id`` (or to any other prompt), against ``rubric``."""
    results = [grade_criterion(c, text) for c in rubric.criteria if applies(c, eval_id)]
    return Grade(
        skill_name=rubric.skill_name,
        skill_version=rubric.skill_version,
        eval_id=eval_id,
        passed=all(r.passed for r in results if r.deterministic),
        score=weighted_score(results),
        results=results,
    )
