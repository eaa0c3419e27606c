"""The dataset's files: typed records, JSONL in and out, and the lineage manifest.

Training samples are chat conversations in the format TRL's ``SFTTrainer`` reads
(``{"messages": [{"role", "content"}, ...]}``) with no system message: the point is to follow
the skill without it in context. Each record also says where it came from (prompt source,
strategy) and how it scored, so a person can audit any sample. Every file is validated record
by record before it is stored, and when it is read back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from skill_adapter.contracts import DatasetStats

GENERATOR_VERSION = "1.0"


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)


class SampleRecord(BaseModel):
    """One line of ``train.jsonl`` / ``validation.jsonl``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages: list[ChatMessage] = Field(min_length=2)
    prompt_id: str
    source: str
    strategy: str
    near_miss: bool = False
    eval_id: str | None = None
    score: float = Field(ge=0, le=1)
    scores: dict[str, float] = Field(default_factory=dict)
    tokens: int = Field(ge=1, description="Length in tokens of the base model's tokenizer and template.")

    @field_validator("messages")
    @classmethod
    def _ends_with_reply(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if messages[-1].role != "assistant" or messages[-2].role != "user":
            raise ValueError("a sample is a user message followed by the assistant's reply")
        return messages


class GrpoRecord(BaseModel):
    """One line of ``grpo.jsonl``: a prompt whose sampled rewards vary (TRL's ``prompt`` column)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: list[ChatMessage] = Field(min_length=1)
    prompt_id: str
    eval_id: str | None = None
    reward_mean: float
    reward_std: float = Field(ge=0)


class FileEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    role: Literal["train", "validation", "heldout", "grpo"]
    digest: str
    records: int = Field(ge=0)
    bytes: int = Field(ge=0)


class Manifest(BaseModel):
    """``manifest.json``: what the dataset is made of and how it was made (the lineage sidecar)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset_id: str
    created_at: datetime
    generator_version: str = GENERATOR_VERSION
    skill_name: str
    skill_version: str
    skill_bundle_digest: str
    rubric_digest: str
    base_model: str
    base_chat_template_sha256: str | None = None
    teacher_model: str | None = None
    judge_model: str | None = None
    strategy_requested: str
    strategies: list[str]
    strategies_skipped: dict[str, str] = Field(default_factory=dict)
    seed: int
    num_samples_requested: int
    max_length: int
    counts: dict[str, int]
    acceptance_rates: dict[str, float]
    sample_schema: dict = Field(description="JSON Schema every training/validation line validates against.")
    files: list[FileEntry]
    stats: DatasetStats


class InvalidDataset(ValueError):
    """A dataset file that does not validate: says which line and why."""


R = TypeVar("R", bound=BaseModel)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def to_jsonl(records: Iterable[BaseModel]) -> bytes:
    return b"".join(record.model_dump_json(exclude_none=False).encode() + b"\n" for record in records)


def parse_jsonl(data: bytes, model: type[R], name: str = "file") -> list[R]:
    """Every line of ``data`` as ``model``; ``InvalidDataset`` naming the first bad line."""
    records: list[R] = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(model.model_validate(json.loads(line)))
        except (ValueError, ValidationError) as exc:
            raise InvalidDataset(f"{name} line {number}: {exc}") from exc
    return records


def entry(name: str, role: str, data: bytes, records: Sequence[object]) -> FileEntry:
    return FileEntry(name=name, role=role, digest=sha256(data), records=len(records), bytes=len(data))  # type: ignore[arg-type]
