"""Tables the gateway owns: the skills read model, the adapter registry, the API keys and the
fine-tuning jobs.

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
    webhook_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    webhook_secret: Mapped[str | None] = mapped_column(
        String(128), nullable=True, doc="Signs the webhooks of this key's jobs (kept: it must sign)."
    )
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


class JobRow(GatewayBase):
    """A fine-tuning job: the request, where it is, and what it produced.

    Written by the job API (creation, cancellation) and by the job handlers as the services'
    events arrive (``jobs``). ``metadata`` is the user's; ``error`` is ``{code, message, param}``.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(24))
    stage: Mapped[str] = mapped_column(String(24))
    model: Mapped[str] = mapped_column(String(512))
    training_file: Mapped[str] = mapped_column(String(200))
    skill_name: Mapped[str] = mapped_column(String(64))
    skill_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    method: Mapped[str] = mapped_column(String(16))
    adapter_type: Mapped[str] = mapped_column(String(8))
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    suffix: Mapped[str | None] = mapped_column(String(64), nullable=True)
    seed: Mapped[int] = mapped_column(Integer)
    samples: Mapped[int] = mapped_column(Integer)
    user_metadata: Mapped[dict[str, str] | None] = mapped_column("metadata", JSON, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(256), nullable=True)
    dataset_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    dataset_object: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    dataset_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    adapter_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    fine_tuned_model: Mapped[str | None] = mapped_column(String(256), nullable=True)
    trained_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (
        UniqueConstraint("owner", "idempotency_key", name="uq_jobs_owner_idempotency_key"),
        Index("ix_jobs_created_at", "created_at"),
        Index("ix_jobs_dataset_id", "dataset_id"),
        Index("ix_jobs_adapter_id", "adapter_id"),
    )


class WebhookDeliveryRow(GatewayBase):
    """A webhook to send for a finished job of a key with a webhook (``webhooks``).

    Added in the transaction that finishes the job; sent, and retried with backoff, by the
    gateway's webhook sender, never by the handler that finished the job.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column()
    done_at: Mapped[datetime | None] = mapped_column(
        nullable=True, doc="Delivered, or given up (see last_error)."
    )
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column()

    __table_args__ = (Index("ix_webhook_deliveries_due", "done_at", "next_attempt_at"),)


class JobEventRow(GatewayBase):
    """One line of a job's history (``GET /v1/fine_tuning/jobs/{id}/events``)."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
    level: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (Index("ix_job_events_job_id", "job_id", "id"),)


class JobCheckpointRow(GatewayBase):
    """A checkpoint the trainer saved for a job (``GET /v1/fine_tuning/jobs/{id}/checkpoints``)."""

    __tablename__ = "job_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str | None] = mapped_column(String(8), nullable=True)
    step: Mapped[int] = mapped_column(Integer)
    object_name: Mapped[str] = mapped_column(String(1024))
    digest: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    final: Mapped[bool] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()

    __table_args__ = (
        UniqueConstraint("job_id", "object_name", name="uq_job_checkpoints_job_id_object_name"),
    )


MIGRATIONS = Migrations(
    script_location="skill_adapter.gateway:migrations", version_table="skill_adapter_gateway_version"
)
"""The gateway's Alembic history, applied at start-up (and by the keys CLI)."""
