"""What ``CancelDataset`` does, in the handler's transaction (``runtime.cancels`` has the rules).

A queued run ends at once with ``dataset.failed`` (code ``cancelled``); a running one is marked,
and the worker holding it stops it within a poll interval, wherever it runs; a dataset not asked
for yet is recorded as cancelled, so a ``GenerateDataset`` handled later is answered with the
cancelled failure instead of being started.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from skill_adapter.contracts import CancelDataset, DatasetFailed, GenerateDataset
from skill_adapter.runtime.cancels import CancelEffect, RunCancels

from .models import RUNS
from .pipeline import CANCELLED
from .worker import PRODUCER


def cancelled_event(run: GenerateDataset, reason: str, cause: str | None) -> DatasetFailed:
    return DatasetFailed(
        producer=PRODUCER,
        correlation_id=run.correlation_id,
        causation_id=cause,
        dataset_id=run.dataset_id,
        code=CANCELLED,
        reason=reason,
    )


CANCELS = RunCancels(RUNS, GenerateDataset, cancelled_event)


async def cancel(
    session: AsyncSession, command: CancelDataset, poke: Callable[[str], None] | None = None
) -> CancelEffect[DatasetFailed]:
    """``RunCancels.cancel`` for ``command``; ``poke``: the local worker's, called after the commit."""
    return await CANCELS.cancel(session, command.dataset_id, command.reason, command.event_id, poke)


async def cancelled_before(session: AsyncSession, command: GenerateDataset) -> DatasetFailed | None:
    """The cancelled failure when ``command``'s dataset was cancelled before it was asked for."""
    return await CANCELS.cancelled_before(session, command.dataset_id, command)
