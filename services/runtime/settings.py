"""Settings shared by every service (env prefix ``SKILL_ADAPTER_``).

``NATS_URL`` and ``DATABASE_URL`` are also read without the prefix, as is customary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_state_dir() -> Path:
    return Path.home() / ".local" / "state" / "skill-adapter"


class RuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SKILL_ADAPTER_", extra="ignore")

    state_dir: Path = Field(
        default_factory=default_state_dir,
        description="Where the embedded NATS store, SQLite database and caches live.",
    )
    nats_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SKILL_ADAPTER_NATS_URL", "NATS_URL", "nats_url"),
        description="NATS server; unset or unreachable starts the embedded nats-server.",
    )
    embedded_nats: bool = Field(
        default=True, description="Start the embedded nats-server when NATS_URL is unset or unreachable."
    )
    nats_user: str | None = Field(
        default=None, description="NATS user of this service (deploy/nats/auth.conf)."
    )
    nats_password: str | None = Field(default=None, description="Its password; prefer nats_password_file.")
    nats_password_file: Path | None = Field(
        default=None,
        description="File holding the NATS password (a mounted Kubernetes or compose secret); "
        "read at start-up when nats_password is unset.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SKILL_ADAPTER_DATABASE_URL", "DATABASE_URL", "database_url"),
        description="SQLAlchemy async URL; unset uses SQLite in the state directory.",
    )
    stream_replicas: int = Field(default=1, ge=1, le=5, description="Replicas per stream (3 in a cluster).")
    apply_stream_changes: bool = Field(
        default=False, description="Let provisioning update streams whose config drifted."
    )
    graceful_timeout: float = Field(default=30.0, gt=0, description="Seconds to finish in-flight work.")
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _read_nats_password_file(self) -> RuntimeSettings:
        if self.nats_password is None and self.nats_password_file is not None:
            self.nats_password = self.nats_password_file.read_text().strip()
        return self

    def nats_inbox_prefix(self) -> str:
        """``_INBOX_<user>`` with credentials: each NATS user may read only its own replies."""
        return f"_INBOX_{self.nats_user}" if self.nats_user else "_INBOX"

    def sqlite_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.state_dir / 'skill-adapter.db'}"

    def resolved_database_url(self) -> str:
        return normalize_database_url(self.database_url or self.sqlite_url())


def normalize_database_url(url: str) -> str:
    """Accept the usual sync spellings and pick the async driver for them."""
    for prefix, replacement in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(prefix):
            return replacement + url[len(prefix) :]
    return url
