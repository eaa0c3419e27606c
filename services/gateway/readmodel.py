"""The gateway as an event consumer: the skills read model from the parser's events, and the
adapter registry from the serving events.

Each handler writes in ``ctx.session``, the transaction in which the runtime also records the
event as processed, so a redelivery finds the record and changes nothing. Once a serving event
commits, this replica's inference plane is told at once (the others notice at their next sync).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as orm_event

from skill_adapter.contracts import (
    AdapterPromoted,
    AdapterRegistered,
    AdapterRetired,
    DatasetFailed,
    DatasetGenerated,
    DatasetProgress,
    EvaluationCompleted,
    EvaluationFailed,
    EvaluationProgress,
    GenerateDataset,
    JobCancelled,
    JobCheckpointed,
    JobFailed,
    JobPaused,
    JobProgress,
    JobStarted,
    JobSucceeded,
    SkillParsed,
    SkillRejected,
)
from skill_adapter.runtime import HandlerContext, Service
from skill_adapter.runtime.service import Setup

from . import jobs
from .adapters import AdapterRegistry
from .models import MIGRATIONS
from .repository import SkillRepository

SERVICE_NAME = "gateway"


async def record_parsed(event: SkillParsed, ctx: HandlerContext) -> GenerateDataset | None:
    """Add an accepted skill version (and its rubric) to the read model; a new version starts a
    fine-tuning job when ``auto_train`` is on (``jobs.auto_train``)."""
    added = await SkillRepository(ctx.session).record_parsed(event)
    ctx.log.info(
        "skill version recorded" if added else "skill version already known",
        skill=event.skill_name,
        version=event.skill_version,
    )
    return await jobs.auto_train(event, ctx) if added else None


async def record_rejected(event: SkillRejected, ctx: HandlerContext) -> None:
    """Keep a rejected skill and its errors so the user can see why it was refused."""
    await SkillRepository(ctx.session).record_rejected(event)
    ctx.log.info("skill rejection recorded", object_name=event.object_name, reason=event.reason)


def _sync_after_commit(ctx: HandlerContext) -> None:
    """Poke this replica's inference plane once the handler's transaction has committed."""
    poke = getattr(ctx.deps, "adapters_changed", None)
    if poke is None:
        return

    def after_commit(_: Any) -> None:
        poke()

    orm_event.listen(ctx.session.sync_session, "after_commit", after_commit, once=True)


async def record_adapter_registered(event: AdapterRegistered, ctx: HandlerContext) -> None:
    """Keep a newly registered adapter's metadata (base model, skill, rank, digest); a candidate
    is served to evaluators (``serve_candidates``). Its job (if the API made it) learns its id."""
    await AdapterRegistry(ctx.session).record_registered(event)
    await jobs.on_adapter_registered(event, ctx)
    _sync_after_commit(ctx)
    ctx.log.info("adapter registered", adapter=event.adapter_id, base=event.base_model)


async def record_adapter_promoted(event: AdapterPromoted, ctx: HandlerContext) -> None:
    """Serve a promoted adapter: every backend that has its base loads it."""
    changed = await AdapterRegistry(ctx.session).record_promoted(event)
    _sync_after_commit(ctx)
    ctx.log.info("adapter promoted" if changed else "stale promotion ignored", adapter=event.adapter_id)


async def record_adapter_retired(event: AdapterRetired, ctx: HandlerContext) -> None:
    """Stop serving a retired adapter."""
    changed = await AdapterRegistry(ctx.session).record_retired(event)
    _sync_after_commit(ctx)
    ctx.log.info("adapter retired" if changed else "stale retirement ignored", adapter=event.adapter_id)


def build_service(setup: Setup | None = None) -> Service:
    """The gateway's consumers: skills parsed/rejected, adapters registered/promoted/retired, and
    every stage's events of the fine-tuning jobs (``jobs``)."""
    service = Service(
        SERVICE_NAME,
        description="HTTP API of Agent Skill Adapter and the read model behind it.",
        migrations=[MIGRATIONS],
        setup=setup,
    )
    service.handles(SkillParsed, purpose="skills_parsed", ack_wait=30, max_deliver=10)(record_parsed)
    service.handles(SkillRejected, purpose="skills_rejected", ack_wait=30, max_deliver=10)(record_rejected)
    service.handles(AdapterRegistered, purpose="adapters_registered", ack_wait=30, max_deliver=10)(
        record_adapter_registered
    )
    service.handles(AdapterPromoted, purpose="adapters_promoted", ack_wait=30, max_deliver=10)(
        record_adapter_promoted
    )
    service.handles(AdapterRetired, purpose="adapters_retired", ack_wait=30, max_deliver=10)(
        record_adapter_retired
    )
    service.handles(DatasetProgress, purpose="jobs_dataset_progress", ack_wait=30, max_deliver=10)(
        jobs.on_dataset_progress
    )
    service.handles(DatasetGenerated, purpose="jobs_dataset_generated", ack_wait=30, max_deliver=10)(
        jobs.on_dataset_generated
    )
    service.handles(DatasetFailed, purpose="jobs_dataset_failed", ack_wait=30, max_deliver=10)(
        jobs.on_dataset_failed
    )
    service.handles(JobStarted, purpose="jobs_training_started", ack_wait=30, max_deliver=10)(
        jobs.on_training_started
    )
    service.handles(JobProgress, purpose="jobs_training_progress", ack_wait=30, max_deliver=10)(
        jobs.on_training_progress
    )
    service.handles(JobCheckpointed, purpose="jobs_training_checkpoint", ack_wait=30, max_deliver=10)(
        jobs.on_checkpoint
    )
    service.handles(JobPaused, purpose="jobs_training_paused", ack_wait=30, max_deliver=10)(
        jobs.on_training_paused
    )
    service.handles(JobSucceeded, purpose="jobs_training_succeeded", ack_wait=30, max_deliver=10)(
        jobs.on_training_succeeded
    )
    service.handles(JobFailed, purpose="jobs_training_failed", ack_wait=30, max_deliver=10)(
        jobs.on_training_failed
    )
    service.handles(JobCancelled, purpose="jobs_training_cancelled", ack_wait=30, max_deliver=10)(
        jobs.on_training_cancelled
    )
    service.handles(EvaluationProgress, purpose="jobs_evaluation_progress", ack_wait=30, max_deliver=10)(
        jobs.on_evaluation_progress
    )
    service.handles(EvaluationCompleted, purpose="jobs_evaluation_completed", ack_wait=30, max_deliver=10)(
        jobs.on_evaluation_completed
    )
    service.handles(EvaluationFailed, purpose="jobs_evaluation_failed", ack_wait=30, max_deliver=10)(
        jobs.on_evaluation_failed
    )
    return service
