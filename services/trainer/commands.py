"""What each command does to the job table, in the handler's transaction.

- ``StartJob``: records the job once per ``job_id`` (the same command again changes nothing;
  the same id with other settings is refused with ``duplicate_job_id``).
- ``CancelJob``: a queued or paused job is cancelled at once (``JobCancelled``); a running
  one gets a request its worker reads within a poll interval, stopping at the next step.
- ``PauseJob``: a queued job is paused at once (``JobPaused``); a running one gets a request,
  and its worker saves a checkpoint before it stops.
- ``ResumeJob``: a paused job is queued again (its claims start counting anew) and resumes
  from its newest checkpoint; a pause that has not taken effect yet is withdrawn.

A command that does not fit the job's state (unknown job, a job already finished, resuming
a running job) changes nothing: it is logged and acknowledged, never retried. Every change
is a conditional update, so a command racing a worker's claim cannot undo the claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from skill_adapter.contracts import CancelJob, Message, PauseJob, ResumeJob, StartJob

from . import events
from .artifacts import JOB_ID
from .ledger import newest_first
from .models import CANCELLED, PAUSED, QUEUED, RUNNING, TERMINAL, CheckpointRecord, TrainingJob

ENVELOPE = frozenset(Message.model_fields)


@dataclass(frozen=True)
class Effect:
    """What a command did: the event it causes, and whether a worker should look at the job."""

    event: Message | None = None
    poke: bool = False
    note: str = ""


def _request(command: dict[str, Any]) -> dict[str, Any]:
    """What a command asks for, without its envelope (ids and times differ between resends)."""
    return {key: value for key, value in command.items() if key not in ENVELOPE}


def _command_of(row: TrainingJob) -> StartJob:
    return StartJob.model_validate(row.command)


async def _transition(session: AsyncSession, job_id: str, states: tuple[str, ...], **values: Any) -> bool:
    result = await session.execute(
        update(TrainingJob)
        .where(TrainingJob.job_id == job_id, TrainingJob.status.in_(states))
        .values(**values)
    )
    return result.rowcount == 1


async def start(session: AsyncSession, command: StartJob) -> Effect:
    if not JOB_ID.fullmatch(command.job_id):
        return Effect(
            events.failed(
                command,
                "invalid_job_id",
                "job_id must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
            )
        )
    existing = await session.get(TrainingJob, command.job_id)
    if existing is not None:
        if _request(existing.command) != _request(command.model_dump(mode="json")):
            return Effect(
                events.failed(
                    command,
                    "duplicate_job_id",
                    f"job {command.job_id!r} already exists ({existing.status}) with other settings; "
                    "start a new job with a new job_id",
                )
            )
        return Effect(note=f"already recorded ({existing.status})")
    session.add(
        TrainingJob(
            job_id=command.job_id, command=command.model_dump(mode="json"), status=QUEUED, attempts=0, step=0
        )
    )
    return Effect(poke=True)


async def cancel(session: AsyncSession, command: CancelJob) -> Effect:
    row = await session.get(TrainingJob, command.job_id)
    if row is None:
        return Effect(note="no such job")
    if row.status in TERMINAL:
        return Effect(note=f"the job already {row.status}")
    if await _transition(
        session,
        command.job_id,
        (QUEUED, PAUSED),
        status=CANCELLED,
        requested=None,
        reason=command.reason,
        owner=None,
        lease_until=None,
        finished_at=datetime.now(UTC),
    ):
        return Effect(events.cancelled(_command_of(row), command.reason, command), poke=True)
    if await _transition(session, command.job_id, (RUNNING,), requested="cancel", reason=command.reason):
        return Effect(poke=True, note="cancel requested; the worker stops at the next step")
    return Effect(note="the job changed state meanwhile")


async def pause(session: AsyncSession, command: PauseJob) -> Effect:
    row = await session.get(TrainingJob, command.job_id)
    if row is None:
        return Effect(note="no such job")
    if row.status in TERMINAL or row.status == PAUSED:
        return Effect(note=f"the job is {row.status}")
    if row.requested == "cancel":
        return Effect(note="the job is being cancelled")
    if await _transition(session, command.job_id, (QUEUED,), status=PAUSED):
        stored = newest_first(
            (
                await session.scalars(select(CheckpointRecord).where(CheckpointRecord.job_id == row.job_id))
            ).all()
        )
        step = stored[0].step if stored else 0  # where it will resume from
        return Effect(events.paused(_command_of(row), step, command))
    if await _transition(session, command.job_id, (RUNNING,), requested="pause"):
        return Effect(poke=True, note="pause requested; the worker saves a checkpoint and stops")
    return Effect(note="the job changed state meanwhile")


async def resume(session: AsyncSession, command: ResumeJob) -> Effect:
    row = await session.get(TrainingJob, command.job_id)
    if row is None:
        return Effect(note="no such job")
    if row.status == PAUSED:
        if await _transition(
            session,
            command.job_id,
            (PAUSED,),
            status=QUEUED,
            requested=None,
            owner=None,
            lease_until=None,
            attempts=0,
        ):
            return Effect(poke=True, note="queued again; it resumes from its newest checkpoint")
        return Effect(note="the job changed state meanwhile")
    if row.status == RUNNING and row.requested == "pause":
        await _transition(session, command.job_id, (RUNNING,), requested=None)
        return Effect(poke=True, note="the pause request is withdrawn")
    return Effect(note=f"the job is {row.status}, not paused")
