"""``skill_adapter_adapter.json``: what an adapter was trained on and for, kept next to its files.

PEFT's ``adapter_config.json`` records the base only as the path or id the trainer happened to
load, and nothing about the chat template or the skill. The trainer writes this manifest into
every adapter folder it saves; the registry and the serving preflight read it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .atomic import write_json_atomic
from .info import ModelInfo

ADAPTER_MANIFEST = "skill_adapter_adapter.json"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


class AdapterManifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: Literal[1] = 1
    base_model: str  # the base's ModelInfo.id, e.g. "HuggingFaceTB/SmolLM2-135M-Instruct"
    chat_template_sha256: str | None  # of the template the training data was rendered with
    rank: int = Field(gt=0)
    skill_name: str | None = None
    skill_version: str | None = None
    job_id: str | None = None
    created_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def for_base(cls, base: ModelInfo, *, rank: int, **fields: object) -> AdapterManifest:
        """A manifest recording ``base``'s id and chat template hash."""
        return cls.model_validate(
            {"base_model": base.id, "chat_template_sha256": base.chat_template_sha256, "rank": rank, **fields}
        )


def write_adapter_manifest(adapter_dir: Path, manifest: AdapterManifest) -> Path:
    path = Path(adapter_dir) / ADAPTER_MANIFEST
    write_json_atomic(path, manifest.model_dump(mode="json"))
    return path


def read_adapter_manifest(adapter_dir: Path) -> AdapterManifest | None:
    """The adapter's manifest; ``None`` when it has none. An invalid one raises
    ``pydantic.ValidationError`` (or ``OSError`` when unreadable)."""
    path = Path(adapter_dir) / ADAPTER_MANIFEST
    if not path.is_file():
        return None
    return AdapterManifest.model_validate_json(path.read_bytes())
