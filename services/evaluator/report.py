"""From graded samples to figures: per-arm pass rates with intervals, lift, regressions, and the
report files in the Agent Skills eval shapes.

- ``samples.jsonl``: every reply with its grade.
- ``grading.json``: per reply and criterion ``{text, passed, evidence}`` (``expectations``) and a
  ``summary`` ``{passed, failed, total, pass_rate}`` of the evaluated model's arm; judge criteria
  without a judge are listed under ``not_evaluated``, never guessed.
- ``benchmark.json``: ``run_summary`` with ``with_skill`` (the base model with the skill in
  context), ``without_skill`` (the base model) and ``delta``, each over pass rate, time and
  tokens (``mean``/``stddev``/``min``/``max``), plus the ``adapter`` and its deltas.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from skill_adapter.contracts import ArmSummary, EvaluationSummary, Rubric

from .runner import ArmSpec
from .scoring import SampleResult
from .statistics import mean, rate_of, spread

ARM_ORDER = ("base", "base_with_skill", "adapter")


def arm_summary(arm: ArmSpec, results: Sequence[SampleResult]) -> ArmSummary:
    mine = [r for r in results if r.arm == arm.name]
    skill = [r for r in mine if r.prompt_set == "skill"]
    criteria: dict[str, list[bool]] = {}
    judged: dict[str, list[bool]] = {}
    for result in skill:
        for cid, outcome in result.criteria.items():
            if outcome.deterministic and outcome.passed is not None:
                criteria.setdefault(cid, []).append(outcome.passed)
        for cid, verdict in result.judged.items():
            judged.setdefault(cid, []).append(verdict.passed)
    near_miss = [r.content_ok for r in skill if r.near_miss and r.content_ok is not None]
    general = [r.content_ok for r in mine if r.prompt_set == "general" and r.content_ok is not None]
    rewards = [r.score for r in skill if r.score is not None]
    return ArmSummary(
        arm=arm.name,  # type: ignore[arg-type]
        model=arm.model,
        skill_in_context=arm.system is not None,
        samples=len(skill),
        overall=rate_of(bool(r.passed) for r in skill),
        greedy=rate_of(bool(r.passed) for r in skill if r.kind == "greedy"),
        sampled=rate_of(bool(r.passed) for r in skill if r.kind == "sampled"),
        criteria={cid: rate_of(values) for cid, values in sorted(criteria.items())},
        judged={cid: rate_of(values) for cid, values in sorted(judged.items())},
        mean_reward=round(m, 6) if (m := mean(rewards)) is not None else None,
        mean_output_tokens=round(mean(r.output_tokens for r in skill) or 0.0, 3),
        mean_latency_seconds=round(mean(r.latency_seconds for r in skill) or 0.0, 6),
        near_miss_content=rate_of(v for v in near_miss if v is not None) if near_miss else None,
        general=rate_of(v for v in general if v is not None) if general else None,
    )


def differences(arms: dict[str, ArmSummary]) -> tuple[float | None, float | None, dict[str, float]]:
    """Lift (adapter - base), internalization (adapter - base_with_skill), regressions (base - adapter)."""
    adapter, base, with_skill = arms.get("adapter"), arms.get("base"), arms.get("base_with_skill")
    if adapter is None:
        return None, None, {}
    lift = round(adapter.overall.rate - base.overall.rate, 6) if base else None
    internalization = round(adapter.overall.rate - with_skill.overall.rate, 6) if with_skill else None
    regressions: dict[str, float] = {}
    if base is not None:
        for name in ("near_miss_content", "general"):
            mine, theirs = getattr(adapter, name), getattr(base, name)
            if mine is not None and theirs is not None and mine.total and theirs.total:
                regressions[name] = round(theirs.rate - mine.rate, 6)
    return lift, internalization, regressions


def not_evaluated(rubric: Rubric, judged: bool) -> list[str]:
    if judged:
        return []
    return [c.id for c in rubric.criteria if not c.deterministic]


def samples_jsonl(results: Sequence[SampleResult]) -> bytes:
    ordered = sorted(results, key=_order)
    return b"".join(json.dumps(r.to_json(), ensure_ascii=False).encode() + b"\n" for r in ordered)


def _order(result: SampleResult) -> tuple[int, str, str, int]:
    arm = ARM_ORDER.index(result.arm) if result.arm in ARM_ORDER else len(ARM_ORDER)
    return arm, result.prompt_set, result.prompt_id, -1 if result.seed is None else result.seed


def grading_json(
    summary: EvaluationSummary, results: Sequence[SampleResult], rubric: Rubric
) -> dict[str, Any]:
    evaluated_arm = "adapter" if "adapter" in summary.arms else "base"
    expectations: list[dict[str, Any]] = []
    for result in sorted(results, key=_order):
        if result.prompt_set != "skill":
            continue
        label = f"{result.prompt_id} {result.kind}" + (
            f" seed {result.seed}" if result.seed is not None else ""
        )
        for cid, outcome in result.criteria.items():
            if outcome.passed is None:
                continue
            expectations.append(
                {
                    "text": outcome.text,
                    "passed": outcome.passed,
                    "evidence": outcome.evidence,
                    "criterion_id": cid,
                    "arm": result.arm,
                    "sample": label,
                }
            )
        for cid, verdict in result.judged.items():
            expectations.append(
                {
                    "text": _criterion_text(rubric, cid),
                    "passed": verdict.passed,
                    "evidence": verdict.evidence,
                    "criterion_id": cid,
                    "arm": result.arm,
                    "sample": label,
                    "judged": True,
                }
            )

    def tally(arm: str) -> dict[str, Any]:
        mine = [e for e in expectations if e["arm"] == arm]
        passed = sum(1 for e in mine if e["passed"])
        return {
            "passed": passed,
            "failed": len(mine) - passed,
            "total": len(mine),
            "pass_rate": round(passed / len(mine), 4) if mine else 0.0,
        }

    return {
        "run_id": summary.run_id,
        "model": summary.model,
        "skill_name": summary.skill_name,
        "skill_version": summary.skill_version,
        "partial": summary.partial,
        "arm": evaluated_arm,
        "expectations": expectations,
        "summary": tally(evaluated_arm),
        "summary_by_arm": {arm: tally(arm) for arm in summary.arms},
        "not_evaluated": [
            {
                "criterion_id": cid,
                "text": _criterion_text(rubric, cid),
                "evidence": "not evaluated: no judge configured",
            }
            for cid in summary.not_evaluated
        ],
    }


def _criterion_text(rubric: Rubric, cid: str) -> str:
    for criterion in rubric.criteria:
        if criterion.id == cid:
            return criterion.provenance.text
    return cid


def _arm_stats(results: Sequence[SampleResult], arm: str) -> dict[str, Any]:
    mine = [r for r in results if r.arm == arm and r.prompt_set == "skill"]
    by_prompt: dict[str, list[bool]] = {}
    for result in mine:
        by_prompt.setdefault(result.prompt_id, []).append(bool(result.passed))
    return {
        "pass_rate": spread(sum(v) / len(v) for v in by_prompt.values()),
        "time_seconds": spread(r.latency_seconds for r in mine),
        "tokens": spread(float(r.output_tokens) for r in mine),
        "samples": len(mine),
    }


def _delta(new: dict[str, Any], old: dict[str, Any]) -> dict[str, str]:
    return {
        key: f"{new[key]['mean'] - old[key]['mean']:+.4f}" for key in ("pass_rate", "time_seconds", "tokens")
    }


def benchmark_json(summary: EvaluationSummary, results: Sequence[SampleResult]) -> dict[str, Any]:
    stats = {arm: _arm_stats(results, arm) for arm in summary.arms}
    run_summary: dict[str, Any] = {}
    if "base_with_skill" in stats:
        run_summary["with_skill"] = stats["base_with_skill"]
    if "base" in stats:
        run_summary["without_skill"] = stats["base"]
    if "with_skill" in run_summary and "without_skill" in run_summary:
        run_summary["delta"] = _delta(run_summary["with_skill"], run_summary["without_skill"])
    if "adapter" in stats:
        run_summary["adapter"] = stats["adapter"]
        if "without_skill" in run_summary:
            run_summary["adapter_delta"] = _delta(stats["adapter"], run_summary["without_skill"])
        if "with_skill" in run_summary:
            run_summary["internalization_delta"] = _delta(stats["adapter"], run_summary["with_skill"])
    return {
        "metadata": {
            "skill_name": summary.skill_name,
            "skill_version": summary.skill_version,
            "run_id": summary.run_id,
            "model": summary.model,
            "base_model": summary.base_model,
            "samples_per_prompt": 1 + summary.samples,
            "seed": summary.seed,
            "prompts": summary.prompts,
            "partial": summary.partial,
        },
        "configurations": {
            arm: {"model": s.model, "skill_in_context": s.skill_in_context} for arm, s in summary.arms.items()
        },
        "run_summary": run_summary,
    }
