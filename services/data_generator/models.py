"""The data-generator's table: dataset runs it was asked for, and who holds each one.

A ``GenerateDataset`` command becomes a row here and is acknowledged at once; workers claim
rows with a lease they keep renewing, so a run outlives the message, and a run whose worker
died is claimed again when its lease runs out. A ``CancelDataset`` for a running run sets
``cancel_requested_at`` (and ``reason``); the worker that holds the run polls for it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from skill_adapter.runtime.leases import LeasedRun, RunTable
from skill_adapter.runtime.models import NAMING


class DataGeneratorBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class DatasetRun(LeasedRun, DataGeneratorBase):
    """A dataset run; its status ends as ``succeeded`` or ``failed`` (a cancelled run fails)."""

    __tablename__ = "data_generator_runs"

    dataset_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    manifest_object: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


RUNS = RunTable(DatasetRun, DatasetRun.dataset_id, noun="dataset")
