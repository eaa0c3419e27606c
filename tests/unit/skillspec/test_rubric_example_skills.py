"""The example skills' own good answers pass every deterministic check compiled from them.

A compiled check that an author's ``expected_output`` fails is a precision bug: it would become
a training reward that punishes the answers the skill asks for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from skill_adapter.contracts import Rubric
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip
from skill_adapter.skillspec.evals import EvalCase
from skill_adapter.skillspec.rubric.grading import grade

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "cli" / "example_skills"
NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "SKILL.md").exists())

# (constraint sentences, compiled deterministically): 7 of 38 compiled before the patterns
# for lines, JSON properties and lead-ins; a drop here is a lost check, a rise is welcome.
COVERAGE = {"commit-message": (13, 4), "json-reply": (13, 8), "status-report": (12, 4)}


def compiled(name: str) -> tuple[Rubric, list[EvalCase]]:
    folder = EXAMPLES / name
    analysis = analyze(to_zip(from_directory(folder), name), name + ".zip")
    assert analysis.rubric is not None and analysis.evals is not None, analysis.errors
    return analysis.rubric, analysis.evals.evals


def good_answers(name: str) -> list[tuple[str, str]]:
    return [(case.id, case.expected_output) for case in compiled(name)[1] if case.expected_output]


def test_every_example_skill_is_covered() -> None:
    assert set(NAMES) == set(COVERAGE)


@pytest.mark.parametrize("name", NAMES)
def test_expected_outputs_pass_every_deterministic_body_criterion(name: str) -> None:
    rubric, _ = compiled(name)
    body = {c.id for c in rubric.criteria if c.provenance.source == "body" and c.deterministic}
    assert body
    for eval_id, answer in good_answers(name):
        failed = [
            (r.criterion_id, r.evidence)
            for r in grade(rubric, answer, eval_id=eval_id).results
            if r.criterion_id in body and not r.passed
        ]
        assert failed == [], f"eval {eval_id}: {failed}"


@pytest.mark.parametrize("name", NAMES)
def test_expected_outputs_pass_every_deterministic_criterion(name: str) -> None:
    rubric, _ = compiled(name)
    for eval_id, answer in good_answers(name):
        result = grade(rubric, answer, eval_id=eval_id)
        failed = [(r.criterion_id, r.evidence) for r in result.results if r.passed is False]
        assert failed == [], f"eval {eval_id}: {failed}"


@pytest.mark.parametrize("name", NAMES)
def test_coverage_of_the_example_skills(name: str) -> None:
    coverage = compiled(name)[0].coverage
    assert (coverage.constraint_sentences, coverage.compiled_sentences) == COVERAGE[name]


def test_json_facts_merge_into_the_author_schema() -> None:
    rubric, _ = compiled("json-reply")
    authored = next(c for c in rubric.criteria if c.id == "rubric.answer-confidence-schema")
    constraint = rubric.output_constraint
    assert constraint is not None and constraint.json_schema is not None
    assert constraint.json_schema == {**authored.check.json_schema}  # type: ignore[union-attr]
    body_schemas = [
        c.id for c in rubric.criteria if c.id.startswith("body.") and c.check.kind == "json_schema"
    ]
    assert len(body_schemas) == 4 and set(body_schemas) <= set(constraint.criteria)
