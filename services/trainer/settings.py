"""Settings of the trainer (env prefix ``SKILL_ADAPTER_``), on top of the runtime's.

A trainer replica owns one device and runs one job at a time; several replicas (one per GPU)
are competing workers on the same job table. Base models come from the same model store as
the gateway's (``model_cache_dir``), so a model converted once serves and trains.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from skill_adapter.runtime import RuntimeSettings


class TrainerSettings(RuntimeSettings):
    trainer_device: str = Field(
        default="auto",
        pattern=r"^(auto|cpu|cuda|cuda:\d+)$",
        description="Device this replica trains on: `auto` (the first GPU, else the CPU), `cpu`, `cuda`, `cuda:N`.",
    )
    model_cache_dir: Path | None = Field(
        default=None, description="Model store cache (converted models); default `<state dir>/models`."
    )
    trainer_work_dir: Path | None = Field(
        default=None,
        description="Scratch space of running jobs (dataset, checkpoints); default `<state dir>/trainer`.",
    )
    trainer_lease_seconds: float = Field(
        default=60.0,
        gt=5,
        description="A job's claim lasts this long unrenewed (then another worker resumes it).",
    )
    trainer_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often idle workers look for jobs, and running ones renew their lease and read "
        "cancel/pause requests.",
    )
    trainer_keep_checkpoints: int = Field(
        default=2,
        ge=1,
        description="Checkpoints kept per job: the last K, plus the best by metric and each phase's final one.",
    )
    trainer_progress_seconds: float = Field(
        default=5.0,
        ge=0,
        description="At most one progress event per this many seconds (plus each phase's last step).",
    )
    trainer_max_attempts: int = Field(
        default=3,
        ge=1,
        description="Claims of one job before it fails (a job that keeps killing its worker).",
    )

    def resolved_model_cache_dir(self) -> Path:
        return self.model_cache_dir or self.state_dir / "models"

    def resolved_work_dir(self) -> Path:
        return self.trainer_work_dir or self.state_dir / "trainer"
