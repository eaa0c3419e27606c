"""``core.Hooks`` for one running job: the training thread's way back to the service.

The training code calls these from its own thread; the work they stand for (publishing,
uploading, the database) belongs to the service's event loop, so each call hands a coroutine
to the loop and waits for it. ``checkpoint`` zips the folder in the training thread, then
blocks until the archive is stored and recorded: a crash after it returns loses nothing.
``progress`` is throttled here (the first report, each phase's last step, and otherwise at
most one per ``interval`` seconds) and is best effort. ``control`` answers from memory: the
job's lease heartbeat refreshes it from the database, and a command this process handled
pokes it at once.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from skill_adapter.contracts import StartJob
from skill_adapter.modelstore import pack_folder
from skill_adapter.runtime.log import get_logger

from .core import Checkpoint, Control, Phase, Progress

log = get_logger(__name__)

T = TypeVar("T")

STARTED_TIMEOUT = 120.0
PROGRESS_TIMEOUT = 30.0
CHECKPOINT_TIMEOUT = 3 * 3600.0
"""A checkpoint upload may be large; the training thread waits for it (it must be stored)."""


@dataclass
class ActiveJob:
    """What the worker knows about the job it runs now; shared by the loop and the training thread."""

    command: StartJob
    attempt: int
    resumed_phase: Phase | None = None
    requested: str | None = None
    """``pause`` or ``cancel``, as last read from the database (or set by a command handled here)."""
    cancel_reason: str | None = None
    lost: bool = False
    """The claim is no longer ours (another worker took the job over): stop, and report nothing."""
    shutdown: bool = False
    """This worker is stopping: stop the training and hand the job back."""
    storage_failed: bool = False
    """A checkpoint could not be stored: stop, and let the job be claimed again."""
    phase: str | None = None
    step: int = 0
    poke: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def job_id(self) -> str:
        return self.command.job_id

    def control(self) -> Control:
        if self.lost or self.shutdown or self.storage_failed:
            return "cancel"
        if self.requested == "cancel":
            return "cancel"
        if self.requested == "pause":
            return "pause"
        return "run"


class Sink(Protocol):
    """What the hooks need from the worker: coroutines that run on its loop."""

    async def job_started(
        self, job: ActiveJob, device: str, hyperparameters: Mapping[str, Any], resumed_step: int | None
    ) -> None: ...

    async def job_progress(self, job: ActiveJob, report: Progress) -> None: ...

    async def store_checkpoint(self, job: ActiveJob, checkpoint: Checkpoint, archive: Path) -> None: ...


class JobHooks:
    def __init__(
        self,
        job: ActiveJob,
        sink: Sink,
        loop: asyncio.AbstractEventLoop,
        scratch: Path,
        *,
        progress_interval: float,
    ) -> None:
        self.job = job
        self.sink = sink
        self.loop = loop
        self.scratch = scratch
        self.progress_interval = progress_interval
        self._last_progress: float | None = None
        self._last_phase: str | None = None

    def _run(self, coroutine: Awaitable[T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)  # type: ignore[arg-type]
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    # -- core.Hooks --------------------------------------------------------------------------
    def started(self, device: str, hyperparameters: Mapping[str, Any], resumed_step: int | None) -> None:
        self._run(self.sink.job_started(self.job, device, hyperparameters, resumed_step), STARTED_TIMEOUT)

    def progress(self, report: Progress) -> None:
        self.job.phase, self.job.step = report.phase, report.step
        now = time.monotonic()
        due = (
            self._last_progress is None
            or report.phase != self._last_phase
            or report.step >= report.total_steps
            or now - self._last_progress >= self.progress_interval
        )
        if not due:
            return
        self._last_progress, self._last_phase = now, report.phase
        try:
            self._run(self.sink.job_progress(self.job, report), PROGRESS_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - progress is best effort; the outcome is not
            log.warning("progress event not published", job=self.job.job_id, error=repr(exc))

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        self.job.phase, self.job.step = checkpoint.phase, checkpoint.step
        self.scratch.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="checkpoint-", dir=self.scratch))
        try:
            archive = pack_folder(checkpoint.path, folder / "checkpoint.zip", compress=False)
            self._run(self.sink.store_checkpoint(self.job, checkpoint, archive), CHECKPOINT_TIMEOUT)
        except BaseException:
            self.job.storage_failed = self.job.storage_failed or not self.job.lost
            raise
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def control(self) -> Control:
        return self.job.control()
