"""Tables the gateway owns: the skills read model, the adapter registry and the API keys.

The read model is written only by the gateway's event handlers (``readmodel``), in the same
transaction as the runtime's processed-message record, so a redelivered event changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, MetaData, String, Text, UniqueConstraint, func
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from skill_adapter.runtime import Migrations

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC and read back aware, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class GatewayBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime}


class SkillRow(GatewayBase):
    """One skill: its latest accepted version and when it changed."""

    __tablename__ = "skills"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    latest_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class SkillVersionRow(GatewayBase):
    """One accepted version of a skill, with its compiled rubric."""

    __tablename__ = "skill_versions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(16))
    rubric: Mapped[dict[str, Any]] = mapped_column(JSON)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    criteria: Mapped[int] = mapped_column(Integer)
    bundle_object: Mapped[str] = mapped_column(String(1024))
    object_name: Mapped[str] = mapped_column(String(1024))
    digest: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column()

    __table_args__ = (Index("ix_skill_versions_name_created", "name", "created_at"),)


class SkillRejectionRow(GatewayBase):
    """A skill the parser refused, with every error it found."""

    __tablename__ = "skill_rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128))
    object_name: Mapped[str] = mapped_column(String(1024))
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    skill_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mode: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()

    __table_args__ = (
        UniqueConstraint("event_id", name="uq_skill_rejections_event_id"),
        Index("ix_skill_rejections_skill_name", "skill_name"),
    )


class ApiKeyRow(GatewayBase):
    """An API key: only a salted sha256 of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    salt: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64))
    hint: Mapped[str] = mapped_column(String(16), doc="The key's last characters, to tell keys apart.")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class AdapterRow(GatewayBase):
    """An adapter known to the serving context: registered (a candidate, served to evaluators),
    promoted (served to all) or retired.

    ``status_at`` is when the event that set ``status`` happened: an older event arriving late
    (a retry overtaken by a newer one) does not undo a newer status.
    """

    __tablename__ = "adapters"

    adapter_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    skill_name: Mapped[str] = mapped_column(String(64))
    skill_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    base_model: Mapped[str | None] = mapped_column(String(512), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    object_name: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    chat_template_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    status_at: Mapped[datetime] = mapped_column()
    run_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reasons: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(256), nullable=True)
    registered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    promoted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (Index("ix_adapters_status", "status"),)


MIGRATIONS = Migrations(
    script_location="skill_adapter.gateway:migrations", version_table="skill_adapter_gateway_version"
)
"""The gateway's Alembic history, applied at start-up (and by the keys CLI)."""
