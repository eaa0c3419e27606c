"""Stream and consumer specifications: plain data the runtime provisions on JetStream.

Defaults follow the design: file storage, ``discard=new`` (a full stream refuses publishes
rather than silently evicting unprocessed messages), explicit limits and a duplicate window
of minutes so ``Nats-Msg-Id`` de-duplication covers publisher retries.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .naming import (
    ADVISORIES_STREAM,
    CONTEXTS,
    DEADLETTER_PREFIX,
    DEADLETTER_STREAM,
    MAX_DELIVERIES_ADVISORY,
    stream_name,
)

DAY = 24 * 3600
GIB = 1024**3
MIB = 1024**2


class StreamSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    subjects: tuple[str, ...] = Field(min_length=1)
    description: str = ""
    storage: Literal["file", "memory"] = "file"
    retention: Literal["limits", "interest", "workqueue"] = "limits"
    discard: Literal["new", "old"] = "new"
    max_msgs: int = Field(default=1_000_000, gt=0)
    max_bytes: int = Field(default=4 * GIB, gt=0)
    max_age_seconds: float = Field(default=30 * DAY, gt=0)
    max_msg_size: int = Field(default=8 * MIB, gt=0)
    duplicate_window_seconds: float = Field(default=10 * 60, gt=0)
    num_replicas: int = Field(default=1, ge=1, le=5)

    def with_replicas(self, replicas: int) -> StreamSpec:
        return self.model_copy(update={"num_replicas": replicas})


class ConsumerSpec(BaseModel):
    """A durable pull consumer with explicit acks.

    ``backoff_seconds`` are the delays of the naks the runtime sends after a handler error
    (delivery n waits ``backoff_seconds[min(n-1, len-1)]``). They are deliberately *not* the
    server's ``ConsumerConfig.backoff``, which only applies to ack timeouts and overrides
    ``ack_wait``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    stream: str
    durable: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    filter_subjects: tuple[str, ...] = Field(min_length=1)
    ack_wait_seconds: float = Field(default=30.0, gt=0)
    max_deliver: int = Field(default=5, ge=1, le=1000)
    backoff_seconds: tuple[float, ...] = (1.0, 5.0, 30.0)
    max_ack_pending: int = Field(default=64, ge=1)
    deliver_policy: Literal["all", "new"] = "all"
    description: str = ""

    @model_validator(mode="after")
    def _backoff_non_negative(self) -> ConsumerSpec:
        if any(delay < 0 for delay in self.backoff_seconds):
            raise ValueError("backoff_seconds must be >= 0")
        return self

    def nak_delay(self, delivered: int) -> float:
        """Delay before redelivery after the ``delivered``-th attempt failed."""
        if not self.backoff_seconds:
            return 0.0
        return self.backoff_seconds[min(max(delivered, 1), len(self.backoff_seconds)) - 1]


def context_stream(context: str) -> StreamSpec:
    return StreamSpec(
        name=stream_name(context),
        subjects=(f"{context}.>",),
        description=f"Commands and events of the {context} context.",
    )


DEADLETTER = StreamSpec(
    name=DEADLETTER_STREAM,
    subjects=(f"{DEADLETTER_PREFIX}.>",),
    description="Messages no handler could process, with the error and delivery count in headers.",
    max_age_seconds=90 * DAY,
)

ADVISORIES = StreamSpec(
    name=ADVISORIES_STREAM,
    subjects=(f"{MAX_DELIVERIES_ADVISORY}.>",),
    description="Max-deliveries advisories, kept so exhausted messages are dead-lettered even "
    "when the worker that should have done it was down.",
    max_age_seconds=7 * DAY,
    max_bytes=256 * MIB,
)

STREAMS: tuple[StreamSpec, ...] = (*(context_stream(c) for c in CONTEXTS), DEADLETTER, ADVISORIES)
"""Every stream the system needs, at one replica (scale with ``with_replicas``)."""


class BucketSpec(BaseModel):
    """A JetStream Object Store bucket for large payloads (events carry name + digest)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_-]+$")
    description: str = ""
    max_bytes: int = Field(default=20 * GIB, gt=0)
    storage: Literal["file", "memory"] = "file"
    num_replicas: int = Field(default=1, ge=1, le=5)

    def with_replicas(self, replicas: int) -> BucketSpec:
        return self.model_copy(update={"num_replicas": replicas})


SKILLS_BUCKET = BucketSpec(
    name="skills",
    description="The watched bucket: put a SKILL.md (as <folder>/SKILL.md) or <folder>.zip to ingest it.",
    max_bytes=5 * GIB,
)
SKILL_VERSIONS_BUCKET = BucketSpec(
    name="skill-versions",
    description="Every accepted skill version as a normalized zip, <name>/<version>.zip.",
    max_bytes=5 * GIB,
)

DATASETS_BUCKET = BucketSpec(
    name="datasets",
    description="Generated datasets, <dataset_id>/{train,validation,heldout,grpo}.jsonl + manifest.json.",
    max_bytes=5 * GIB,
)

CHECKPOINTS_BUCKET = BucketSpec(
    name="training-checkpoints",
    description="Training checkpoints, <job_id>/<phase>-<step:06d>[-final].zip; the trainer keeps the "
    "last few, the best and each phase's final one.",
    max_bytes=50 * GIB,
)

ADAPTERS_BUCKET = BucketSpec(
    name="adapters",
    description="Trained PEFT adapters, <adapter_id>.zip (adapter, manifest and training record).",
    max_bytes=20 * GIB,
)

EVALUATIONS_BUCKET = BucketSpec(
    name="evaluations",
    description="Evaluation reports, <run_id>/{samples.jsonl,grading.json,benchmark.json,summary.json,chart.png}.",
    max_bytes=5 * GIB,
)

BUCKETS: tuple[BucketSpec, ...] = (
    SKILLS_BUCKET,
    SKILL_VERSIONS_BUCKET,
    DATASETS_BUCKET,
    CHECKPOINTS_BUCKET,
    ADAPTERS_BUCKET,
    EVALUATIONS_BUCKET,
)
"""Object Store buckets."""
