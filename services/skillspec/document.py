"""A parsed SKILL.md and the bundle it came in."""

from __future__ import annotations

from dataclasses import dataclass, field

SKILL_MD = "SKILL.md"


def as_text(data: bytes) -> str | None:
    """The file as text when it is UTF-8 without NUL bytes (whatever its name), else None."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True)
class Bundle:
    """A skill's files: POSIX paths relative to the skill folder (``SKILL.md`` at the root).

    ``folder`` is the folder name the skill came in (the name its ``name`` must equal), when
    known.
    """

    files: dict[str, bytes]
    folder: str | None = None

    @property
    def skill_md(self) -> bytes:
        return self.files[SKILL_MD]

    def text(self, path: str) -> str | None:
        data = self.files.get(path)
        return None if data is None else data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class SkillDocument:
    """The frontmatter fields and body of a valid (or leniently loaded) SKILL.md.

    ``lines`` maps each frontmatter key to its line in SKILL.md; ``body_line`` is the line the
    body starts on, so body line ``i`` (0-based) is SKILL.md line ``body_line + i``.
    """

    name: str
    description: str
    body: str
    body_line: int
    license: str | None = None
    compatibility: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    allowed_tools: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def body_lines(self) -> list[tuple[int, str]]:
        """``(SKILL.md line number, text)`` for each body line."""
        return [(self.body_line + i, text) for i, text in enumerate(self.body.splitlines())]
