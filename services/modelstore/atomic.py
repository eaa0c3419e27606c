"""Build a folder once, atomically, even when several processes ask for it at the same time.

The folder is built in a temporary sibling (same file system) and renamed into place, so a
reader sees either nothing or a complete folder. An exclusive ``fcntl.flock`` on a lock file
next to it makes concurrent builders wait for the first one instead of repeating its work;
whoever gets the lock checks again whether the folder became current meanwhile. Temporary
folders left by a builder that died are removed by the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)


def _fsync_tree(folder: Path) -> None:
    """Flush every file of ``folder`` and the folder itself, so a crash cannot leave a renamed
    folder whose files are still empty."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_readable(folder: Path) -> None:
    """The temporary folder (0700) and files some writers create private (0600) become readable,
    so a model server running as another user can read the cache (it holds no secrets)."""
    for path in folder.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.chmod(folder, 0o755)  # noqa: S103


@contextlib.contextmanager
def exclusive_lock(lock_path: Path, *, waiting_message: str) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_path`` (created if needed); log once if we must wait."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info(waiting_message, lock=str(lock_path))
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_once(target: Path, build: Callable[[Path], None], *, is_current: Callable[[Path], bool]) -> bool:
    """Make ``target`` a current build; ``True`` when this call built it, ``False`` when it was there.

    ``build(folder)`` fills an empty folder. ``is_current(target)`` must be cheap; it is asked
    before taking the lock and again once the lock is held. A stale ``target`` is replaced.
    """
    if is_current(target):
        return False
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    lock = parent / f".{target.name}.lock"
    with exclusive_lock(lock, waiting_message="another process is building this folder; waiting"):
        if is_current(target):
            return False
        for stale in parent.glob(f".{target.name}.tmp-*"):
            log.info("removing what an interrupted build left", path=str(stale))
            shutil.rmtree(stale, ignore_errors=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
        try:
            build(scratch)
            _make_readable(scratch)
            _fsync_tree(scratch)
            old = None
            if target.exists():
                old = parent / f".{target.name}.tmp-old-{uuid.uuid4().hex[:8]}"
                target.rename(old)
            scratch.rename(target)
            _fsync_dir(parent)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return True


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON next to ``path`` and rename it over ``path``: readers never see half a file."""
    scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with scratch.open("w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(scratch, 0o644)
        os.replace(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
