"""The evaluator service: handlers that record runs, and a worker that evaluates.

``AdapterRegistered`` (a new candidate adapter) queues an automatic run that may promote it;
``StartEvaluation`` queues a run on demand, for any model. Each handler records the run once
(the runtime's inbox applies a message's effects once; a run id already recorded changes
nothing) and wakes the worker after the commit; the evaluation happens there.
``CancelEvaluation`` fails a queued run at once and marks a running one, which the worker
holding it stops within a poll interval (see ``cancel``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from skill_adapter.contracts import (
    AdapterRegistered,
    CancelEvaluation,
    EvaluationFailed,
    EvaluationProgress,
    StartEvaluation,
    auto_run_id,
)
from skill_adapter.runtime import HandlerContext, Migrations, Service, ServiceRuntime
from skill_adapter.runtime.leases import RunRefused

from . import cancel
from .models import RUNS, KnownAdapter
from .settings import EvaluatorSettings
from .worker import PRODUCER, Worker

SERVICE_NAME = "evaluator"
MIGRATIONS = Migrations("skill_adapter.evaluator:migrations", "skill_adapter_evaluator_version")

__all__ = ["MIGRATIONS", "SERVICE_NAME", "auto_run_id", "build_service"]


@dataclass
class Deps:
    runtime: ServiceRuntime
    worker: Worker


async def record_run(
    ctx: HandlerContext, command: StartEvaluation
) -> EvaluationFailed | EvaluationProgress | None:
    """Queue ``command`` (once per run id); a run id reused with other settings fails."""
    caused = {"producer": PRODUCER, **command.caused(), "run_id": command.run_id, "model": command.model}
    if (cancelled := await cancel.cancelled_before(ctx.session, command)) is not None:
        ctx.log.info("evaluation cancelled before it was asked for; not started", run=command.run_id)
        return cancelled
    try:
        if not await RUNS.record(ctx.session, command.run_id, command, ctx.deps.worker.wake):
            return None
    except RunRefused as exc:
        return EvaluationFailed(**caused, code=exc.code, reason=exc.reason)
    ctx.log.info("evaluation queued", run=command.run_id, model=command.model)
    return EvaluationProgress(**caused, stage="queued", done=0, total=0)


def build_service(settings: EvaluatorSettings) -> Service:
    @contextlib.asynccontextmanager
    async def setup(runtime: ServiceRuntime) -> AsyncIterator[Deps]:
        async with Worker(runtime, settings).running() as worker:
            yield Deps(runtime, worker)

    service = Service(
        SERVICE_NAME,
        description="Evaluates adapters against base and base-with-skill on held-out prompts; gates promotion.",
        migrations=[MIGRATIONS],
        setup=setup,
    )

    @service.handles(AdapterRegistered, purpose="registered", ack_wait=30, max_deliver=5)
    async def on_registered(
        event: AdapterRegistered, ctx: HandlerContext
    ) -> EvaluationFailed | EvaluationProgress | None:
        """Remember the candidate adapter and queue its evaluation (which may promote it)."""
        if await ctx.session.get(KnownAdapter, event.adapter_id) is None:
            ctx.session.add(
                KnownAdapter(
                    adapter_id=event.adapter_id,
                    skill_name=event.skill_name,
                    skill_version=event.skill_version,
                    base_model=event.base_model,
                    dataset_object=event.dataset_object,
                    dataset_digest=event.dataset_digest,
                )
            )
        command = StartEvaluation(
            producer=PRODUCER,
            correlation_id=event.correlation_id,
            causation_id=event.event_id,
            run_id=auto_run_id(event.adapter_id),
            skill_name=event.skill_name,
            skill_version=event.skill_version,
            model=event.adapter_id,
            base_model=event.base_model,
            job_id=event.job_id,
            dataset_object=event.dataset_object,
            dataset_digest=event.dataset_digest,
            promote=True,
        )
        return await record_run(ctx, command)

    @service.handles(StartEvaluation, purpose="start", ack_wait=30, max_deliver=5)
    async def on_start(
        command: StartEvaluation, ctx: HandlerContext
    ) -> EvaluationFailed | EvaluationProgress | None:
        """Queue an evaluation of any model (once per run id)."""
        return await record_run(ctx, command)

    @service.handles(CancelEvaluation, purpose="cancel", ack_wait=30, max_deliver=5)
    async def on_cancel(command: CancelEvaluation, ctx: HandlerContext) -> EvaluationFailed | None:
        """Fail a queued run at once; mark a running one, which its worker stops within a poll interval."""
        worker: Worker = ctx.deps.worker
        effect = await cancel.cancel(ctx.session, command, poke=worker.poke)
        ctx.log.info(f"cancel: {effect.note}", run=command.run_id)
        return effect.event

    return service
