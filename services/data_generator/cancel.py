"""What ``CancelDataset`` does to the run table, in the handler's transaction.

- a **queued** run is failed at once (``dataset.failed``, code ``cancelled``): no worker starts it;
- a **running** run gets a cancel mark (``cancel_requested_at``, ``reason``) that the worker
  holding it reads within a poll interval, wherever it runs; that worker ends the run;
- a run that **already ended**, or whose cancel is already requested, is left alone;
- a dataset **not asked for yet** is recorded as cancelled (a row without a command): the
  ``generate`` and ``cancel`` consumers run side by side, so a generate published before the
  cancel can be handled after it (a generator that was down and comes back, say). When it
  comes, ``cancelled_before`` answers it with the cancelled failure instead of starting it.

Every change is a conditional update on the run's status, so a cancel racing a worker's claim
either finds the run still queued or finds it running and marks it: never both, never neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from skill_adapter.contracts import CancelDataset, DatasetFailed, GenerateDataset
from skill_adapter.runtime.leases import RUN_ID

from .models import DatasetRun
from .pipeline import CANCELLED
from .worker import DEFAULT_CANCEL_REASON, PRODUCER

ENDED = ("succeeded", "failed")


@dataclass(frozen=True)
class Effect:
    """What a cancel did: the event it causes now, and whether a worker holds the run."""

    event: DatasetFailed | None = None
    poke: bool = False
    note: str = ""


def cancelled_event(run: GenerateDataset, reason: str, cause: str | None) -> DatasetFailed:
    return DatasetFailed(
        producer=PRODUCER,
        correlation_id=run.correlation_id,
        causation_id=cause,
        dataset_id=run.dataset_id,
        code=CANCELLED,
        reason=reason,
    )


async def _transition(session: AsyncSession, dataset_id: str, when: str, **values: Any) -> bool:
    """Update the run only while its status is ``when``."""
    result = await session.execute(
        update(DatasetRun)
        .where(DatasetRun.dataset_id == dataset_id, DatasetRun.status == when)
        .values(**values)
    )
    return result.rowcount == 1


async def cancel(session: AsyncSession, command: CancelDataset) -> Effect:
    reason = command.reason or DEFAULT_CANCEL_REASON
    at = datetime.now(UTC)
    row = await session.get(DatasetRun, command.dataset_id)
    if row is None:
        if not RUN_ID.fullmatch(command.dataset_id):
            return Effect(note="no such dataset (and not a valid dataset id)")
        session.add(
            DatasetRun(
                dataset_id=command.dataset_id,
                command={},
                status="failed",
                attempts=0,
                reason=reason,
                cancel_requested_at=at,
            )
        )
        return Effect(note="no such dataset yet; a generate arriving later is not started")
    if row.status in ENDED:
        return Effect(note=f"the run already {row.status}")
    if row.cancel_requested_at is not None:
        return Effect(note="a cancel is already requested")
    if await _transition(
        session,
        command.dataset_id,
        "queued",
        status="failed",
        reason=reason,
        cancel_requested_at=at,
        owner=None,
        lease_until=None,
    ):
        run = GenerateDataset.model_validate(row.command)
        return Effect(cancelled_event(run, reason, command.event_id), note="cancelled before it started")
    if await _transition(session, command.dataset_id, "running", cancel_requested_at=at, reason=reason):
        return Effect(poke=True, note="cancel requested; the worker holding the run stops it")
    return Effect(note="the run changed state meanwhile")


async def cancelled_before(session: AsyncSession, command: GenerateDataset) -> DatasetFailed | None:
    """The cancelled failure when ``command``'s dataset was cancelled before it was asked for.

    The command is recorded in the cancelled row, so the same command again is a duplicate."""
    row = await session.get(DatasetRun, command.dataset_id)
    if row is None or row.command or row.cancel_requested_at is None:
        return None
    row.command = command.model_dump(mode="json")
    return cancelled_event(command, row.reason or DEFAULT_CANCEL_REASON, command.event_id)
