"""The skill corpora under tests/fixtures: broken cases (with the codes they must get) and
valid edge cases, each turned into the object a user would upload."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from skill_adapter.skillspec.bundle import to_zip
from skill_adapter.skillspec.document import Bundle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXAMPLES = Path(__file__).resolve().parents[2] / "services" / "cli" / "example_skills"


@dataclass(frozen=True)
class Case:
    name: str
    root: Path
    expected: dict

    @property
    def codes(self) -> list[str]:
        return list(self.expected.get("codes", []))

    @property
    def mode(self) -> str:
        return self.expected.get("mode", "strict")

    @property
    def skill_dir(self) -> Path | None:
        folders = [p for p in self.root.iterdir() if p.is_dir()]
        return folders[0] if len(folders) == 1 else None

    def upload(self) -> tuple[bytes, str]:
        """(bytes, object name) as a user would put them into the bucket."""
        zipped = self.root / "bundle.zip"
        if zipped.exists():
            return zipped.read_bytes(), f"{self.name}.zip"
        folder = self.skill_dir
        assert folder is not None, f"{self.root} has neither bundle.zip nor one skill folder"
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        if list(files) == ["SKILL.md"]:
            return files["SKILL.md"], f"{folder.name}/SKILL.md"
        # zipped as-is (no validation on the way: the broken input must reach the service)
        return to_zip(Bundle(files), folder.name), f"{folder.name}.zip"


def cases(kind: str) -> list[Case]:
    base = FIXTURES / kind
    return [
        Case(p.name, p, json.loads((p / "expected.json").read_text()))
        for p in sorted(base.iterdir())
        if (p / "expected.json").exists()
    ]


def examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if (p / "SKILL.md").exists())
