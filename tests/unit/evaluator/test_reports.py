"""Grading against a rubric, per-arm figures, the gate's decisions and the report shapes."""

from __future__ import annotations

import json

import pytest

from skill_adapter.contracts import (
    EvaluationSummary,
    JsonSchemaCheck,
    JudgeCheck,
    StartEvaluation,
    Thresholds,
    ValidJsonCheck,
)
from skill_adapter.evaluator import report
from skill_adapter.evaluator.chart import chart_png
from skill_adapter.evaluator.gate import decide, thresholds_for
from skill_adapter.evaluator.prompts import EvalPrompt, content_ok, general_set, parse_heldout
from skill_adapter.evaluator.runner import ArmSpec, Plan
from skill_adapter.evaluator.scoring import SampleResult, grade_reply, outcomes
from tests.unit.skillspec.builders import criterion, rubric

pytestmark = pytest.mark.unit

RUBRIC = rubric(
    criterion("valid-json", ValidJsonCheck(), weight=3, text="Reply with JSON."),
    criterion(
        "answer-object",
        JsonSchemaCheck(json_schema={"type": "object", "required": ["answer"]}),
        text="One object with an answer.",
    ),
    criterion("friendly", JudgeCheck(instruction="Be friendly."), text="Be friendly."),
)
ARMS = [
    ArmSpec("base", "tiny", None),
    ArmSpec("base_with_skill", "tiny", "You have the skill"),
    ArmSpec("adapter", "ft:tiny:demo:1", None),
]
SKILL_PROMPT = EvalPrompt(id="p1", text="What is 2+2?", set="skill", source="evals")
NEAR_MISS = EvalPrompt(
    id="n1", text="What is 6*7?", set="skill", source="near_miss", near_miss=True, expected=("42",)
)
GENERAL = EvalPrompt(id="g1", text="Capital of France?", set="general", source="general", expected=("Paris",))


def sample(
    arm: str, prompt: EvalPrompt, text: str, kind: str = "greedy", seed: int | None = None
) -> SampleResult:
    graded, content = grade_reply(RUBRIC, prompt, text)
    return SampleResult(
        arm=arm,
        model=next(a.model for a in ARMS if a.name == arm),
        prompt_id=prompt.id,
        prompt_set=prompt.set,
        source=prompt.source,
        near_miss=prompt.near_miss,
        kind=kind,  # type: ignore[arg-type]
        seed=seed,
        temperature=0.0 if kind == "greedy" else 0.8,
        text=text,
        finish_reason="stop",
        output_tokens=len(text.split()),
        latency_seconds=0.5,
        passed=graded.passed if graded else None,
        score=graded.score if graded else None,
        content_ok=content,
        criteria=outcomes(graded),
    )


def results() -> list[SampleResult]:
    good, bad = '{"answer": "4"}', "four"
    return [
        sample("base", SKILL_PROMPT, bad),
        sample("base", SKILL_PROMPT, bad, "sampled", 0),
        sample("base", NEAR_MISS, "It is 42."),
        sample("base", GENERAL, "Paris."),
        sample("base_with_skill", SKILL_PROMPT, good),
        sample("base_with_skill", SKILL_PROMPT, bad, "sampled", 0),
        sample("base_with_skill", NEAR_MISS, '{"answer": "42"}'),
        sample("adapter", SKILL_PROMPT, good),
        sample("adapter", SKILL_PROMPT, good, "sampled", 0),
        sample("adapter", NEAR_MISS, '{"answer": "42"}'),
        sample("adapter", GENERAL, '{"answer": "Lyon"}'),
    ]


def summary_of(found: list[SampleResult], **extra: object) -> EvaluationSummary:
    arms = {arm.name: report.arm_summary(arm, found) for arm in ARMS}
    lift, internalization, regressions = report.differences(arms)
    fields: dict = {
        "run_id": "r1",
        "model": "ft:tiny:demo:1",
        "base_model": "tiny",
        "skill_name": "demo-skill",
        "skill_version": "v1",
        "prompts": 2,
        "samples": 1,
        "arms": arms,
        "lift": lift,
        "internalization": internalization,
        "regressions": regressions,
        "not_evaluated": report.not_evaluated(RUBRIC, judged=False),
        "objects": ["r1/samples.jsonl"],
    }
    return EvaluationSummary(**{**fields, **extra})


def test_a_reply_is_graded_by_the_rubric_checks_and_judge_criteria_are_not_guessed() -> None:
    graded, content = grade_reply(RUBRIC, SKILL_PROMPT, '{"answer": "4"}')
    assert graded is not None and graded.passed and content is None
    verdicts = outcomes(graded)
    assert verdicts["valid-json"].passed is True and verdicts["friendly"].passed is None
    graded, content = grade_reply(RUBRIC, NEAR_MISS, "It is 42")
    assert graded is not None and not graded.passed and content is True
    graded, content = grade_reply(RUBRIC, GENERAL, "Paris")
    assert graded is None and content is True


def test_content_checks_want_the_number_on_its_own() -> None:
    assert content_ok(("42",), '{"answer": 42}')
    assert not content_ok(("42",), "420")
    assert not content_ok(("4",), "4.5")
    assert content_ok(("Paris",), "it's PARIS")
    assert len(general_set()) >= 30 and all(p.expected for p in general_set())


def test_per_arm_figures_lift_internalization_and_regressions() -> None:
    summary = summary_of(results())
    base, with_skill, adapter = (summary.arms[a] for a in ("base", "base_with_skill", "adapter"))
    assert (base.overall.passed, base.overall.total) == (0, 3)
    assert (with_skill.overall.passed, with_skill.overall.total) == (2, 3)
    assert (adapter.overall.passed, adapter.overall.total) == (3, 3)
    assert adapter.greedy.rate == 1.0 and with_skill.sampled.rate == 0.0
    assert adapter.criteria["valid-json"].rate == 1.0 and "friendly" not in adapter.criteria
    assert adapter.overall.low == pytest.approx(0.4385, abs=1e-4)
    assert summary.lift == pytest.approx(1.0) and summary.internalization == pytest.approx(1 / 3, abs=1e-6)
    assert summary.regressions == {"near_miss_content": 0.0, "general": 1.0}
    assert summary.not_evaluated == ["friendly"]
    assert adapter.mean_reward == 1.0 and base.mean_reward is not None and base.mean_reward < 1


def test_the_gate_states_every_reason() -> None:
    summary = summary_of(results())
    strict = Thresholds(min_lift=0.1, min_pass_rate=0.8, max_regression=0.05)
    decision = decide(summary, strict)
    assert not decision.passed
    assert (
        "regression on general: 1.000 below the base model, more than 0.050 "
        "(base 1/1, adapter 0/1; 95% CI of the drop -0.122 to +1.000)"
    ) in decision.reasons  # the counts and the interval say how little the figure rests on
    lenient = Thresholds(min_lift=0.1, min_pass_rate=0.8, max_regression=1.0)
    passed = decide(summary, lenient)
    assert passed.passed
    assert "near miss content within 1.000 of the base model (base 1/1, adapter 1/1; " in " ".join(
        passed.reasons
    )
    assert not decide(summary, lenient, incumbent=("ft:tiny:demo:0", 1.01)).passed
    partial = decide(summary.model_copy(update={"partial": True}), lenient)
    assert not partial.passed and "partial" in partial.reasons[0]
    base_only = summary.model_copy(update={"arms": {k: v for k, v in summary.arms.items() if k != "adapter"}})
    assert not decide(base_only, lenient).passed


def test_per_run_overrides_win_over_settings() -> None:
    command = StartEvaluation(
        correlation_id="c",
        producer="t",
        run_id="r",
        skill_name="s",
        skill_version="v",
        model="m",
        base_model="b",
        min_pass_rate=0.5,
    )
    got = thresholds_for(command, Thresholds(min_lift=0.1, min_pass_rate=0.8, max_regression=0.05))
    assert (got.min_lift, got.min_pass_rate, got.max_regression) == (0.1, 0.5, 0.05)


def test_report_files_have_the_agent_skills_shapes() -> None:
    found = results()
    summary = summary_of(found)
    grading = report.grading_json(summary, found, RUBRIC)
    assert grading["arm"] == "adapter"
    assert {"text", "passed", "evidence"} <= set(grading["expectations"][0])
    assert grading["summary"] == {"passed": 6, "failed": 0, "total": 6, "pass_rate": 1.0}
    assert grading["not_evaluated"][0]["criterion_id"] == "friendly"
    bench = report.benchmark_json(summary, found)["run_summary"]
    for key in ("with_skill", "without_skill", "adapter"):
        assert set(bench[key]) >= {"pass_rate", "time_seconds", "tokens"}
        assert set(bench[key]["pass_rate"]) == {"mean", "stddev", "min", "max"}
    assert bench["delta"]["pass_rate"] == "+0.7500"  # per-prompt means: (0.5 + 1) / 2 - 0
    assert bench["adapter_delta"]["pass_rate"] == "+1.0000"
    lines = [json.loads(line) for line in report.samples_jsonl(found).splitlines()]
    assert len(lines) == len(found) and lines[0]["arm"] == "base"
    png = chart_png(summary)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000


def test_plan_asks_every_arm_greedy_and_sampled_with_the_same_seeds() -> None:
    plan = Plan(
        arms=ARMS, prompts=[SKILL_PROMPT], general=[GENERAL], samples=2, seed=7, temperature=0.8, max_tokens=8
    )
    jobs = plan.jobs()
    assert [(a.name, p.id, k, s) for a, p, k, s in jobs if a.name == "adapter"] == [
        ("adapter", "p1", "greedy", None),
        ("adapter", "p1", "sampled", 7),
        ("adapter", "p1", "sampled", 8),
        ("adapter", "g1", "greedy", None),
    ]
    assert not any(a.name == "base_with_skill" and p.set == "general" for a, p, _, _ in jobs)


def test_heldout_lines_read_tolerantly_and_bad_lines_are_named() -> None:
    data = (
        b'{"prompt_id": "a", "prompt": "hi", "source": "evals", "eval_id": "1", "extra": 1}\n'
        b'{"prompt_id": "b", "prompt": "6*7?", "source": "near_miss", "near_miss": true, "expected_content": ["42"]}\n'
    )
    prompts = parse_heldout(data, "heldout.jsonl")
    assert [p.id for p in prompts] == ["a", "b"] and prompts[1].expected == ("42",)
    with pytest.raises(ValueError, match=r"heldout\.jsonl line 1"):
        parse_heldout(b'{"prompt": ""}\n', "heldout.jsonl")
