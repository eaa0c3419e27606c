"""Grader runs: the request contract, inline rubric checks, the summary."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from skill_adapter.contracts import RegexCheck
from skill_adapter.contracts.api import GraderRunRequest, GraderSample
from skill_adapter.gateway.errors import BadRequest
from skill_adapter.gateway.graders import check_rubric, grade_samples, summarize
from tests.unit.gateway.builders import criterion, json_rubric

pytestmark = pytest.mark.unit


def test_a_request_names_exactly_one_rubric_source() -> None:
    rubric = json_rubric()
    assert GraderRunRequest(skill="demo-skill", samples=[GraderSample(text="{}")]).rubric is None
    assert GraderRunRequest(rubric=rubric, samples=[GraderSample(text="{}")]).skill is None
    for bad in (
        {"samples": [{"text": "{}"}]},
        {"skill": "demo-skill", "rubric": rubric, "samples": [{"text": "{}"}]},
        {"rubric": rubric, "version": "a" * 64, "samples": [{"text": "{}"}]},
        {"skill": "demo-skill", "samples": []},
        {"skill": "demo-skill", "samples": [{"text": "x"}] * 101},
        {"skill": "demo-skill", "samples": [{"text": "x" * 100_001}]},
    ):
        with pytest.raises(ValidationError):
            GraderRunRequest.model_validate(bad)


def test_grades_follow_the_api_contract_and_judges_are_not_evaluated() -> None:
    good, bad = grade_samples(
        json_rubric(), [GraderSample(text='{"a": 1}'), GraderSample(text="plain words")]
    )
    assert good.passed and good.score == 1.0
    assert not bad.passed and bad.score == 0.5
    judge = next(r for r in bad.results if r.criterion_id == "polite")
    assert judge.passed is None and judge.score is None and not judge.deterministic
    summary = summarize([good, bad])
    assert (summary.samples, summary.passed, summary.pass_rate, summary.mean_score) == (2, 1, 0.5, 0.75)


def test_a_summary_without_scores_has_no_mean() -> None:
    rubric = json_rubric()
    judge_only = rubric.model_copy(update={"criteria": [c for c in rubric.criteria if not c.deterministic]})
    results = grade_samples(judge_only, [GraderSample(text="hi")])
    assert results[0].passed is True  # nothing deterministic failed
    assert summarize(results).mean_score is None


def test_an_inline_rubric_with_a_check_that_cannot_run_is_refused() -> None:
    check_rubric(json_rubric())
    broken = json_rubric().model_copy(
        update={"criteria": [*json_rubric().criteria, criterion("nested", RegexCheck(pattern="(a+)+$"), "x")]}
    )
    with pytest.raises(BadRequest) as refused:
        check_rubric(broken)
    assert refused.value.param == "rubric.criteria[3].check"
    assert refused.value.code == "invalid_rubric"
