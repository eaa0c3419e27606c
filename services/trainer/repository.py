"""The worker's side of the job table: claims, leases, and the transitions of a claimed job.

Every transition of a claimed job is a conditional update (``owner`` is this worker and the
job is still ``running``), so a worker whose lease ran out and whose job another worker took
over changes nothing; events a transition causes are staged in the outbox in the same
transaction (the caller publishes the returned outbox ids after the commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skill_adapter.contracts import Message, StartJob
from skill_adapter.runtime.inbox import stage

from .core import Checkpoint
from .models import PAUSED, QUEUED, RUNNING, CheckpointRecord, TrainingJob


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Claim:
    command: StartJob
    attempt: int
    requested: str | None
    cancel_reason: str | None
    step: int


@dataclass(frozen=True)
class Requests:
    """What the database says about a running job at a lease renewal."""

    requested: str | None
    cancel_reason: str | None


class NotOurs(Exception):
    """The job is not (or no longer) held by this worker."""


class JobRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], owner: str, lease_seconds: float) -> None:
        self._sessions = sessions
        self.owner = owner
        self.lease_seconds = lease_seconds

    def _ours(self, job_id: str) -> Any:
        return and_(
            TrainingJob.job_id == job_id, TrainingJob.owner == self.owner, TrainingJob.status == RUNNING
        )

    async def claim(self) -> Claim | None:
        """Take one job nobody holds: queued, or running with an expired lease (its worker died)."""
        at = now()
        claimable = or_(
            TrainingJob.status == QUEUED,
            and_(TrainingJob.status == RUNNING, TrainingJob.lease_until < at),
        )
        async with self._sessions() as session, session.begin():
            candidate = (
                await session.execute(
                    select(TrainingJob.job_id, TrainingJob.attempts)
                    .where(claimable)
                    .order_by(TrainingJob.created_at, TrainingJob.job_id)
                    .limit(1)
                )
            ).first()
            if candidate is None:
                return None
            job_id, attempts = candidate
            won = await session.execute(
                update(TrainingJob)
                .where(TrainingJob.job_id == job_id, TrainingJob.attempts == attempts, claimable)
                .values(
                    status=RUNNING,
                    owner=self.owner,
                    lease_until=at + timedelta(seconds=self.lease_seconds),
                    attempts=attempts + 1,
                )
            )
            if won.rowcount != 1:
                return None  # another worker claimed it first
            row = await session.get(TrainingJob, job_id)
            assert row is not None
            return Claim(
                command=StartJob.model_validate(row.command),
                attempt=attempts + 1,
                requested=row.requested,
                cancel_reason=row.reason if row.requested == "cancel" else None,
                step=row.step,
            )

    async def renew(self, job_id: str, phase: str | None, step: int) -> Requests:
        """Extend the lease (recording how far the job got) and read cancel/pause requests."""
        values: dict[str, Any] = {"lease_until": now() + timedelta(seconds=self.lease_seconds)}
        if phase is not None:
            values.update(phase=phase, step=step)
        async with self._sessions() as session, session.begin():
            renewed = await session.execute(update(TrainingJob).where(self._ours(job_id)).values(**values))
            if renewed.rowcount != 1:
                raise NotOurs(job_id)
            row = (
                await session.execute(
                    select(TrainingJob.requested, TrainingJob.reason).where(TrainingJob.job_id == job_id)
                )
            ).one()
        return Requests(row.requested, row.reason if row.requested == "cancel" else None)

    async def holds(self, job_id: str) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(select(TrainingJob.job_id).where(self._ours(job_id)))
        return found is not None

    async def record_started(
        self, job_id: str, device: str, hyperparameters: dict[str, Any], event: Message
    ) -> list[int]:
        async with self._sessions() as session, session.begin():
            row = await session.get(TrainingJob, job_id)
            if row is None or row.owner != self.owner or row.status != RUNNING:
                raise NotOurs(job_id)
            row.device = device
            row.hyperparameters = hyperparameters
            row.started_at = row.started_at or now()
            staged = stage(session, event)
            await session.flush()
            return [staged.id]

    async def record_checkpoint(
        self,
        job_id: str,
        checkpoint: Checkpoint,
        *,
        object_name: str,
        digest: str,
        size: int,
        metrics: dict[str, float],
        event: Message,
    ) -> list[int]:
        """Add the stored checkpoint to the ledger (a re-stored one keeps its row) with its event."""
        async with self._sessions() as session, session.begin():
            owned = await session.execute(
                update(TrainingJob)
                .where(self._ours(job_id))
                .values(phase=checkpoint.phase, step=checkpoint.step)
            )
            if owned.rowcount != 1:
                raise NotOurs(job_id)
            row = await session.scalar(
                select(CheckpointRecord).where(CheckpointRecord.object_name == object_name)
            )
            if row is None:
                row = CheckpointRecord(job_id=job_id, object_name=object_name)
                session.add(row)
            row.phase, row.step, row.final = checkpoint.phase, checkpoint.step, checkpoint.final
            row.digest, row.size, row.metrics = digest, size, metrics
            staged = stage(session, event)
            await session.flush()
            return [staged.id]

    async def finish(self, job_id: str, status: str, events: list[Message], **fields: Any) -> list[int]:
        """End the job (or pause it) with its events, once: ``NotOurs`` when it is not ours to end."""
        values: dict[str, Any] = {"status": status, "lease_until": None, "requested": None, **fields}
        if status == PAUSED:
            values["owner"] = None
        else:
            values["finished_at"] = now()
        async with self._sessions() as session, session.begin():
            ended = await session.execute(update(TrainingJob).where(self._ours(job_id)).values(**values))
            if ended.rowcount != 1:
                raise NotOurs(job_id)
            rows = [stage(session, event) for event in events]
            await session.flush()
            return [row.id for row in rows]

    async def release(self, job_id: str) -> None:
        """Back to the queue at once, not counted as an attempt (this worker is stopping)."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(TrainingJob)
                .where(self._ours(job_id))
                .values(status=QUEUED, owner=None, lease_until=None, attempts=TrainingJob.attempts - 1)
            )
