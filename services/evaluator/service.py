"""The evaluator service: handlers that record runs, and a worker that evaluates.

``AdapterRegistered`` (a new candidate adapter) queues an automatic run that may promote it;
``StartEvaluation`` queues a run on demand, for any model. Each handler records the run once
(the runtime's inbox applies a message's effects once; a run id already recorded changes
nothing) and wakes the worker after the commit; the evaluation happens there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as orm_event

from skill_adapter.contracts import (
    AdapterRegistered,
    EvaluationFailed,
    EvaluationProgress,
    Message,
    StartEvaluation,
)
from skill_adapter.runtime import HandlerContext, Migrations, Service, ServiceRuntime

from .models import EvaluationRun, KnownAdapter
from .settings import EvaluatorSettings
from .worker import PRODUCER, Worker

SERVICE_NAME = "evaluator"
MIGRATIONS = Migrations("skill_adapter.evaluator:migrations", "skill_adapter_evaluator_version")
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
ENVELOPE = frozenset(Message.model_fields)

__all__ = ["MIGRATIONS", "SERVICE_NAME", "auto_run_id", "build_service"]


@dataclass
class Deps:
    runtime: ServiceRuntime
    worker: Worker


def auto_run_id(adapter_id: str) -> str:
    """The run that evaluates a registered adapter: one per adapter."""
    return f"auto-{hashlib.sha256(adapter_id.encode()).hexdigest()[:24]}"


def _request(command: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in command.items() if key not in ENVELOPE}


def _wake_after_commit(ctx: HandlerContext) -> None:
    worker: Worker = ctx.deps.worker

    def after_commit(_: Any) -> None:
        worker.wake.set()

    orm_event.listen(ctx.session.sync_session, "after_commit", after_commit, once=True)


async def record_run(
    ctx: HandlerContext, command: StartEvaluation
) -> EvaluationFailed | EvaluationProgress | None:
    """Queue ``command`` (once per run id); a run id reused with other settings fails."""
    failed = {
        "producer": PRODUCER,
        "correlation_id": command.correlation_id,
        "causation_id": command.event_id,
        "run_id": command.run_id,
        "model": command.model,
    }
    if not RUN_ID.fullmatch(command.run_id):
        return EvaluationFailed(
            **failed,
            code="invalid_run_id",
            reason="run_id must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    existing = await ctx.session.get(EvaluationRun, command.run_id)
    if existing is not None:
        if _request(existing.command) != _request(command.model_dump(mode="json")):
            return EvaluationFailed(
                **failed,
                code="duplicate_run_id",
                reason=f"run {command.run_id!r} already exists ({existing.status}) with other settings",
            )
        return None
    ctx.session.add(
        EvaluationRun(
            run_id=command.run_id, command=command.model_dump(mode="json"), status="queued", attempts=0
        )
    )
    _wake_after_commit(ctx)
    ctx.log.info("evaluation queued", run=command.run_id, model=command.model)
    return EvaluationProgress(
        producer=PRODUCER,
        correlation_id=command.correlation_id,
        causation_id=command.event_id,
        run_id=command.run_id,
        model=command.model,
        stage="queued",
        done=0,
        total=0,
    )


def build_service(settings: EvaluatorSettings) -> Service:
    @contextlib.asynccontextmanager
    async def setup(runtime: ServiceRuntime) -> AsyncIterator[Deps]:
        worker = Worker(runtime, settings)
        task = asyncio.create_task(worker.run_forever(), name="evaluation-worker")
        try:
            yield Deps(runtime, worker)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

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

    return service
