"""The data-generator service: handlers that record runs and cancels, and a worker that does the runs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from skill_adapter.contracts import CancelDataset, DatasetFailed, DatasetProgress, GenerateDataset
from skill_adapter.runtime import HandlerContext, Migrations, Service, ServiceRuntime
from skill_adapter.runtime.leases import RunRefused

from . import cancel
from .models import RUNS
from .settings import DataGeneratorSettings
from .worker import PRODUCER, Worker

MIGRATIONS = Migrations("skill_adapter.data_generator:migrations", "skill_adapter_data_generator_version")


@dataclass
class Deps:
    runtime: ServiceRuntime
    worker: Worker


def build_service(settings: DataGeneratorSettings) -> Service:
    @contextlib.asynccontextmanager
    async def setup(runtime: ServiceRuntime) -> AsyncIterator[Deps]:
        async with Worker(runtime, settings).running() as worker:
            yield Deps(runtime, worker)

    service = Service(
        "data-generator",
        description="Generates verified training data (prompts and compliant responses) for a skill version.",
        migrations=[MIGRATIONS],
        setup=setup,
    )

    @service.handles(GenerateDataset, purpose="generate", ack_wait=30, max_deliver=5)
    async def on_generate(
        command: GenerateDataset, ctx: HandlerContext
    ) -> DatasetProgress | DatasetFailed | None:
        """Record the run (once per dataset id) and wake the worker after the commit; the work happens there."""
        caused = {"producer": PRODUCER, **command.caused(), "dataset_id": command.dataset_id}
        if (cancelled := await cancel.cancelled_before(ctx.session, command)) is not None:
            ctx.log.info("dataset cancelled before it was asked for; not started", dataset=command.dataset_id)
            return cancelled
        try:
            if not await RUNS.record(ctx.session, command.dataset_id, command, ctx.deps.worker.wake):
                return None  # the same command again: the run is already recorded
        except RunRefused as exc:
            return DatasetFailed(**caused, code=exc.code, reason=exc.reason)
        return DatasetProgress(**caused, stage="queued", done=0, total=command.num_samples)

    @service.handles(CancelDataset, purpose="cancel", ack_wait=30, max_deliver=5)
    async def on_cancel(command: CancelDataset, ctx: HandlerContext) -> DatasetFailed | None:
        """Fail a queued run at once; mark a running one, which its worker stops within a poll interval."""
        worker: Worker = ctx.deps.worker
        effect = await cancel.cancel(ctx.session, command, poke=worker.poke)
        ctx.log.info(f"cancel: {effect.note}", dataset=command.dataset_id)
        return effect.event

    return service
