"""Evaluation context: base vs skill-in-context vs adapter on the skill's own checks.

A run evaluates one model on a skill version's held-out prompts in up to three arms: the base
model without the skill (``base``), the base model with the skill in its system prompt
(``base_with_skill``) and the evaluated model without it (``adapter``). Its reports live in the
``evaluations`` bucket under ``<run_id>/``; ``EvaluationSummary`` is ``summary.json``.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .envelope import Command, Event

Arm = Literal["base", "base_with_skill", "adapter"]


class StartEvaluation(Command, subject="evaluation.cmd.run.start.v1"):
    run_id: str = Field(min_length=1, max_length=128)
    skill_name: str
    skill_version: str
    model: str = Field(description="Model id to evaluate (an adapter or a base model).")
    base_model: str
    job_id: str | None = None
    samples: int = Field(default=1, ge=1, le=64)
    seed: int = 0
    dataset_object: str | None = Field(
        default=None,
        description="manifest.json of the dataset whose held-out prompts to use (bucket `datasets`); "
        "default: the registered adapter's dataset, else the skill's own eval and held-out prompts.",
    )
    dataset_digest: str | None = Field(default=None, description="sha256 of that manifest.")
    promote: bool = Field(
        default=False,
        description="Publish the gate's decision (promote / retire) for a registered candidate adapter.",
    )
    min_lift: float | None = Field(default=None, ge=-1, le=1, description="Overrides the gate's setting.")
    min_pass_rate: float | None = Field(default=None, ge=0, le=1, description="Overrides the gate's setting.")
    max_regression: float | None = Field(
        default=None, ge=0, le=1, description="Overrides the gate's setting."
    )
    max_prompts: int | None = Field(default=None, ge=1, description="Use at most this many held-out prompts.")
    max_tokens: int | None = Field(default=None, ge=1, le=32768, description="Longest reply generated.")


def auto_run_id(adapter_id: str) -> str:
    """The run that evaluates a registered adapter (``AdapterRegistered``): one per adapter."""
    return f"auto-{hashlib.sha256(adapter_id.encode()).hexdigest()[:24]}"


class CancelEvaluation(Command, subject="evaluation.cmd.run.cancel.v1"):
    """Stop an evaluation run: a queued one never starts, a running one stops within a poll interval.

    The run ends with ``evaluation.evt.run.failed.v1`` (code ``cancelled``, this reason), its
    reports of what finished kept and labelled partial, and never promotes its model. A run that
    already finished is left as it is. A run not asked for yet is remembered as cancelled:
    commands travel on separate consumers, so the start this cancel follows may arrive after it,
    and is then not started.
    """

    run_id: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(default=None, max_length=1024)


class EvaluationProgress(Event, subject="evaluation.evt.run.progress.v1"):
    run_id: str
    model: str
    stage: Literal["queued", "generating"]
    done: int = Field(ge=0, description="Replies generated and graded so far.")
    total: int = Field(ge=0, description="Replies the run asks for (0 while queued).")


class Rate(BaseModel):
    """A pass rate with its 95% Wilson score interval."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    passed: int = Field(ge=0)
    total: int = Field(ge=0)
    rate: float = Field(ge=0, le=1)
    low: float = Field(ge=0, le=1)
    high: float = Field(ge=0, le=1)


class ArmSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    arm: Arm
    model: str
    skill_in_context: bool
    samples: int = Field(ge=0, description="Replies graded (prompts x (1 greedy + k sampled)).")
    overall: Rate = Field(description="Replies on which every applicable deterministic criterion passed.")
    greedy: Rate
    sampled: Rate
    criteria: dict[str, Rate] = Field(default_factory=dict, description="Deterministic criteria.")
    judged: dict[str, Rate] = Field(default_factory=dict, description="Judge criteria (with a judge only).")
    mean_reward: float | None = Field(default=None, description="Mean weighted rubric score.")
    mean_output_tokens: float = Field(default=0, ge=0)
    mean_latency_seconds: float = Field(default=0, ge=0)
    near_miss_content: Rate | None = Field(
        default=None, description="Near-miss prompts whose answer still says what it must."
    )
    general: Rate | None = Field(default=None, description="The general regression set, answered right.")


class Thresholds(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    min_lift: float
    min_pass_rate: float
    max_regression: float


class GateDecision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    passed: bool
    reasons: list[str] = Field(default_factory=list)
    thresholds: Thresholds


class EvaluationSummary(BaseModel):
    """``summary.json`` of a run: every arm's figures, the differences and the gate's decision."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    run_id: str
    model: str
    base_model: str
    skill_name: str
    skill_version: str
    partial: bool = Field(default=False, description="The run stopped early: figures cover what finished.")
    prompts: int = Field(default=0, ge=0)
    near_miss_prompts: int = Field(default=0, ge=0)
    general_prompts: int = Field(default=0, ge=0)
    samples: int = Field(default=1, ge=0)
    seed: int = 0
    judge_model: str | None = None
    not_evaluated: list[str] = Field(default_factory=list, description="Judge criteria without a judge.")
    arms: dict[str, ArmSummary] = Field(default_factory=dict)
    lift: float | None = Field(default=None, description="adapter - base, overall pass rate.")
    internalization: float | None = Field(default=None, description="adapter - base_with_skill.")
    regressions: dict[str, float] = Field(
        default_factory=dict,
        description="base - adapter per regression set (positive: the adapter is worse).",
    )
    gate: GateDecision | None = None
    objects: list[str] = Field(default_factory=list, description="Report objects in bucket `evaluations`.")


class EvaluationCompleted(Event, subject="evaluation.evt.run.completed.v1"):
    run_id: str
    model: str
    pass_rates: dict[str, float] = Field(description="Overall pass rate per arm.")
    lift: float
    promoted: bool
    reasons: list[str] = Field(default_factory=list)
    report_object: str | None = None
    skill_name: str | None = None
    skill_version: str | None = None
    internalization: float | None = None
    summary: EvaluationSummary | None = None
    objects: list[str] = Field(default_factory=list, description="Report objects in bucket `evaluations`.")


class EvaluationFailed(Event, subject="evaluation.evt.run.failed.v1"):
    run_id: str
    reason: str = Field(min_length=1)
    code: str | None = Field(
        default=None,
        description="base_not_served, model_not_served, no_heldout_prompts, dataset_not_found, "
        "dataset_digest_mismatch, skill_not_found, inference_unavailable, ...",
    )
    model: str | None = None
    partial: bool = Field(default=False, description="Reports of what finished were kept, labelled partial.")
    summary: EvaluationSummary | None = None
    objects: list[str] = Field(default_factory=list, description="Report objects in bucket `evaluations`.")
