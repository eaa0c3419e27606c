"""Datasets context: generating verified training data for a skill version.

A dataset lives in the ``datasets`` bucket under ``<dataset_id>/``: ``train.jsonl`` and
``validation.jsonl`` (chat samples), ``heldout.jsonl`` (prompts kept for evaluation, never
trained on), ``grpo.jsonl`` (prompts whose rewards vary, for GRPO) and ``manifest.json`` (the
lineage sidecar: every file with its digest, the skill and rubric digests, models, strategies,
seeds, counts and acceptance rates). ``manifest.json`` is written last: a dataset without it
is not complete.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .envelope import Command, Event, Sha256Hex

Strategy = Literal["auto", "teacher", "guided", "best_of_n"]
ConcreteStrategy = Literal["teacher", "guided", "best_of_n"]


class GenerateDataset(Command, subject="datasets.cmd.dataset.generate.v1"):
    dataset_id: str = Field(min_length=1, max_length=128)
    skill_name: str
    skill_version: str
    base_model: str
    strategy: Strategy = "auto"
    num_samples: int = Field(default=200, ge=1, le=1_000_000)
    seed: int = 0
    job_id: str | None = None
    max_length: int | None = Field(
        default=None,
        ge=16,
        le=1_048_576,
        description="Longest sample in tokens of the base model's tokenizer (default: the generator's).",
    )
    candidates: int | None = Field(
        default=None, ge=1, le=64, description="Samples per prompt for best_of_n (default: the generator's)."
    )
    teacher_model: str | None = Field(
        default=None, description="Overrides the configured teacher model id for this run."
    )
    grpo_probe_prompts: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="Training prompts sampled k times to find GRPO's prompts (default: the generator's; "
        "0: none, for a job that trains with SFT only).",
    )


class CancelDataset(Command, subject="datasets.cmd.dataset.cancel.v1"):
    """Stop a dataset run: a queued one never starts, a running one stops within a poll interval.

    The run ends with ``datasets.evt.dataset.failed.v1`` (code ``cancelled``, this reason) and
    leaves no files. A run that already finished is left as it is. A dataset not asked for yet
    is remembered as cancelled: commands travel on separate consumers, so the ``generate`` this
    cancel follows may arrive after it, and is then not started.
    """

    dataset_id: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(default=None, max_length=1024)


class DatasetProgress(Event, subject="datasets.evt.dataset.progress.v1"):
    dataset_id: str
    stage: str
    done: int = Field(ge=0)
    total: int = Field(ge=0)
    message: str | None = None
    accepted: int | None = Field(default=None, ge=0, description="Verified samples so far.")


class DatasetFile(BaseModel):
    """One object of a dataset."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str = Field(description="Object name in the `datasets` bucket.")
    digest: Sha256Hex
    records: int = Field(ge=0)
    role: Literal["train", "validation", "heldout", "grpo", "manifest"]


class StrategyStats(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    attempts: int = Field(ge=0, description="Candidate responses produced.")
    accepted: int = Field(ge=0, description="Candidates that passed every check.")
    kept: int = Field(ge=0, description="Samples in the dataset that this strategy produced.")
    disabled: str | None = Field(default=None, description="Why auto stopped using it, if it did.")

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.attempts if self.attempts else 0.0


class HeldoutRecord(BaseModel):
    """One line of a dataset's ``heldout.jsonl``: a prompt kept for evaluation, never trained on.

    Written by the data generator, read by the evaluator (unknown fields are ignored, so a newer
    writer does not break an older reader).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    prompt_id: str
    prompt: str = Field(min_length=1)
    source: str
    eval_id: str | None = None
    near_miss: bool = False
    expected_content: list[str] = Field(
        default_factory=list, description="Any of these in a reply means its content is right."
    )
    reference: str | None = None


class DatasetStats(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    prompts: dict[str, int] = Field(default_factory=dict, description="Prompts by source, after dedupe.")
    duplicates_dropped: int = Field(default=0, ge=0)
    strategies: dict[str, StrategyStats] = Field(default_factory=dict)
    grpo_probed: int = Field(default=0, ge=0)
    grpo_zero_variance_share: float | None = Field(default=None, ge=0, le=1)
    criterion_failures: dict[str, int] = Field(
        default_factory=dict, description="Rejected candidates per failed criterion."
    )
    seconds: float = Field(default=0, ge=0)
    samples_per_minute: float = Field(default=0, ge=0)
    max_tokens_seen: int = Field(default=0, ge=0)


class DatasetGenerated(Event, subject="datasets.evt.dataset.generated.v1"):
    dataset_id: str
    skill_name: str
    skill_version: str
    object_name: str  # the manifest (lineage sidecar) in bucket `datasets`
    digest: Sha256Hex
    num_train: int = Field(ge=0)
    num_validation: int = Field(ge=0)
    num_heldout: int = Field(ge=0)
    strategy_counts: dict[str, int] = Field(default_factory=dict)
    num_grpo: int | None = Field(default=None, ge=0)
    base_model: str | None = None
    files: list[DatasetFile] = Field(default_factory=list)
    stats: DatasetStats | None = None


class DatasetFailed(Event, subject="datasets.evt.dataset.failed.v1"):
    dataset_id: str
    reason: str = Field(min_length=1)
    code: str | None = Field(
        default=None, description="skill_not_found, no_checks, inference_unavailable, too_few_samples, ..."
    )
    stats: DatasetStats | None = None
