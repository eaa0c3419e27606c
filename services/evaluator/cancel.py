"""What ``CancelEvaluation`` does to the run table, in the handler's transaction.

- a **queued** run is failed at once (``evaluation.failed``, code ``cancelled``): no worker starts it;
- a **running** run gets a cancel mark (``cancel_requested_at``, ``reason``) that the worker
  holding it reads within a poll interval, wherever it runs; that worker ends the run (its
  reports of what finished kept, labelled partial; never promoted);
- a run that **already ended**, or whose cancel is already requested, is left alone;
- a run **not asked for yet** is recorded as cancelled (a row without a command): the start
  (``StartEvaluation`` or ``AdapterRegistered``) and ``cancel`` consumers run side by side, so a
  start published before the cancel can be handled after it. When it comes,
  ``cancelled_before`` answers it with the cancelled failure instead of starting it.

Every change is a conditional update on the run's status, so a cancel racing a worker's claim
either finds the run still queued or finds it running and marks it: never both, never neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from skill_adapter.contracts import CancelEvaluation, EvaluationFailed, StartEvaluation
from skill_adapter.runtime.leases import RUN_ID

from .evaluation import CANCELLED, DEFAULT_CANCEL_REASON
from .models import EvaluationRun
from .worker import PRODUCER, event_id

ENDED = ("completed", "failed")


@dataclass(frozen=True)
class Effect:
    """What a cancel did: the event it causes now, and whether a worker holds the run."""

    event: EvaluationFailed | None = None
    poke: bool = False
    note: str = ""


def cancelled_event(run: StartEvaluation, reason: str, cause: str | None) -> EvaluationFailed:
    return EvaluationFailed(
        producer=PRODUCER,
        correlation_id=run.correlation_id,
        causation_id=cause,
        event_id=event_id(run.run_id, "failed"),
        run_id=run.run_id,
        model=run.model,
        code=CANCELLED,
        reason=reason,
    )


async def _transition(session: AsyncSession, run_id: str, when: str, **values: Any) -> bool:
    """Update the run only while its status is ``when``."""
    result = await session.execute(
        update(EvaluationRun)
        .where(EvaluationRun.run_id == run_id, EvaluationRun.status == when)
        .values(**values)
    )
    return result.rowcount == 1


async def cancel(session: AsyncSession, command: CancelEvaluation) -> Effect:
    reason = command.reason or DEFAULT_CANCEL_REASON
    at = datetime.now(UTC)
    row = await session.get(EvaluationRun, command.run_id)
    if row is None:
        if not RUN_ID.fullmatch(command.run_id):
            return Effect(note="no such run (and not a valid run id)")
        session.add(
            EvaluationRun(
                run_id=command.run_id,
                command={},
                status="failed",
                attempts=0,
                reason=reason,
                cancel_requested_at=at,
            )
        )
        return Effect(note="no such run yet; a start arriving later is not started")
    if row.status in ENDED:
        return Effect(note=f"the run already {row.status}")
    if row.cancel_requested_at is not None:
        return Effect(note="a cancel is already requested")
    if await _transition(
        session,
        command.run_id,
        "queued",
        status="failed",
        reason=reason,
        cancel_requested_at=at,
        owner=None,
        lease_until=None,
    ):
        run = StartEvaluation.model_validate(row.command)
        return Effect(cancelled_event(run, reason, command.event_id), note="cancelled before it started")
    if await _transition(session, command.run_id, "running", cancel_requested_at=at, reason=reason):
        return Effect(poke=True, note="cancel requested; the worker holding the run stops it")
    return Effect(note="the run changed state meanwhile")


async def cancelled_before(session: AsyncSession, command: StartEvaluation) -> EvaluationFailed | None:
    """The cancelled failure when ``command``'s run was cancelled before it was asked for.

    The command is recorded in the cancelled row, so the same command again is a duplicate."""
    row = await session.get(EvaluationRun, command.run_id)
    if row is None or row.command or row.cancel_requested_at is None:
        return None
    row.command = command.model_dump(mode="json")
    return cancelled_event(command, row.reason or DEFAULT_CANCEL_REASON, command.event_id)
