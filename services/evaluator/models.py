"""The evaluator's tables: runs it was asked for (claimed with a lease, like the trainer's jobs),
the adapters it heard of, and the adapter it promoted per skill.

A ``StartEvaluation`` (or an ``AdapterRegistered``) becomes a run row and is acknowledged at
once; a worker claims the row with a lease it keeps renewing, so a redelivered message never
runs an evaluation twice and a run whose worker died is claimed again when its lease runs out.
A ``CancelEvaluation`` for a running run sets ``cancel_requested_at`` (and ``reason``); the
worker that holds the run polls for it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from skill_adapter.runtime.leases import LeasedRun, RunTable
from skill_adapter.runtime.models import NAMING


class EvaluatorBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class EvaluationRun(LeasedRun, EvaluatorBase):
    """An evaluation run; its status ends as ``completed`` or ``failed`` (a cancelled run fails)."""

    __tablename__ = "evaluator_runs"

    run_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


RUNS = RunTable(EvaluationRun, EvaluationRun.run_id, noun="run")


class KnownAdapter(EvaluatorBase):
    """An adapter announced by ``AdapterRegistered``: what it was trained on."""

    __tablename__ = "evaluator_adapters"

    adapter_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    skill_name: Mapped[str] = mapped_column(String(128), index=True)
    skill_version: Mapped[str] = mapped_column(String(128))
    base_model: Mapped[str] = mapped_column(String(512))
    dataset_object: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    dataset_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Promotion(EvaluatorBase):
    """The adapter this evaluator promoted for a skill, and its overall pass rate."""

    __tablename__ = "evaluator_promotions"

    skill_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    adapter_id: Mapped[str] = mapped_column(String(512))
    pass_rate: Mapped[float] = mapped_column(Float)
    run_id: Mapped[str] = mapped_column(String(128))
    promoted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
