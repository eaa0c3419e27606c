"""What ``CancelEvaluation`` does, in the handler's transaction (``runtime.cancels`` has the rules).

A queued run ends at once with ``evaluation.failed`` (code ``cancelled``); a running one is
marked, and the worker holding it stops it within a poll interval, wherever it runs (its reports
of what finished kept, labelled partial; never promoted); a run not asked for yet is recorded as
cancelled, so a start (``StartEvaluation`` or ``AdapterRegistered``) handled later is answered
with the cancelled failure instead of being started.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from skill_adapter.contracts import CancelEvaluation, EvaluationFailed, StartEvaluation
from skill_adapter.runtime.cancels import CancelEffect, RunCancels

from .evaluation import CANCELLED
from .models import RUNS
from .worker import PRODUCER, event_id


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


CANCELS = RunCancels(RUNS, StartEvaluation, cancelled_event)


async def cancel(
    session: AsyncSession, command: CancelEvaluation, poke: Callable[[str], None] | None = None
) -> CancelEffect[EvaluationFailed]:
    """``RunCancels.cancel`` for ``command``; ``poke``: the local worker's, called after the commit."""
    return await CANCELS.cancel(session, command.run_id, command.reason, command.event_id, poke)


async def cancelled_before(session: AsyncSession, command: StartEvaluation) -> EvaluationFailed | None:
    """The cancelled failure when ``command``'s run was cancelled before it was asked for."""
    return await CANCELS.cancelled_before(session, command.run_id, command)
