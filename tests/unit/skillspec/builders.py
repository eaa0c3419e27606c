"""Rubrics for the rubric engine's tests, built inline."""

from __future__ import annotations

from skill_adapter.contracts import Check, Criterion, Provenance, Rubric, RubricCoverage


def criterion(
    identifier: str,
    check: Check,
    *,
    weight: float = 1.0,
    eval_id: str | None = None,
    text: str | None = None,
) -> Criterion:
    source = "evals" if eval_id is not None else "body"
    return Criterion(
        id=identifier,
        description=text or identifier,
        check=check,
        weight=weight,
        eval_id=eval_id,
        provenance=Provenance(source=source, file="SKILL.md", line=1, text=text or identifier),
    )


def rubric(*criteria: Criterion, name: str = "demo-skill") -> Rubric:
    deterministic = sum(1 for c in criteria if c.deterministic)
    return Rubric(
        skill_name=name,
        skill_version="v1",
        criteria=list(criteria),
        coverage=RubricCoverage(
            constraint_sentences=len(criteria),
            compiled_sentences=deterministic,
            deterministic_criteria=deterministic,
            judge_criteria=len(criteria) - deterministic,
        ),
    )
