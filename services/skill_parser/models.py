"""Tables the skill-parser owns: what it ingested, and the versions it accepted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, MetaData, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from skill_adapter.runtime.models import NAMING


class ParserBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Ingestion(ParserBase):
    """One object (name + content digest) and its verdict; the reconciler compares the bucket
    with this table."""

    __tablename__ = "skill_parser_ingestions"

    object_name: Mapped[str] = mapped_column(String(1024), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    verdict: Mapped[str] = mapped_column(String(16))  # parsed | rejected
    skill_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    skill_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SkillVersion(ParserBase):
    """An accepted skill version: immutable, identified by its normalized content digest."""

    __tablename__ = "skill_parser_versions"

    skill_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    bundle_object: Mapped[str] = mapped_column(String(1024))
    rubric: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
