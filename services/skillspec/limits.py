"""Size limits: what a skill may weigh before we refuse to read it."""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Limits:
    skill_md_bytes: int = 1 * MIB
    frontmatter_bytes: int = 64 * KIB
    file_bytes: int = 10 * MIB
    total_bytes: int = 50 * MIB
    files: int = 1000
    compression_ratio: float = 100.0
    """Uncompressed / compressed size above which a large member is treated as a bomb."""


DEFAULT_LIMITS = Limits()
