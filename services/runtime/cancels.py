"""Cancelling a leased run (``leases``) wherever it is: the request in the handler, the watch in the worker.

A cancel command is handled in the handler's transaction (``request_cancel``):

- a **queued** run is failed at once: the caller publishes its cancelled failure, and no worker
  starts it;
- a **running** run gets a cancel mark (``cancel_requested_at``, ``reason``) that the worker
  holding it reads within a poll interval, wherever it runs (``watching``); that worker ends the run;
- a run that **already ended**, or whose cancel is already requested, is left alone;
- a run **not asked for yet** is recorded as cancelled (a row without a command): the start and
  cancel consumers run side by side, so a start published before the cancel can be handled after
  it (a service that was down and comes back, say). When it comes, ``cancelled_before`` answers
  it with the reason, and the caller publishes the cancelled failure instead of starting it.

Every change is a conditional update on the run's status, so a cancel racing a worker's claim
either finds the run still queued or finds it running and marks it: never both, never neither.

The run table's model needs a nullable ``cancel_requested_at`` column besides ``LeasedRun``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import event as orm_event
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skill_adapter.contracts import Message

from .leases import RUN_ID, RunTable
from .log import get_logger

log = get_logger(__name__)

DEFAULT_CANCEL_REASON = "cancelled on request"
ACTIVE = ("queued", "running")

T = TypeVar("T")
C = TypeVar("C", bound=Message)
E = TypeVar("E", bound=Message)


@dataclass(frozen=True)
class CancelRequest:
    """What a cancel did to the run table.

    ``failed_command``: the command of a queued run that was failed at once (the caller
    publishes its cancelled failure); ``poke``: a worker holds the run and should read the mark
    now if it runs in this process (after the commit); ``note``: what happened, for the log."""

    failed_command: dict[str, Any] | None = None
    poke: bool = False
    note: str = ""


async def request_cancel(
    session: AsyncSession, table: RunTable[Any], run_id: str, reason: str | None
) -> CancelRequest:
    """Cancel run ``run_id`` of ``table`` in ``session``'s transaction (see the module's docstring)."""
    reason = reason or DEFAULT_CANCEL_REASON
    at = datetime.now(UTC)
    noun = table.noun
    row = await session.get(table.model, run_id)
    if row is None:
        if not RUN_ID.fullmatch(run_id):
            return CancelRequest(note=f"no such {noun} (and not a valid {table.key.key})")
        session.add(
            table.model(
                **{table.key.key: run_id},
                command={},
                status="failed",
                attempts=0,
                reason=reason,
                cancel_requested_at=at,
            )
        )
        return CancelRequest(note=f"no such {noun} yet; a start arriving later is not started")
    if row.status not in ACTIVE:
        return CancelRequest(note=f"the run already {row.status}")
    if row.cancel_requested_at is not None:
        return CancelRequest(note="a cancel is already requested")

    async def transition(when: str, **values: Any) -> bool:
        result = await session.execute(
            update(table.model).where(table.key == run_id, table.model.status == when).values(**values)
        )
        return result.rowcount == 1

    if await transition(
        "queued", status="failed", reason=reason, cancel_requested_at=at, owner=None, lease_until=None
    ):
        return CancelRequest(failed_command=row.command, note="cancelled before it started")
    if await transition("running", cancel_requested_at=at, reason=reason):
        return CancelRequest(poke=True, note="cancel requested; the worker holding the run stops it")
    return CancelRequest(note="the run changed state meanwhile")


async def cancelled_before(
    session: AsyncSession, table: RunTable[Any], run_id: str, command: Message
) -> str | None:
    """The cancel reason when run ``run_id`` was cancelled before ``command`` asked for it.

    The command is recorded in the cancelled row, so the same command again is a duplicate."""
    row = await session.get(table.model, run_id)
    if row is None or row.command or row.cancel_requested_at is None:
        return None
    row.command = command.model_dump(mode="json")
    return row.reason or DEFAULT_CANCEL_REASON


async def cancel_reason(session: AsyncSession, table: RunTable[Any], run_id: str) -> str | None:
    """The reason of the run's cancel request, or ``None`` when there is none."""
    found = (
        await session.execute(
            select(table.model.cancel_requested_at, table.model.reason).where(table.key == run_id)
        )
    ).first()
    if found is None or found[0] is None:
        return None
    return found[1] or DEFAULT_CANCEL_REASON


@dataclass(frozen=True)
class CancelEffect(Generic[E]):
    """What a cancel command did: the event it causes now (a queued run's cancelled failure),
    whether a worker holds the run (``poke`` it after the commit), and what happened, for the log."""

    event: E | None = None
    poke: bool = False
    note: str = ""


class RunCancels(Generic[C, E]):
    """A service's cancels: its run ``table``, the ``start`` command a run records, and the
    ``failure`` a cancelled run ends with (from the start command, the reason, the causing id)."""

    def __init__(
        self, table: RunTable[Any], start: type[C], failure: Callable[[C, str, str | None], E]
    ) -> None:
        self.table = table
        self.start = start
        self.failure = failure

    async def cancel(
        self,
        session: AsyncSession,
        run_id: str,
        reason: str | None,
        cause: str | None,
        poke: Callable[[str], None] | None = None,
    ) -> CancelEffect[E]:
        """Cancel run ``run_id`` in the handler's transaction (``request_cancel``).

        ``poke`` (a local worker's) is called with ``run_id`` once that transaction commits, when a
        worker holds the run: a worker in this process then reads the mark at once instead of at
        its next poll. Never before the commit: the worker reads the mark in its own session."""
        reason = reason or DEFAULT_CANCEL_REASON
        done = await request_cancel(session, self.table, run_id, reason)
        if done.poke and poke is not None:
            orm_event.listen(session.sync_session, "after_commit", lambda _: poke(run_id), once=True)
        event = None
        if done.failed_command is not None:
            event = self.failure(self.start.model_validate(done.failed_command), reason, cause)
        return CancelEffect(event, done.poke, done.note)

    async def cancelled_before(self, session: AsyncSession, run_id: str, command: C) -> E | None:
        """The cancelled failure when run ``run_id`` was cancelled before ``command`` asked for it."""
        reason = await cancelled_before(session, self.table, run_id, command)
        return None if reason is None else self.failure(command, reason, command.event_id)


class CancelWatch:
    """The cancel request of the run a worker holds, and the work it interrupts.

    ``cancelled`` makes the exception a read cancel raises (the service's own, with the reason)."""

    def __init__(self, run_id: str, cancelled: Callable[[str], Exception]) -> None:
        self.run_id = run_id
        self.requested = asyncio.Event()
        self.reason = DEFAULT_CANCEL_REASON
        self.poke = asyncio.Event()
        self._cancelled = cancelled

    def stop(self, reason: str) -> None:
        self.reason = reason
        self.requested.set()

    def check(self) -> None:
        """Raise the cancel once one was read."""
        if self.requested.is_set():
            raise self._cancelled(self.reason)

    async def interruptible(self, work: Awaitable[T]) -> T:
        """``work``'s result, or the cancel as soon as one is read (``work`` is then cancelled:
        its requests in flight are abandoned)."""
        task = asyncio.ensure_future(work)
        cancelled = asyncio.ensure_future(self.requested.wait())
        try:
            await asyncio.wait({task, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancelled.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if task.done() and not task.cancelled():
            return task.result()  # finished (or failed) first: that is the outcome
        raise self._cancelled(self.reason)


class CancelWatcher:
    """Watches the one run a worker holds at a time for a cancel mark."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        table: RunTable[Any],
        poll_seconds: float,
        cancelled: Callable[[str], Exception],
    ) -> None:
        self.sessions = sessions
        self.table = table
        self.poll_seconds = poll_seconds
        self.cancelled = cancelled
        self.watch: CancelWatch | None = None

    def poke(self, run_id: str) -> None:
        """A cancel for ``run_id`` was recorded here: read it now if that run is being watched."""
        if self.watch is not None and self.watch.run_id == run_id:
            self.watch.poke.set()

    async def reason(self, run_id: str) -> str | None:
        async with self.sessions() as session:
            return await cancel_reason(session, self.table, run_id)

    @contextlib.asynccontextmanager
    async def watching(self, run_id: str) -> AsyncIterator[CancelWatch]:
        """Read the run's cancel mark every poll interval (at once when poked) while the block runs."""
        watch = CancelWatch(run_id, self.cancelled)
        fields = {self.table.key.key: run_id}

        async def poll() -> None:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(watch.poke.wait(), self.poll_seconds)
                watch.poke.clear()
                try:
                    reason = await self.reason(run_id)
                except Exception as exc:  # noqa: BLE001 - the database may be briefly away
                    log.warning("cancel request not read; will retry", **fields, error=repr(exc))
                    continue
                if reason is not None:
                    log.info(f"{self.table.noun} cancel read; stopping it", **fields, reason=reason)
                    watch.stop(reason)
                    return

        self.watch = watch
        task = asyncio.create_task(poll(), name=f"cancel-watch-{run_id}")
        try:
            yield watch
        finally:
            self.watch = None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
