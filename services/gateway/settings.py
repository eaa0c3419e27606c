"""Settings of the gateway (env prefix ``SKILL_ADAPTER_``), on top of the runtime's."""

from __future__ import annotations

from pydantic import Field

from skill_adapter.runtime import RuntimeSettings

MIB = 1024 * 1024


class GatewaySettings(RuntimeSettings):
    host: str = Field(default="127.0.0.1", description="Interface the HTTP API listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port of the HTTP API (0 picks one).")
    max_upload_bytes: int = Field(
        default=50 * MIB, gt=0, description="Largest skill upload (SKILL.md or zip) accepted, in bytes."
    )
    max_request_bytes: int = Field(
        default=64 * MIB,
        gt=0,
        description="Largest request body of any route (JSON bodies, multipart envelopes).",
    )
    key_touch_interval: float = Field(
        default=60.0, ge=0, description="Seconds between writes of an API key's last use."
    )
    health_timeout: float = Field(default=2.0, gt=0, description="Seconds each health probe may take.")
