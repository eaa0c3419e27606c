"""The run's generations with a fake inference plane: arms, seeds, judge verdicts, partial results."""

from __future__ import annotations

from typing import Any

import pytest

from skill_adapter.contracts import JsonSchemaCheck, JudgeCheck
from skill_adapter.evaluator.inference import InferenceUnavailable, Reply
from skill_adapter.evaluator.prompts import EvalPrompt
from skill_adapter.evaluator.runner import ArmSpec, Judge, Plan, run_plan
from skill_adapter.evaluator.scoring import SampleResult
from tests.unit.skillspec.builders import criterion, rubric

pytestmark = pytest.mark.unit

RUBRIC = rubric(
    criterion("answer-object", JsonSchemaCheck(json_schema={"type": "object", "required": ["answer"]})),
    criterion("polite", JudgeCheck(instruction="Be polite.")),
)
ARMS = [
    ArmSpec("base", "tiny", None),
    ArmSpec("base_with_skill", "tiny", "SKILL"),
    ArmSpec("adapter", "ft:tiny:x:1", None),
]
PROMPTS = [EvalPrompt(id="p1", text="Capital of Italy?", set="skill", source="evals")]
GENERAL = [EvalPrompt(id="g1", text="6*7?", set="general", source="general", expected=("42",))]


class FakePlane:
    """Answers like a model that follows the skill only with it in context or as the adapter."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_after = fail_after

    async def chat(self, model: str, messages: list[dict[str, str]], **options: Any) -> Reply:
        self.calls.append({"model": model, "messages": messages, **options})
        if self.fail_after is not None and len(self.calls) > self.fail_after:
            raise InferenceUnavailable("the fake plane timed out")
        if (options.get("extra") or {}).get("response_format"):
            return Reply('{"passed": true, "evidence": "says please"}', "stop", 9, 0.01)
        follows = model.startswith("ft:") or messages[0]["role"] == "system"
        text = '{"answer": "Rome 42"}' if follows else "Rome, 42"
        return Reply(text, "stop", 5, 0.02)


def plan(samples: int = 2) -> Plan:
    return Plan(
        arms=ARMS, prompts=PROMPTS, general=GENERAL, samples=samples, seed=5, temperature=0.7, max_tokens=16
    )


async def test_every_arm_is_asked_greedy_and_sampled_and_graded() -> None:
    plane, results = FakePlane(), []
    await run_plan(plan(), RUBRIC, plane, results, concurrency=3)  # type: ignore[arg-type]
    assert len(results) == 3 * 3 + 2 * 1
    by_arm = {arm.name: [r for r in results if r.arm == arm.name and r.prompt_set == "skill"] for arm in ARMS}
    assert all(not r.passed for r in by_arm["base"])
    assert all(r.passed for r in by_arm["base_with_skill"] + by_arm["adapter"])
    seeds = sorted((r.seed, r.temperature) for r in by_arm["adapter"] if r.kind == "sampled")
    assert seeds == [(5, 0.7), (6, 0.7)]
    assert [c["messages"][0]["content"] for c in plane.calls if c["messages"][0]["role"] == "system"] == [
        "SKILL"
    ] * 3
    general = [r for r in results if r.prompt_set == "general"]
    assert {r.arm for r in general} == {"base", "adapter"} and all(r.content_ok for r in general)
    assert all(r.passed is None for r in general)
    assert all(r.criteria["polite"].passed is None and not r.judged for r in by_arm["adapter"])


async def test_judge_criteria_are_scored_with_evidence_when_a_judge_is_configured() -> None:
    plane, results = FakePlane(), []
    judge = Judge(plane, "judge-model")  # type: ignore[arg-type]
    await run_plan(plan(samples=1), RUBRIC, plane, results, concurrency=2, judge=judge)
    skill = [r for r in results if r.prompt_set == "skill"]
    assert all(r.judged["polite"].passed and r.judged["polite"].evidence == "says please" for r in skill)
    assert sum(1 for c in plane.calls if c["model"] == "judge-model") == len(skill)


async def test_an_inference_failure_stops_the_run_and_keeps_what_finished() -> None:
    plane, results = FakePlane(fail_after=4), []
    with pytest.raises(InferenceUnavailable):
        await run_plan(plan(), RUBRIC, plane, results, concurrency=1)  # type: ignore[arg-type]
    assert len(results) == 4
    assert all(isinstance(r, SampleResult) for r in results)
