"""Training context: fine-tuning jobs, their commands and lifecycle events."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from .envelope import Command, Event, Sha256Hex


class JobStatus(StrEnum):
    """OpenAI fine-tuning job statuses, plus ``paused`` for jobs paused on request."""

    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


Method = Literal["sft", "grpo", "sft+grpo"]
AdapterType = Literal["lora", "qlora"]
Hyperparameter = int | float | str | bool


class StartJob(Command, subject="training.cmd.job.start.v1"):
    job_id: str = Field(min_length=1, max_length=128)
    skill_name: str
    skill_version: str
    base_model: str
    dataset_object: str
    dataset_digest: Sha256Hex
    method: Method = "sft+grpo"
    adapter_type: AdapterType = "lora"
    hyperparameters: dict[str, Hyperparameter] = Field(
        default_factory=dict, description="Values or 'auto'; the trainer records what it chose."
    )
    seed: int = 0


class CancelJob(Command, subject="training.cmd.job.cancel.v1"):
    job_id: str
    reason: str | None = None


class PauseJob(Command, subject="training.cmd.job.pause.v1"):
    job_id: str


class ResumeJob(Command, subject="training.cmd.job.resume.v1"):
    job_id: str


class JobStarted(Event, subject="training.evt.job.started.v1"):
    job_id: str
    worker_id: str
    device: str
    resumed_from_step: int | None = Field(default=None, ge=0)
    resumed_from_phase: Literal["sft", "grpo"] | None = Field(
        default=None, description="Phase of the checkpoint the job resumed from."
    )
    hyperparameters: dict[str, Hyperparameter] = Field(
        default_factory=dict, description="Every value the run uses, 'auto' ones resolved."
    )


class JobProgress(Event, subject="training.evt.job.progress.v1"):
    job_id: str
    phase: Literal["sft", "grpo"]
    step: int = Field(ge=0)
    total_steps: int = Field(ge=0)
    epoch: float = Field(ge=0)
    loss: float | None = None
    reward_mean: float | None = None
    reward_std: float | None = None
    learning_rate: float | None = None
    tokens_per_second: float | None = None
    eta_seconds: float | None = None


class JobCheckpointed(Event, subject="training.evt.job.checkpoint.v1"):
    job_id: str
    step: int = Field(ge=0)
    object_name: str
    digest: Sha256Hex
    metrics: dict[str, float] = Field(default_factory=dict)
    phase: Literal["sft", "grpo"] | None = Field(
        default=None, description="Training phase; steps count from 0 again in each phase."
    )
    final: bool = Field(default=False, description="The last checkpoint of its phase.")


class JobPaused(Event, subject="training.evt.job.paused.v1"):
    job_id: str
    step: int = Field(ge=0)


class JobSucceeded(Event, subject="training.evt.job.succeeded.v1"):
    job_id: str
    adapter_object: str
    adapter_digest: Sha256Hex
    adapter_id: str | None = Field(
        default=None, description="Model id the adapter is registered (and served) under."
    )
    trained_tokens: int = Field(default=0, ge=0)
    metrics: dict[str, float] = Field(default_factory=dict)


class JobFailed(Event, subject="training.evt.job.failed.v1"):
    job_id: str
    reason: str = Field(min_length=1)
    code: str | None = Field(default=None, description="Machine-readable cause, e.g. out_of_memory.")
    suggestions: list[str] = Field(default_factory=list)


class JobCancelled(Event, subject="training.evt.job.cancelled.v1"):
    job_id: str
    reason: str | None = None
