"""Evaluation context: base vs skill-in-context vs adapter on the skill's own checks."""

from __future__ import annotations

from pydantic import Field

from .envelope import Command, Event


class StartEvaluation(Command, subject="evaluation.cmd.run.start.v1"):
    run_id: str = Field(min_length=1, max_length=128)
    skill_name: str
    skill_version: str
    model: str = Field(description="Model id to evaluate (an adapter or a base model).")
    base_model: str
    job_id: str | None = None
    samples: int = Field(default=1, ge=1, le=64)
    seed: int = 0


class EvaluationCompleted(Event, subject="evaluation.evt.run.completed.v1"):
    run_id: str
    model: str
    pass_rates: dict[str, float] = Field(description="Overall pass rate per arm.")
    lift: float
    promoted: bool
    reasons: list[str] = Field(default_factory=list)
    report_object: str | None = None


class EvaluationFailed(Event, subject="evaluation.evt.run.failed.v1"):
    run_id: str
    reason: str = Field(min_length=1)
