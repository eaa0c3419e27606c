"""The data-generator service: one handler that records runs, and a worker that does them."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from skill_adapter.contracts import DatasetFailed, DatasetProgress, GenerateDataset, Message
from skill_adapter.runtime import HandlerContext, Migrations, Service, ServiceRuntime

from .models import DatasetRun
from .settings import DataGeneratorSettings
from .worker import PRODUCER, Worker

MIGRATIONS = Migrations("skill_adapter.data_generator:migrations", "skill_adapter_data_generator_version")
DATASET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


ENVELOPE = frozenset(Message.model_fields)


def _request(command: dict) -> dict:
    """What a command asks for, without its envelope (ids and times differ between resends)."""
    return {key: value for key, value in command.items() if key not in ENVELOPE}


@dataclass
class Deps:
    runtime: ServiceRuntime
    worker: Worker


def build_service(settings: DataGeneratorSettings) -> Service:
    @contextlib.asynccontextmanager
    async def setup(runtime: ServiceRuntime) -> AsyncIterator[Deps]:
        worker = Worker(runtime, settings)
        task = asyncio.create_task(worker.run_forever(), name="dataset-worker")
        try:
            yield Deps(runtime, worker)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

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
        """Record the run (once per dataset id) and wake the worker; the work happens there."""
        caused = {
            "producer": PRODUCER,
            "correlation_id": command.correlation_id,
            "causation_id": command.event_id,
            "dataset_id": command.dataset_id,
        }
        if not DATASET_ID.fullmatch(command.dataset_id):
            return DatasetFailed(
                **caused,
                code="invalid_dataset_id",
                reason="dataset_id must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
            )
        existing = await ctx.session.get(DatasetRun, command.dataset_id)
        if existing is not None:
            if _request(existing.command) != _request(command.model_dump(mode="json")):
                return DatasetFailed(
                    **caused,
                    code="duplicate_dataset_id",
                    reason=f"dataset {command.dataset_id!r} already exists ({existing.status}) with other settings",
                )
            return None  # the same command again: the run is already recorded
        ctx.session.add(
            DatasetRun(
                dataset_id=command.dataset_id,
                command=command.model_dump(mode="json"),
                status="queued",
                attempts=0,
            )
        )
        ctx.deps.worker.wake.set()
        return DatasetProgress(**caused, stage="queued", done=0, total=command.num_samples)

    return service
