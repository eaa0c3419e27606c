"""Promoted adapters that are not on this replica's disk yet come from the ``adapters`` bucket.

The registry row of an adapter (from ``AdapterRegistered``) names its object and sha256. When
``<adapters_dir>/<adapter_id>`` is missing, or was materialized from another digest, the
object is downloaded next to it, verified, unpacked into a temporary sibling folder and renamed
into place (``modelstore.atomic.build_once``: readers see nothing or a complete folder, and
replicas sharing the folder wait for the first one). A folder put there by hand (no
``skill_adapter_source.json``) is used as it is. Downloads run in the background, one per
adapter, with a growing pause after a failure; the adapter is served once its folder is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from skill_adapter.contracts import ADAPTERS_BUCKET
from skill_adapter.modelstore import ADAPTER_CONFIG, unpack_archive
from skill_adapter.modelstore.atomic import build_once
from skill_adapter.runtime.log import get_logger
from skill_adapter.runtime.objects import Objects

from .models import AdapterRow

log = get_logger(__name__)

SOURCE = "skill_adapter_source.json"
"""Written into a materialized folder: the object and digest it was unpacked from."""
MAX_BACKOFF = 300.0


class AdapterUnavailable(Exception):
    """The adapter's object is missing or does not match the digest its registration names."""


@dataclass
class Failure:
    digest: str
    attempts: int
    retry_at: float
    error: str


def recorded_digest(folder: Path) -> str | None:
    """The digest a materialized folder came from; ``None`` for a folder placed by hand."""
    try:
        data = json.loads((folder / SOURCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    digest = data.get("digest") if isinstance(data, dict) else None
    return digest if isinstance(digest, str) else None


def is_current(folder: Path, digest: str | None) -> bool:
    if not (folder / ADAPTER_CONFIG).is_file():
        return False
    if not (folder / SOURCE).is_file() or digest is None:
        return True  # placed by hand, or registered without an object: used as it is
    return recorded_digest(folder) == digest


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def materialize(objects: Objects, object_name: str, digest: str, folder: Path) -> bool:
    """Download, verify and unpack an adapter into ``folder``; ``True`` when this call built it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    archive = folder.parent / f".{folder.name}.download-{uuid.uuid4().hex[:8]}.zip"
    try:
        try:
            await objects.get_file(ADAPTERS_BUCKET.name, object_name, archive)
        except LookupError as exc:
            raise AdapterUnavailable(str(exc)) from exc
        actual = await asyncio.to_thread(_sha256_file, archive)
        if actual != digest:
            raise AdapterUnavailable(
                f"{ADAPTERS_BUCKET.name}/{object_name} has sha256 {actual[:12]}…, its registration names "
                f"{digest[:12]}…"
            )

        def build(scratch: Path) -> None:
            unpack_archive(archive, scratch)
            if not (scratch / ADAPTER_CONFIG).is_file():
                raise AdapterUnavailable(f"{object_name} holds no {ADAPTER_CONFIG}: not a PEFT adapter")
            source = {"bucket": ADAPTERS_BUCKET.name, "object_name": object_name, "digest": digest}
            (scratch / SOURCE).write_text(json.dumps(source, indent=2), encoding="utf-8")

        return await asyncio.to_thread(
            build_once, folder, build, is_current=lambda target: is_current(target, digest)
        )
    finally:
        archive.unlink(missing_ok=True)


class Materializer:
    """Background downloads of promoted adapters missing from the adapters folder."""

    def __init__(self, objects: Objects, on_ready: Callable[[], None]) -> None:
        self._objects = objects
        self._on_ready = on_ready
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._failures: dict[str, Failure] = {}

    def ready(self, row: AdapterRow, folder: Path) -> bool:
        """Whether ``folder`` can be served now; if not, start (or keep) fetching it."""
        if is_current(folder, row.digest):
            self._failures.pop(row.adapter_id, None)
            return True
        if not row.object_name or not row.digest:
            return True  # nothing to fetch: the backends report the missing folder
        if row.adapter_id in self._tasks:
            return False
        failure = self._failures.get(row.adapter_id)
        if failure is not None and failure.digest == row.digest and time.monotonic() < failure.retry_at:
            return False
        self._tasks[row.adapter_id] = asyncio.create_task(
            self._fetch(row.adapter_id, row.object_name, row.digest, folder),
            name=f"materialize-{row.adapter_id}",
        )
        return False

    def failure(self, adapter_id: str) -> str | None:
        found = self._failures.get(adapter_id)
        return found.error if found else None

    async def _fetch(self, adapter_id: str, object_name: str, digest: str, folder: Path) -> None:
        try:
            started = time.monotonic()
            await materialize(self._objects, object_name, digest, folder)
            self._failures.pop(adapter_id, None)
            log.info(
                "adapter fetched from the bucket",
                adapter=adapter_id,
                object_name=object_name,
                seconds=round(time.monotonic() - started, 2),
            )
            self._on_ready()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported, retried after a pause
            previous = self._failures.get(adapter_id)
            attempts = previous.attempts + 1 if previous and previous.digest == digest else 1
            delay = min(MAX_BACKOFF, 2.0 ** (attempts - 1))
            self._failures[adapter_id] = Failure(digest, attempts, time.monotonic() + delay, str(exc))
            log.error(
                "adapter could not be fetched; not served",
                adapter=adapter_id,
                object_name=object_name,
                error=str(exc),
                retry_in_s=delay,
            )
        finally:
            self._tasks.pop(adapter_id, None)

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
