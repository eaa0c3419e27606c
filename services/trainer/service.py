"""The trainer service: handlers that record jobs and requests, and a worker that trains.

Each handler changes the job table in its own transaction (with the processed-message record
and the events it causes) and, once that commits, pokes the worker: a new job is claimed at
once, and a cancel or pause request reaches a job running in this process without waiting
for the next lease renewal. Replicas elsewhere read requests at their next renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as orm_event

from skill_adapter.contracts import (
    CancelJob,
    JobCancelled,
    JobFailed,
    JobPaused,
    PauseJob,
    ResumeJob,
    StartJob,
)
from skill_adapter.runtime import HandlerContext, Service, ServiceRuntime

from . import commands
from .models import MIGRATIONS
from .settings import TrainerSettings
from .worker import TrainFunction, Worker

SERVICE_NAME = "trainer"

__all__ = ["MIGRATIONS", "SERVICE_NAME", "Deps", "build_service"]


@dataclass
class Deps:
    runtime: ServiceRuntime
    worker: Worker


def _apply(effect: commands.Effect, ctx: HandlerContext, job_id: str, what: str) -> Any:
    """Log what the command did, poke the worker after the commit, return the caused event."""
    if effect.poke:
        worker: Worker = ctx.deps.worker

        def after_commit(_: Any) -> None:
            worker.poke(job_id)

        orm_event.listen(ctx.session.sync_session, "after_commit", after_commit, once=True)
    if effect.note:
        ctx.log.info(f"{what}: {effect.note}", job=job_id)
    return effect.event


def build_service(settings: TrainerSettings, train: TrainFunction | None = None) -> Service:
    """``train`` replaces the training code (tests of the job lifecycle use a small one)."""

    @contextlib.asynccontextmanager
    async def setup(runtime: ServiceRuntime) -> AsyncIterator[Deps]:
        worker = Worker(runtime, settings, train)
        task = asyncio.create_task(worker.run_forever(), name="training-worker")
        try:
            yield Deps(runtime, worker)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    service = Service(
        SERVICE_NAME,
        description="Trains LoRA/QLoRA adapters (SFT, then GRPO on rubric rewards) on one device per replica.",
        migrations=[MIGRATIONS],
        setup=setup,
    )

    @service.handles(StartJob, purpose="start", ack_wait=30, max_deliver=5)
    async def on_start(command: StartJob, ctx: HandlerContext) -> JobFailed | None:
        """Record the job (once per job id) and wake a worker; the training happens there."""
        return _apply(await commands.start(ctx.session, command), ctx, command.job_id, "start")

    @service.handles(CancelJob, purpose="cancel", ack_wait=30, max_deliver=5)
    async def on_cancel(command: CancelJob, ctx: HandlerContext) -> JobCancelled | None:
        """Cancel a queued or paused job now; ask a running job's worker to stop it."""
        return _apply(await commands.cancel(ctx.session, command), ctx, command.job_id, "cancel")

    @service.handles(PauseJob, purpose="pause", ack_wait=30, max_deliver=5)
    async def on_pause(command: PauseJob, ctx: HandlerContext) -> JobPaused | None:
        """Pause a queued job now; ask a running job's worker to checkpoint and stop."""
        return _apply(await commands.pause(ctx.session, command), ctx, command.job_id, "pause")

    @service.handles(ResumeJob, purpose="resume", ack_wait=30, max_deliver=5)
    async def on_resume(command: ResumeJob, ctx: HandlerContext) -> None:
        """Queue a paused job again; it resumes from its newest checkpoint."""
        return _apply(await commands.resume(ctx.session, command), ctx, command.job_id, "resume")  # type: ignore[no-any-return]

    return service
