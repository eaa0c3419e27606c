"""The data-generator's table: dataset runs it was asked for, and who holds each one.

A ``GenerateDataset`` command becomes a row here and is acknowledged at once; workers claim
rows with a lease they keep renewing, so a run outlives the message, and a run whose worker
died is claimed again when its lease runs out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, MetaData, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from skill_adapter.runtime.models import NAMING


class DataGeneratorBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class DatasetRun(DataGeneratorBase):
    __tablename__ = "data_generator_runs"

    dataset_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    command: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued | running | succeeded | failed
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    manifest_object: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
