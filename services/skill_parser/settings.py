from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from skill_adapter.runtime import RuntimeSettings


class SkillParserSettings(RuntimeSettings):
    inbox_dir: Path | None = Field(
        default=None,
        description="Folder mirrored into the `skills` bucket; default <state_dir>/skills-inbox.",
    )
    inbox_poll_seconds: float = Field(default=1.0, gt=0, description="How often the inbox folder is scanned.")
    reconcile_seconds: float = Field(default=60.0, gt=0, description="How often the bucket is reconciled.")
    default_mode: Literal["strict", "lenient"] = Field(
        default="strict", description="Mode for skills dropped into the bucket or the inbox."
    )

    def resolved_inbox(self) -> Path:
        return self.inbox_dir or self.state_dir / "skills-inbox"
