"""Runs that outlive their message: recorded once per id, claimed from the database with a lease.

A command for long work (a dataset, an evaluation) becomes a row and is acknowledged at once;
the work happens in a worker outside any message. The handler records the row once per id
(``RunTable.record``): a re-sent command with the same request changes nothing, an id reused
with other settings is refused. A worker claims a queued row, or a running one whose lease ran
out because its worker died (``LeasedWorker.claim``), with a conditional update on ``attempts``
so that of racing workers exactly one wins, and renews the lease every third of its length
while it works (``LeasedWorker.lease``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Self, TypeVar

from sqlalchemy import JSON, DateTime, Integer, String, Text, func, or_, select, update
from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from skill_adapter.contracts import Message

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
ENVELOPE = frozenset(Message.model_fields)


def now() -> datetime:
    return datetime.now(UTC)


def request_of(command: dict[str, Any]) -> dict[str, Any]:
    """What a command asks for, without its envelope (ids and times differ between resends)."""
    return {key: value for key, value in command.items() if key not in ENVELOPE}


class LeasedRun:
    """The columns of a run held with a lease; a table adds its primary key and its results."""

    command: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued | running | an end status
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


R = TypeVar("R", bound=LeasedRun)


class RunRefused(Exception):
    """A command the table will not record: its id is malformed, or taken by another request."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class RunTable(Generic[R]):
    """A table of leased runs: ``model`` keyed by ``key``; ``noun`` names a run in messages."""

    def __init__(self, model: type[R], key: InstrumentedAttribute[str], noun: str) -> None:
        self.model = model
        self.key = key
        self.noun = noun

    async def record(self, session: AsyncSession, run_id: str, command: Message, wake: asyncio.Event) -> bool:
        """Queue ``command`` as run ``run_id`` once, and set ``wake`` after the commit.

        ``False`` when the same request is already recorded (nothing changes);
        ``RunRefused`` (``invalid_<key>``, ``duplicate_<key>``) when it cannot be.
        """
        if not RUN_ID.fullmatch(run_id):
            raise RunRefused(
                f"invalid_{self.key.key}",
                f"{self.key.key} must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
            )
        requested = command.model_dump(mode="json")
        existing = await session.get(self.model, run_id)
        if existing is not None:
            if request_of(existing.command) != request_of(requested):
                raise RunRefused(
                    f"duplicate_{self.key.key}",
                    f"{self.noun} {run_id!r} already exists ({existing.status}) with other settings",
                )
            return False
        session.add(self.model(**{self.key.key: run_id}, command=requested, status="queued", attempts=0))

        def after_commit(_: Any) -> None:
            wake.set()

        orm_event.listen(session.sync_session, "after_commit", after_commit, once=True)
        return True


C = TypeVar("C", bound=Message)


class LeasedWorker(Generic[R, C]):
    """Claims runs of one ``RunTable`` as ``owner`` and does them one at a time: ``execute``.

    Between runs it sleeps until ``wake`` is set (by ``RunTable.record`` after the commit) or
    ``poll_seconds`` passed; an error is logged as ``"<name> failed; retrying shortly"`` to
    ``log`` (the service's logger) and the loop goes on.
    """

    def __init__(
        self,
        table: RunTable[R],
        command_type: type[C],
        sessions: async_sessionmaker[AsyncSession],
        *,
        lease_seconds: float,
        poll_seconds: float,
        name: str,
        log: Any,
    ) -> None:
        self.table = table
        self.command_type = command_type
        self.sessions = sessions
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.name = name
        self.log = log
        self.owner = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.wake = asyncio.Event()

    async def execute(self, command: C, attempt: int) -> None:
        """Do the claimed run (``attempt`` counts its claims) and end it."""
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """The worker's loop as a task for as long as the block runs (a service's ``setup``)."""
        task = asyncio.create_task(self.run_forever(), name=self.name.replace(" ", "-"))
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_forever(self) -> None:
        while True:
            try:
                claimed = await self.claim()
                if claimed is not None:
                    await self.execute(*claimed)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception(f"{self.name} failed; retrying shortly")
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.poll_seconds)

    async def claim(self) -> tuple[C, int] | None:
        """Take one run that nobody holds: queued, or running with an expired lease.

        Returns the run's command and which attempt this is, or ``None``.
        """
        model, key = self.table.model, self.table.key
        at = now()
        runnable = or_(model.status == "queued", (model.status == "running") & (model.lease_until < at))
        async with self.sessions() as session, session.begin():
            candidate = (
                await session.execute(
                    select(key, model.attempts).where(runnable).order_by(model.created_at).limit(1)
                )
            ).first()
            if candidate is None:
                return None
            run_id, attempts = candidate
            won = await session.execute(
                update(model)
                .where(key == run_id, model.attempts == attempts, runnable)
                .values(
                    status="running",
                    owner=self.owner,
                    lease_until=at + timedelta(seconds=self.lease_seconds),
                    attempts=attempts + 1,
                )
            )
            if won.rowcount != 1:
                return None  # another worker claimed it first
            row = await session.get(model, run_id)
            assert row is not None
            return self.command_type.model_validate(row.command), attempts + 1

    @contextlib.asynccontextmanager
    async def lease(self, run_id: str) -> AsyncIterator[None]:
        """Keep this worker's lease on ``run_id`` alive while the block runs."""
        model, key = self.table.model, self.table.key

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_seconds / 3)
                async with self.sessions() as session, session.begin():
                    await session.execute(
                        update(model)
                        .where(key == run_id, model.owner == self.owner)
                        .values(lease_until=now() + timedelta(seconds=self.lease_seconds))
                    )

        task = asyncio.create_task(renew(), name=f"lease-{run_id}")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
