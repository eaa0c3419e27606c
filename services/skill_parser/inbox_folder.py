"""A local folder mirrored into the ``skills`` bucket, for people who just want to drop a file.

Dropped into ``skills-inbox/``: ``my-skill.zip`` (as is), ``my-skill.md`` (as
``my-skill/SKILL.md``), or a folder ``my-skill/`` with a SKILL.md (zipped). A file is uploaded
once its size and modification time stayed the same for one polling interval, so a copy in
progress is not ingested half-written, and again whenever its content changes.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path

from skill_adapter.contracts import SKILLS_BUCKET
from skill_adapter.runtime.log import get_logger
from skill_adapter.runtime.objects import Objects
from skill_adapter.skillspec.bundle import from_directory, to_zip
from skill_adapter.skillspec.diagnostics import SkillError
from skill_adapter.skillspec.limits import DEFAULT_LIMITS, Limits

from .bucket import BucketWatcher

log = get_logger(__name__)


@dataclass(frozen=True)
class Candidate:
    path: Path
    object_name: str
    signature: tuple[int, int]  # (total size, newest mtime_ns)


def candidates(folder: Path) -> list[Candidate]:
    found: list[Candidate] = []
    if not folder.is_dir():
        return found
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink():
            continue  # a link could point anywhere on this machine: never upload what it points to
        if entry.is_file() and entry.suffix.lower() == ".zip":
            found.append(Candidate(entry, entry.name, _signature([entry])))
        elif entry.is_file() and entry.suffix.lower() == ".md":
            name = "SKILL.md" if entry.stem.upper() == "SKILL" else f"{entry.stem}/SKILL.md"
            found.append(Candidate(entry, name, _signature([entry])))
        elif entry.is_dir() and (entry / "SKILL.md").is_file():
            files = [p for p in entry.rglob("*") if p.is_file()]
            found.append(Candidate(entry, f"{entry.name}.zip", _signature(files)))
    return found


def _signature(files: list[Path]) -> tuple[int, int]:
    stats = [f.stat() for f in files]
    return sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)


def read(candidate: Candidate, limits: Limits = DEFAULT_LIMITS) -> bytes:
    if candidate.signature[0] > limits.total_bytes:
        raise OSError(f"{candidate.path} is {candidate.signature[0]} bytes; at most {limits.total_bytes}")
    if candidate.path.is_dir():
        return to_zip(from_directory(candidate.path), candidate.path.name)
    return candidate.path.read_bytes()


class InboxMirror:
    def __init__(self, folder: Path, objects: Objects, watcher: BucketWatcher) -> None:
        self.folder = folder
        self._objects = objects
        self._watcher = watcher
        self._last_seen: dict[Path, tuple[int, int]] = {}
        self._uploaded: dict[str, str] = {}

    async def scan_once(self) -> list[str]:
        """Upload what is stable and new; returns the object names uploaded."""
        uploaded: list[str] = []
        current = await asyncio.to_thread(candidates, self.folder)
        for candidate in current:
            previous = self._last_seen.get(candidate.path)
            self._last_seen[candidate.path] = candidate.signature
            if previous != candidate.signature:
                continue  # new or still changing: wait one more round
            try:
                data = await asyncio.to_thread(read, candidate)
            except (OSError, SkillError) as exc:
                log.warning("cannot read inbox entry", path=str(candidate.path), error=str(exc))
                continue
            digest = hashlib.sha256(data).hexdigest()
            if self._uploaded.get(candidate.object_name) == digest:
                continue
            existing = await self._objects.info(SKILLS_BUCKET.name, candidate.object_name)
            if existing is None or existing.digest != digest:
                stored = await self._objects.put(SKILLS_BUCKET.name, candidate.object_name, data)
                await self._watcher.request(stored, "inbox")
                uploaded.append(candidate.object_name)
                log.info(
                    "inbox file mirrored into the bucket",
                    path=str(candidate.path),
                    object=candidate.object_name,
                )
            self._uploaded[candidate.object_name] = digest
        self._last_seen = {c.path: c.signature for c in current}
        return uploaded

    async def run(self, interval: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        log.info("watching the inbox folder", folder=str(self.folder))
        while True:
            try:
                await self.scan_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bad round must not stop the mirror
                log.warning("inbox scan failed", error=str(exc))
            await asyncio.sleep(interval)
