"""The trainer's tables: the jobs it was asked for (who holds each), and their checkpoints.

A ``StartJob`` command becomes a row in ``trainer_jobs`` and is acknowledged at once; workers
claim rows with a lease they keep renewing, so a job outlives the message, and a job whose
worker died is claimed again when its lease runs out and resumes from the newest checkpoint
in ``trainer_checkpoints`` (the ledger of what is stored in the checkpoints bucket).

Cancel and pause requests for a running job are written to ``requested``; the worker that
holds the job reads it with every lease renewal and stops the training at the next step.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from skill_adapter.runtime import Migrations
from skill_adapter.runtime.models import NAMING

MIGRATIONS = Migrations("skill_adapter.trainer:migrations", "skill_adapter_trainer_version")

QUEUED, RUNNING, PAUSED = "queued", "running", "paused"
SUCCEEDED, FAILED, CANCELLED = "succeeded", "failed", "cancelled"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})


class TrainerBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class TrainingJob(TrainerBase):
    __tablename__ = "trainer_jobs"

    job_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    command: Mapped[dict] = mapped_column(JSON)
    # queued, running, paused, succeeded, failed or cancelled
    status: Mapped[str] = mapped_column(String(16), index=True)
    requested: Mapped[str | None] = mapped_column(String(16), nullable=True)  # pause | cancel, while running
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    phase: Mapped[str | None] = mapped_column(String(8), nullable=True)
    step: Mapped[int] = mapped_column(Integer, default=0)
    device: Mapped[str | None] = mapped_column(String(32), nullable=True)
    hyperparameters: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    adapter_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    adapter_object: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    adapter_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CheckpointRecord(TrainerBase):
    """A checkpoint stored in the checkpoints bucket; rows and objects are removed together."""

    __tablename__ = "trainer_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(128), ForeignKey("trainer_jobs.job_id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(String(8))
    step: Mapped[int] = mapped_column(Integer)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    object_name: Mapped[str] = mapped_column(String(1024), unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_trainer_checkpoints_job", "job_id"),)
