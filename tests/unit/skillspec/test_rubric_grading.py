"""Grading a reply against a rubric: scoping, judges, weights and the JSON shapes."""

from __future__ import annotations

import json

import pytest

from skill_adapter.contracts import ContainsCheck, JudgeCheck, LengthCheck, NotContainsCheck, ValidJsonCheck
from skill_adapter.skillspec.rubric.grading import NOT_EVALUATED, Grade, grade

from .builders import criterion, rubric

pytestmark = pytest.mark.unit

RUBRIC = rubric(
    criterion("body.l3.valid-json", ValidJsonCheck(), weight=2.0, text="Respond with valid JSON."),
    criterion("body.l4.max-words", LengthCheck(unit="words", max=4), text="Keep it under 5 words."),
    criterion("body.l5.judge", JudgeCheck(instruction="Be friendly."), text="Be friendly."),
    criterion("evals.1.1", ContainsCheck(text="refund"), eval_id="1", text="Mentions the refund"),
    criterion("evals.2.1", NotContainsCheck(text="sorry"), eval_id="2", text="Does not say 'sorry'"),
)


def by_id(result: Grade) -> dict[str, object]:
    return {r.criterion_id: r for r in result.results}


def test_a_compliant_reply_passes_every_deterministic_criterion() -> None:
    result = grade(RUBRIC, '{"a": 1}')
    assert result.passed
    assert result.score == 1.0
    assert [r.criterion_id for r in result.results] == [
        "body.l3.valid-json",
        "body.l4.max-words",
        "body.l5.judge",
    ]


def test_judge_criteria_are_reported_but_not_evaluated() -> None:
    judged = by_id(grade(RUBRIC, '{"a": 1}'))["body.l5.judge"]
    assert judged.passed is None and judged.score is None  # type: ignore[attr-defined]
    assert judged.evidence == NOT_EVALUATED == "not evaluated: no judge configured"  # type: ignore[attr-defined]
    assert judged.deterministic is False  # type: ignore[attr-defined]


def test_eval_criteria_apply_only_to_their_eval() -> None:
    first = grade(RUBRIC, '{"status": "refund issued"}', eval_id="1")
    assert "evals.1.1" in by_id(first) and "evals.2.1" not in by_id(first)
    assert first.passed and first.eval_id == "1"
    second = grade(RUBRIC, '{"status": "sorry"}', eval_id="2")
    assert "evals.1.1" not in by_id(second)
    assert not second.passed
    assert by_id(second)["evals.2.1"].evidence == "found 'sorry' on line 1"  # type: ignore[attr-defined]


def test_the_score_is_the_weighted_mean_of_deterministic_scores() -> None:
    # valid JSON (weight 2) passes; 6 words against a maximum of 4 scores 0.5 (weight 1)
    result = grade(RUBRIC, "[1, 2, 3, 4, 5, 6]")
    assert not result.passed
    assert result.score == pytest.approx((2 * 1.0 + 1 * 0.5) / 3)


def test_a_failed_deterministic_criterion_fails_the_grade() -> None:
    result = grade(RUBRIC, "Sure thing!")
    assert not result.passed
    assert by_id(result)["body.l3.valid-json"].evidence.startswith("JSON error at line 1 column 1")  # type: ignore[attr-defined]
    assert result.score == pytest.approx((2 * 0.0 + 1 * 1.0) / 3)


def test_a_rubric_of_judges_only_has_no_score_but_passes() -> None:
    judges = rubric(criterion("body.l1.judge", JudgeCheck(instruction="Be kind.")))
    result = grade(judges, "hello")
    assert result.passed
    assert result.score is None


def test_to_dict_is_plain_json() -> None:
    data = grade(RUBRIC, '{"a": 1}', eval_id="1").to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["skill_name"] == "demo-skill" and data["skill_version"] == "v1"
    assert data["results"][0] == {
        "criterion_id": "body.l3.valid-json",
        "kind": "valid_json",
        "passed": True,
        "score": 1.0,
        "evidence": "reply is valid JSON (object)",
        "deterministic": True,
        "weight": 2.0,
        "text": "Respond with valid JSON.",
    }


def test_to_grading_json_has_the_agent_skills_shape() -> None:
    data = grade(RUBRIC, '{"note": "no refund"}', eval_id="1").to_grading_json()
    assert data["expectations"] == [
        {"text": "Respond with valid JSON.", "passed": True, "evidence": "reply is valid JSON (object)"},
        {
            "text": "Keep it under 5 words.",
            "passed": True,
            "evidence": "reply has 3 words (at most 4 allowed)",
        },
        {"text": "Mentions the refund", "passed": True, "evidence": "found 'refund' on line 1"},
    ]
    assert data["summary"] == {"passed": 3, "failed": 0, "total": 3, "pass_rate": 1.0}
    assert data["not_evaluated"] == [{"text": "Be friendly.", "evidence": NOT_EVALUATED}]


def test_grading_json_summary_counts_failures() -> None:
    data = grade(RUBRIC, "nope nope nope nope nope nope nope nope", eval_id="2").to_grading_json()
    assert data["summary"] == {"passed": 1, "failed": 2, "total": 3, "pass_rate": 0.3333}
