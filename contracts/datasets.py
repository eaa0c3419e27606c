"""Datasets context: generating verified training data for a skill version."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .envelope import Command, Event, Sha256Hex

Strategy = Literal["auto", "teacher", "guided", "best_of_n"]


class GenerateDataset(Command, subject="datasets.cmd.dataset.generate.v1"):
    dataset_id: str = Field(min_length=1, max_length=128)
    skill_name: str
    skill_version: str
    base_model: str
    strategy: Strategy = "auto"
    num_samples: int = Field(default=200, ge=1, le=1_000_000)
    seed: int = 0
    job_id: str | None = None


class DatasetProgress(Event, subject="datasets.evt.dataset.progress.v1"):
    dataset_id: str
    stage: str
    done: int = Field(ge=0)
    total: int = Field(ge=0)
    message: str | None = None


class DatasetGenerated(Event, subject="datasets.evt.dataset.generated.v1"):
    dataset_id: str
    skill_name: str
    skill_version: str
    object_name: str
    digest: Sha256Hex
    num_train: int = Field(ge=0)
    num_validation: int = Field(ge=0)
    num_heldout: int = Field(ge=0)
    strategy_counts: dict[str, int] = Field(default_factory=dict)


class DatasetFailed(Event, subject="datasets.evt.dataset.failed.v1"):
    dataset_id: str
    reason: str = Field(min_length=1)
