"""The fine-tuning job API, shaped like OpenAI's so the official client works.

A job teaches a base model one skill: the gateway generates its dataset, trains an adapter,
lets the evaluator gate it, and the job succeeds with ``fine_tuned_model`` set once the adapter
is promoted. The skill goes where OpenAI's client requires a file: ``training_file`` is
``skill:<name>`` or ``skill:<name>@<version>`` (the latest accepted version when omitted).

``method.type``: ``supervised`` is SFT, ``reinforcement`` is GRPO on the skill's rubric rewards,
``sft+grpo`` (the default) is SFT then GRPO; the hyperparameters go in ``method.<type>`` (or
the legacy top-level ``hyperparameters``) and take the trainer's names (``"auto"`` allowed).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .training import AdapterType, Hyperparameter, JobStatus, Method

SKILL_FILE = re.compile(
    r"skill:(?P<name>[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)(?:@(?P<version>[A-Za-z0-9._-]{1,64}))?"
)
METHOD_TYPES: dict[str, Method] = {"supervised": "sft", "reinforcement": "grpo", "sft+grpo": "sft+grpo"}
MAX_METADATA_PAIRS = 16


class JobStage(StrEnum):
    """Where a running job is."""

    GENERATING_DATA = "generating_data"
    TRAINING = "training"
    EVALUATING = "evaluating"
    DONE = "done"


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class MethodSettings(_Request):
    hyperparameters: dict[str, Hyperparameter] = Field(default_factory=dict)


class FineTuningMethod(_Request):
    type: Literal["supervised", "reinforcement", "sft+grpo"] = "sft+grpo"
    supervised: MethodSettings | None = None
    reinforcement: MethodSettings | None = None
    sft_grpo: MethodSettings | None = Field(default=None, alias="sft+grpo")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class FineTuningJobCreate(_Request):
    """``POST /v1/fine_tuning/jobs``."""

    model: str = Field(min_length=1, max_length=512, description="The base model (a served model id).")
    training_file: str = Field(
        description="The skill: `skill:<name>` or `skill:<name>@<version>` (latest accepted when omitted)."
    )
    method: FineTuningMethod | None = None
    hyperparameters: dict[str, Hyperparameter] | None = Field(
        default=None, description="Legacy place for the method's hyperparameters."
    )
    suffix: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    metadata: dict[str, str] | None = None
    validation_file: str | None = Field(
        default=None, description="Not used: the data generator splits the skill's own validation set."
    )
    integrations: list[dict[str, Any]] | None = None
    adapter_type: AdapterType = Field(default="lora", description="Extension: lora or qlora.")
    samples: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Extension: training samples to generate (default: settings).",
    )

    @field_validator("training_file")
    @classmethod
    def _skill_reference(cls, value: str) -> str:
        if not SKILL_FILE.fullmatch(value):
            raise ValueError(
                "training_file names the skill to learn: 'skill:<name>' or 'skill:<name>@<version>'"
            )
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None:
            if len(value) > MAX_METADATA_PAIRS:
                raise ValueError(f"metadata holds at most {MAX_METADATA_PAIRS} pairs")
            if any(len(k) > 64 or len(v) > 512 for k, v in value.items()):
                raise ValueError("metadata keys are at most 64 characters, values at most 512")
        return value

    @model_validator(mode="after")
    def _nothing_unsupported(self) -> FineTuningJobCreate:
        if self.validation_file is not None:
            raise ValueError("validation_file is not supported: the validation set comes from the skill")
        if self.integrations:
            raise ValueError("integrations are not supported")
        return self

    @property
    def skill_name(self) -> str:
        found = SKILL_FILE.fullmatch(self.training_file)
        assert found is not None
        return found["name"]

    @property
    def skill_version(self) -> str | None:
        found = SKILL_FILE.fullmatch(self.training_file)
        assert found is not None
        return found["version"]

    @property
    def training_method(self) -> Method:
        return METHOD_TYPES[self.method.type if self.method else "sft+grpo"]

    @property
    def method_hyperparameters(self) -> dict[str, Hyperparameter]:
        values = dict(self.hyperparameters or {})
        if self.method is not None:
            chosen = {"supervised": self.method.supervised, "reinforcement": self.method.reinforcement}.get(
                self.method.type, self.method.sft_grpo
            )
            if chosen is not None:
                values.update(chosen.hyperparameters)
        return values


class JobError(_Response):
    code: str
    message: str
    param: str | None = None


class JobProgressInfo(_Response):
    """Extension: where the job is and how far along."""

    stage: JobStage
    done: int = 0
    total: int = 0
    message: str | None = None


class FineTuningJob(_Response):
    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    created_at: int
    finished_at: int | None = None
    model: str
    fine_tuned_model: str | None = None
    organization_id: str = "skill-adapter"
    result_files: list[str] = Field(default_factory=list)
    status: JobStatus
    validation_file: str | None = None
    training_file: str
    hyperparameters: dict[str, Hyperparameter] = Field(default_factory=dict)
    trained_tokens: int | None = None
    error: JobError | None = None
    seed: int
    estimated_finish: int | None = None
    integrations: list[dict[str, Any]] = Field(default_factory=list)
    metadata: dict[str, str] | None = None
    method: dict[str, Any]
    user_provided_suffix: str | None = None
    # extensions
    skill_name: str
    skill_version: str | None = None
    adapter_type: AdapterType = "lora"
    stage: JobStage
    progress: JobProgressInfo | None = None
    dataset_id: str | None = None
    adapter_id: str | None = Field(
        default=None, description="The trained adapter (a candidate until promoted)."
    )
    evaluation: dict[str, Any] | None = Field(
        default=None, description="Pass rates, lift and the gate's reasons."
    )


class FineTuningJobList(_Response):
    object: Literal["list"] = "list"
    data: list[FineTuningJob]
    has_more: bool


class FineTuningJobEvent(_Response):
    id: str
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    created_at: int
    level: Literal["info", "warn", "error"]
    message: str
    data: dict[str, Any] | None = None
    type: Literal["message", "metrics"] = "message"


class FineTuningJobEventList(_Response):
    object: Literal["list"] = "list"
    data: list[FineTuningJobEvent]
    has_more: bool


class FineTuningJobCheckpoint(_Response):
    id: str
    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    created_at: int
    fine_tuned_model_checkpoint: str = Field(
        description="The checkpoint's object in bucket `training-checkpoints`."
    )
    step_number: int
    metrics: dict[str, float | str]
    fine_tuning_job_id: str
    phase: str | None = None
    final: bool = False


class FineTuningJobCheckpointList(_Response):
    object: Literal["list"] = "list"
    data: list[FineTuningJobCheckpoint]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None
