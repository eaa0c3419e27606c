"""Fine-tuning jobs: one skill taught to one base model, orchestrated by events.

A job created through the API (``POST /v1/fine_tuning/jobs``) is recorded, then moves on only
as the services' events arrive; no service is called:

    created  -> datasets.cmd.dataset.generate.v1           (stage generating_data)
    datasets.evt.dataset.generated.v1 -> training.cmd.job.start.v1   (stage training)
    training.evt.job.succeeded.v1      -> stage evaluating (the evaluator evaluates every
                                          registered adapter on its own)
    evaluation.evt.run.completed.v1    -> succeeded with ``fine_tuned_model`` when the gate
                                          promoted the adapter, else failed (``not_promoted``)

A failure event of any stage fails the job with its reason; ``cancel`` marks the job cancelled at
once and tells the service of its stage to stop: ``training.cmd.job.cancel.v1`` while it trains
(the trainer's confirmation adds "Training stopped" to the job's history),
``datasets.cmd.dataset.cancel.v1`` while it generates data (the data generator's
``dataset.failed`` with code ``cancelled`` adds "Data generation stopped"),
``evaluation.cmd.run.cancel.v1`` for the job's automatic evaluation run while it is evaluated
(the evaluator's ``evaluation.failed`` with code ``cancelled`` adds "Evaluation stopped"; the
adapter is not promoted). Other events of a finished job change nothing: a dataset that was
ready just before the cancel is not trained on. Events about jobs
the API did not create (the CLI's own runs) are ignored. Every change also adds a line to the
job's history (``job_events``); progress lines are throttled.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from skill_adapter.contracts import (
    AdapterRegistered,
    CancelDataset,
    CancelEvaluation,
    CancelJob,
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
    JobStatus,
    JobSucceeded,
    PauseJob,
    ResumeJob,
    SkillParsed,
    StartJob,
    auto_run_id,
)
from skill_adapter.contracts.jobs import (
    FineTuningJob,
    FineTuningJobCheckpoint,
    FineTuningJobCreate,
    FineTuningJobEvent,
    JobError,
    JobProgressInfo,
    JobStage,
)
from skill_adapter.runtime import HandlerContext

from . import webhooks
from .models import JobCheckpointRow, JobEventRow, JobRow

PRODUCER = "gateway"
DATASET_CANCELLED = "cancelled"
"""The code of the data generator's ``dataset.failed`` for a run stopped by ``CancelDataset``."""
GENERATION_STOPPED = "Data generation stopped: the data generator has let go of the job"
TRAINING_STOPPED = "Training stopped: the trainer has let go of the job"
EVALUATION_CANCELLED = "cancelled"
"""The code of the evaluator's ``evaluation.failed`` for a run stopped by ``CancelEvaluation``."""
EVALUATION_STOPPED = "Evaluation stopped: the evaluator has let go of the job"
PROGRESS_EVENT_SECONDS = 10.0
"""At most one progress line per job and stage this often (the first and last always)."""


def new_job_id() -> str:
    return f"ftjob-{secrets.token_hex(12)}"


def _now() -> datetime:
    return datetime.now(UTC)


def _unix(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def to_api(row: JobRow) -> FineTuningJob:
    method_key = {"sft": "supervised", "grpo": "reinforcement"}.get(row.method, "sft+grpo")
    shown = {k: v for k, v in (row.progress or {}).items() if k != "event_at"}  # event_at: throttling
    progress = JobProgressInfo.model_validate(shown) if shown else None
    return FineTuningJob(
        id=row.id,
        created_at=_unix(row.created_at) or 0,
        finished_at=_unix(row.finished_at),
        model=row.model,
        fine_tuned_model=row.fine_tuned_model,
        status=JobStatus(row.status),
        training_file=row.training_file,
        hyperparameters=row.hyperparameters,
        trained_tokens=row.trained_tokens,
        error=JobError.model_validate(row.error) if row.error else None,
        seed=row.seed,
        metadata=row.user_metadata,
        method={"type": method_key, method_key: {"hyperparameters": row.hyperparameters}},
        user_provided_suffix=row.suffix,
        skill_name=row.skill_name,
        skill_version=row.skill_version,
        adapter_type=row.adapter_type,  # type: ignore[arg-type]
        stage=JobStage(row.stage),
        progress=progress,
        dataset_id=row.dataset_id,
        adapter_id=row.adapter_id,
        evaluation=row.evaluation,
    )


def checkpoint_to_api(row: JobCheckpointRow) -> FineTuningJobCheckpoint:
    metrics: dict[str, float | str] = {"step": float(row.step), **row.metrics}
    if row.phase:
        metrics["phase"] = row.phase
    return FineTuningJobCheckpoint(
        id=f"ftckpt-{row.id}",
        created_at=_unix(row.created_at) or 0,
        fine_tuned_model_checkpoint=row.object_name,
        step_number=row.step,
        metrics=metrics,
        fine_tuning_job_id=row.job_id,
        phase=row.phase,
        final=row.final,
    )


def event_to_api(row: JobEventRow) -> FineTuningJobEvent:
    return FineTuningJobEvent(
        id=f"ftevent-{row.id}",
        created_at=_unix(row.created_at) or 0,
        level=row.level,  # type: ignore[arg-type]
        message=row.message,
        data=row.data,
        type=row.type,  # type: ignore[arg-type]
    )


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- the API's side -------------------------------------------------------------------
    async def create(
        self,
        request: FineTuningJobCreate,
        *,
        skill_version: str | None,
        samples: int,
        owner: str | None,
        idempotency_key: str | None,
    ) -> tuple[JobRow, bool]:
        """The new job (``True``), or the one this owner created with the same idempotency key."""
        if idempotency_key is not None:
            existing = await self.by_idempotency_key(owner, idempotency_key)
            if existing is not None:
                return existing, False
        now = _now()
        job_id = new_job_id()
        row = JobRow(
            id=job_id,
            status=JobStatus.QUEUED.value,
            stage=JobStage.GENERATING_DATA.value,
            model=request.model,
            training_file=request.training_file,
            skill_name=request.skill_name,
            skill_version=skill_version,
            method=request.training_method,
            adapter_type=request.adapter_type,
            hyperparameters=dict(request.method_hyperparameters),
            suffix=request.suffix,
            seed=request.seed if request.seed is not None else secrets.randbelow(2**31),
            samples=samples,
            user_metadata=request.metadata,
            owner=owner,
            idempotency_key=idempotency_key,
            dataset_id=f"{job_id}-data",
            progress=JobProgressInfo(stage=JobStage.GENERATING_DATA).model_dump(mode="json"),
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        self._add_event(row, "info", f"Created fine-tuning job: {request.skill_name} on {request.model}")
        try:
            await self.session.flush()
        except IntegrityError:  # the same key raced in: the first one wins
            await self.session.rollback()
            if idempotency_key is not None:
                existing = await self.by_idempotency_key(owner, idempotency_key)
                if existing is not None:
                    return existing, False
            raise
        return row, True

    async def by_idempotency_key(self, owner: str | None, key: str) -> JobRow | None:
        owner_matches = JobRow.owner.is_(None) if owner is None else JobRow.owner == owner
        found = await self.session.execute(select(JobRow).where(owner_matches, JobRow.idempotency_key == key))
        return found.scalar_one_or_none()

    async def get(self, job_id: str) -> JobRow | None:
        return await self.session.get(JobRow, job_id)

    async def page(
        self,
        *,
        after: str | None,
        limit: int,
        status: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> tuple[list[JobRow], bool] | None:
        """Newest first; ``after`` a job id (``None`` when that job does not exist)."""
        query = select(JobRow)
        if after is not None:
            anchor = await self.get(after)
            if anchor is None:
                return None
            query = query.where(
                or_(
                    JobRow.created_at < anchor.created_at,
                    and_(JobRow.created_at == anchor.created_at, JobRow.id < anchor.id),
                )
            )
        if status is not None:
            query = query.where(JobRow.status == status)
        query = query.order_by(JobRow.created_at.desc(), JobRow.id.desc())
        if not metadata:
            rows = list((await self.session.execute(query.limit(limit + 1))).scalars())
            return rows[:limit], len(rows) > limit
        # metadata is JSON (no portable index): scan newest first in batches until the page is full
        found: list[JobRow] = []
        offset = 0
        while len(found) <= limit:
            batch = list((await self.session.execute(query.offset(offset).limit(500))).scalars())
            found += [
                r for r in batch if all((r.user_metadata or {}).get(k) == v for k, v in metadata.items())
            ]
            if len(batch) < 500:
                break
            offset += 500
        return found[:limit], len(found) > limit

    async def events(self, job_id: str, *, after: str | None, limit: int) -> tuple[list[JobEventRow], bool]:
        """Newest first; ``after`` an event id (``ftevent-<n>``)."""
        query = select(JobEventRow).where(JobEventRow.job_id == job_id)
        if after is not None:
            number = after.removeprefix("ftevent-")
            if number.isdigit():
                query = query.where(JobEventRow.id < int(number))
        rows = list(
            (await self.session.execute(query.order_by(JobEventRow.id.desc()).limit(limit + 1))).scalars()
        )
        return rows[:limit], len(rows) > limit

    async def events_since(self, job_id: str, last_id: int) -> list[JobEventRow]:
        """Oldest first, those after ``last_id`` (for the live stream)."""
        query = (
            select(JobEventRow)
            .where(JobEventRow.job_id == job_id, JobEventRow.id > last_id)
            .order_by(JobEventRow.id)
        )
        return list((await self.session.execute(query)).scalars())

    async def checkpoints(
        self, job_id: str, *, after: str | None, limit: int
    ) -> tuple[list[JobCheckpointRow], bool]:
        """Newest first; ``after`` a checkpoint id (``ftckpt-<n>``)."""
        query = select(JobCheckpointRow).where(JobCheckpointRow.job_id == job_id)
        if after is not None:
            number = after.removeprefix("ftckpt-")
            if number.isdigit():
                query = query.where(JobCheckpointRow.id < int(number))
        rows = list(
            (
                await self.session.execute(query.order_by(JobCheckpointRow.id.desc()).limit(limit + 1))
            ).scalars()
        )
        return rows[:limit], len(rows) > limit

    def pause(self, row: JobRow) -> PauseJob:
        self._add_event(row, "info", "Pause requested")
        return PauseJob(producer=PRODUCER, correlation_id=row.id, job_id=row.id)

    def resume(self, row: JobRow) -> ResumeJob:
        row.status = JobStatus.RUNNING.value
        self._add_event(row, "info", "Resume requested")
        return ResumeJob(producer=PRODUCER, correlation_id=row.id, job_id=row.id)

    def cancel(
        self, row: JobRow, reason: str = "cancelled on request"
    ) -> CancelJob | CancelDataset | CancelEvaluation | None:
        """Mark ``row`` cancelled; the command that stops the work of the stage it was in."""
        stage = row.stage
        self._finish(row, JobStatus.CANCELLED, f"Job cancelled: {reason}")
        if stage == JobStage.TRAINING.value:
            return CancelJob(producer=PRODUCER, correlation_id=row.id, job_id=row.id, reason=reason)
        if stage == JobStage.GENERATING_DATA.value and row.dataset_id is not None:
            return CancelDataset(
                producer=PRODUCER, correlation_id=row.id, dataset_id=row.dataset_id, reason=reason
            )
        if stage == JobStage.EVALUATING.value and row.adapter_id is not None:
            return CancelEvaluation(
                producer=PRODUCER, correlation_id=row.id, run_id=auto_run_id(row.adapter_id), reason=reason
            )
        return None

    def generate_command(self, row: JobRow, skill_version: str) -> GenerateDataset:
        assert row.dataset_id is not None
        return GenerateDataset(
            producer=PRODUCER,
            correlation_id=row.id,
            dataset_id=row.dataset_id,
            skill_name=row.skill_name,
            skill_version=skill_version,
            base_model=row.model,
            num_samples=row.samples,
            seed=row.seed,
            job_id=row.id,
            grpo_probe_prompts=0 if row.method == "sft" else None,  # no GRPO: no prompts to probe for it
        )

    # -- the events' side -----------------------------------------------------------------
    def _add_event(
        self,
        row: JobRow,
        level: str,
        message: str,
        data: dict[str, Any] | None = None,
        kind: str = "message",
        at: datetime | None = None,
    ) -> None:
        self.session.add(
            JobEventRow(
                job_id=row.id, created_at=at or _now(), level=level, type=kind, message=message, data=data
            )
        )
        row.updated_at = _now()

    def _finish(self, row: JobRow, status: JobStatus, message: str, error: JobError | None = None) -> None:
        row.status = status.value
        row.stage = JobStage.DONE.value
        row.finished_at = _now()
        row.error = error.model_dump(mode="json", exclude_none=True) if error else None
        row.progress = None
        self._add_event(row, "error" if status is JobStatus.FAILED else "info", message)
        webhooks.enqueue(self.session, row)

    def _progress(
        self, row: JobRow, stage: JobStage, done: int, total: int, message: str, data: dict[str, Any] | None
    ) -> None:
        """Record progress; add a history line at most every ``PROGRESS_EVENT_SECONDS`` per stage,
        and when it reaches its total (once: more reports at the total add nothing)."""
        previous = row.progress or {}
        now = _now()
        same_stage = previous.get("stage") == stage.value
        last = previous.get("event_at") if same_stage else None
        finished_before = same_stage and (previous.get("done"), previous.get("total")) == (done, total)
        due = (
            last is None
            or now.timestamp() - float(last) >= PROGRESS_EVENT_SECONDS
            or (bool(total) and done >= total and not finished_before)
        )
        row.progress = {
            **JobProgressInfo(stage=stage, done=done, total=total, message=message).model_dump(mode="json"),
            "event_at": now.timestamp() if due else last,
        }
        if due:
            self._add_event(row, "info", message, data, kind="metrics" if data else "message")
        else:
            row.updated_at = now

    async def active(self, job_id: str | None) -> JobRow | None:
        """The API's job ``job_id`` when it is still going (events of others are not ours)."""
        if not job_id:
            return None
        row = await self.get(job_id)
        if row is None or JobStatus(row.status).is_terminal:
            return None
        return row

    async def by_dataset(self, dataset_id: str, *, finished: bool = False) -> JobRow | None:
        """The job generating ``dataset_id`` while it is still going (or also once it has ended)."""
        found = await self.session.execute(select(JobRow).where(JobRow.dataset_id == dataset_id))
        row = found.scalar_one_or_none()
        return row if row is not None and (finished or not JobStatus(row.status).is_terminal) else None

    async def by_adapter(self, adapter_id: str, *, finished: bool = False) -> JobRow | None:
        """The job of ``adapter_id`` while it is still going (or also once it has ended)."""
        found = await self.session.execute(select(JobRow).where(JobRow.adapter_id == adapter_id))
        row = found.scalar_one_or_none()
        return row if row is not None and (finished or not JobStatus(row.status).is_terminal) else None

    def dataset_progress(self, row: JobRow, event: DatasetProgress) -> None:
        row.status = JobStatus.RUNNING.value  # generating data: never paused
        accepted = f", {event.accepted} verified" if event.accepted is not None else ""
        message = f"Generating data: {event.stage} {event.done}/{event.total}{accepted}"
        self._progress(row, JobStage.GENERATING_DATA, event.done, event.total, message, None)

    def dataset_generated(self, row: JobRow, event: DatasetGenerated) -> StartJob:
        row.status = JobStatus.RUNNING.value
        row.stage = JobStage.TRAINING.value
        row.dataset_object, row.dataset_digest = event.object_name, event.digest
        row.skill_version = event.skill_version
        row.progress = JobProgressInfo(stage=JobStage.TRAINING).model_dump(mode="json")
        self._add_event(
            row,
            "info",
            f"Dataset ready: {event.num_train} training, {event.num_validation} validation and "
            f"{event.num_heldout} held-out prompts",
            {"dataset_id": event.dataset_id, "object": event.object_name, "digest": event.digest},
        )
        return StartJob(
            producer=PRODUCER,
            correlation_id=row.id,
            job_id=row.id,
            skill_name=row.skill_name,
            skill_version=event.skill_version,
            base_model=row.model,
            dataset_object=event.object_name,
            dataset_digest=event.digest,
            method=row.method,  # type: ignore[arg-type]
            adapter_type=row.adapter_type,  # type: ignore[arg-type]
            hyperparameters=row.hyperparameters,
            seed=row.seed,
        )

    def failed(self, row: JobRow, stage: str, code: str | None, reason: str) -> None:
        error = JobError(code=code or f"{stage}_failed", message=reason)
        self._finish(row, JobStatus.FAILED, f"Job failed while {stage.replace('_', ' ')}: {reason}", error)

    def training_started(self, row: JobRow, event: JobStarted) -> None:
        row.status = JobStatus.RUNNING.value
        resumed = (
            f", resumed from step {event.resumed_from_step}" if event.resumed_from_step is not None else ""
        )
        self._add_event(
            row,
            "info",
            f"Training started on {event.device}{resumed}",
            {"hyperparameters": event.hyperparameters},
        )
        row.hyperparameters = {**row.hyperparameters, **event.hyperparameters}

    def training_progress(self, row: JobRow, event: JobProgress) -> None:
        if row.status == JobStatus.QUEUED.value:  # a late report does not undo a pause
            row.status = JobStatus.RUNNING.value
        metrics = {
            key: value
            for key, value in {
                "phase": event.phase,
                "step": event.step,
                "total_steps": event.total_steps,
                "train_loss": event.loss,
                "reward_mean": event.reward_mean,
                "learning_rate": event.learning_rate,
                "tokens_per_second": event.tokens_per_second,
                "eta_seconds": event.eta_seconds,
            }.items()
            if value is not None
        }
        message = f"{event.phase.upper()} step {event.step}/{event.total_steps}" + (
            f": loss {event.loss:.4f}" if event.loss is not None else ""
        )
        self._progress(row, JobStage.TRAINING, event.step, event.total_steps, message, metrics)

    async def checkpointed(self, row: JobRow, event: JobCheckpointed) -> None:
        known = await self.session.execute(
            select(JobCheckpointRow.id).where(
                JobCheckpointRow.job_id == row.id, JobCheckpointRow.object_name == event.object_name
            )
        )
        if known.first() is None:
            self.session.add(
                JobCheckpointRow(
                    job_id=row.id,
                    phase=event.phase,
                    step=event.step,
                    object_name=event.object_name,
                    digest=event.digest,
                    metrics=dict(event.metrics),
                    final=event.final,
                    created_at=event.occurred_at,
                )
            )
        phase = f"{event.phase.upper()} " if event.phase else ""
        self._add_event(
            row,
            "info",
            f"Checkpoint at {phase}step {event.step}" + (" (final)" if event.final else ""),
            {"step": event.step, "object": event.object_name, "digest": event.digest, **event.metrics},
        )

    def generation_stopped(self, row: JobRow) -> None:
        """The data generator's word that a job cancelled through the API no longer generates."""
        if row.status == JobStatus.CANCELLED.value:
            self._add_event(row, "info", GENERATION_STOPPED)

    def training_stopped(self, row: JobRow) -> None:
        """The trainer's word that a job cancelled through the API no longer trains."""
        if row.status == JobStatus.CANCELLED.value:
            self._add_event(row, "info", TRAINING_STOPPED)

    def evaluation_stopped(self, row: JobRow) -> None:
        """The evaluator's word that a job cancelled through the API is no longer evaluated."""
        if row.status == JobStatus.CANCELLED.value:
            self._add_event(row, "info", EVALUATION_STOPPED)

    def paused(self, row: JobRow, event: JobPaused) -> None:
        row.status = JobStatus.PAUSED.value
        self._add_event(row, "info", f"Training paused at step {event.step}")

    def registered(self, row: JobRow, event: AdapterRegistered) -> None:
        row.adapter_id = event.adapter_id

    def training_succeeded(self, row: JobRow, event: JobSucceeded) -> None:
        row.stage = JobStage.EVALUATING.value
        row.adapter_id = event.adapter_id or row.adapter_id
        row.trained_tokens = event.trained_tokens
        row.progress = JobProgressInfo(stage=JobStage.EVALUATING).model_dump(mode="json")
        self._add_event(
            row,
            "info",
            f"Training finished: adapter {row.adapter_id}; evaluating it",
            dict(event.metrics) or None,
        )

    def evaluation_progress(self, row: JobRow, event: EvaluationProgress) -> None:
        if event.stage == "queued":  # the evaluator recorded the run; its size is not known yet
            message = "Evaluation queued"
        else:
            message = f"Evaluating: {event.done}/{event.total} replies graded"
        self._progress(row, JobStage.EVALUATING, event.done, event.total, message, None)

    def evaluated(self, row: JobRow, event: EvaluationCompleted) -> None:
        row.evaluation = {
            "run_id": event.run_id,
            "pass_rates": event.pass_rates,
            "lift": event.lift,
            "internalization": event.internalization,
            "promoted": event.promoted,
            "reasons": list(event.reasons),
            "report_object": event.report_object,
        }
        rates = ", ".join(f"{arm} {rate:.0%}" for arm, rate in event.pass_rates.items())
        if event.promoted:
            row.fine_tuned_model = row.adapter_id
            self._finish(
                row, JobStatus.SUCCEEDED, f"Evaluated ({rates}); promoted and served as {row.adapter_id}"
            )
        else:
            reasons = "; ".join(event.reasons) or "the gate held it back"
            self.failed(
                row, "evaluating", "not_promoted", f"the adapter was not promoted ({rates}): {reasons}"
            )


# -- handlers (the gateway's consumers) -------------------------------------------------------


async def on_dataset_progress(event: DatasetProgress, ctx: HandlerContext) -> None:
    jobs = JobRepository(ctx.session)
    row = await jobs.by_dataset(event.dataset_id)
    # progress has its own consumer: a report that arrives after the dataset was ready is stale
    if row is not None and row.stage == JobStage.GENERATING_DATA.value:
        jobs.dataset_progress(row, event)


async def on_dataset_generated(event: DatasetGenerated, ctx: HandlerContext) -> StartJob | None:
    jobs = JobRepository(ctx.session)
    if (
        row := await jobs.by_dataset(event.dataset_id)
    ) is None or row.stage != JobStage.GENERATING_DATA.value:
        return None
    command = jobs.dataset_generated(row, event)
    ctx.log.info("job dataset ready; training", job=row.id, dataset=event.dataset_id)
    return command


async def on_dataset_failed(event: DatasetFailed, ctx: HandlerContext) -> None:
    jobs = JobRepository(ctx.session)
    if (row := await jobs.by_dataset(event.dataset_id, finished=True)) is None:
        return  # not a job of the API's
    cancelled = event.code == DATASET_CANCELLED
    if JobStatus(row.status).is_terminal:
        if cancelled:
            jobs.generation_stopped(row)  # the API's cancel, confirmed: the generator has let go of it
    elif row.stage != JobStage.GENERATING_DATA.value:
        return  # its dataset is ready: a late word about it changes nothing
    elif cancelled:  # cancelled at the data generator, not through the API
        jobs.cancel(row, f"data generation cancelled: {event.reason}")
    else:
        jobs.failed(row, "generating_data", event.code, event.reason)


async def on_training_started(event: JobStarted, ctx: HandlerContext) -> None:
    jobs = JobRepository(ctx.session)
    if (row := await jobs.active(event.job_id)) is not None:
        jobs.training_started(row, event)


async def on_training_progress(event: JobProgress, ctx: HandlerContext) -> None:
    jobs = JobRepository(ctx.session)
    row = await jobs.active(event.job_id)
    if row is not None and row.stage == JobStage.TRAINING.value:  # stale once training has ended
        jobs.training_progress(row, event)


async def on_checkpoint(event: JobCheckpointed, ctx: HandlerContext) -> None:
    jobs = JobRepository(ctx.session)
    if (row := await jobs.active(event.job_id)) is not None:
        await jobs.checkpointed(row, event)


async def on_training_paused(event: JobPaused, ctx: HandlerContext) -> None:
    jobs = JobRepository(ctx.session)
    if (row := await jobs.active(event.job_id)) is not None:
        jobs.paused(row, event)


async def on_adapter_registered(event: AdapterRegistered, ctx: HandlerContext) -> None:
    jobs = JobRepository(ctx.session)
    if (row := await jobs.active(event.job_id)) is not None:
        jobs.registered(row, event)


async def on_training_succeeded(event: JobSucceeded, ctx: HandlerContext) -> None:
    jobs = JobRepository(ctx.session)
    if (row := await jobs.active(event.job_id)) is not None:
        jobs.training_succeeded(row, event)


async def on_training_failed(event: JobFailed, ctx: HandlerContext) -> None:
    jobs = JobRepository(ctx.session)
    if (row := await jobs.active(event.job_id)) is not None:
        reason = event.reason + (f" ({'; '.join(event.suggestions)})" if event.suggestions else "")
        jobs.failed(row, "training", event.code, reason)


async def on_training_cancelled(event: JobCancelled, ctx: HandlerContext) -> None:
    jobs = JobRepository(ctx.session)
    if (row := await jobs.active(event.job_id)) is not None:  # cancelled by the trainer's operator
        jobs.cancel(row, event.reason or "cancelled by the trainer")
    elif event.job_id and (row := await jobs.get(event.job_id)) is not None:
        jobs.training_stopped(row)  # the API's cancel, confirmed: the trainer has let go of it


async def on_evaluation_progress(event: EvaluationProgress, ctx: HandlerContext) -> None:
    jobs = JobRepository(ctx.session)
    if (row := await jobs.by_adapter(event.model)) is not None and row.stage == JobStage.EVALUATING.value:
        jobs.evaluation_progress(row, event)


async def on_evaluation_completed(event: EvaluationCompleted, ctx: HandlerContext) -> None:
    jobs = JobRepository(ctx.session)
    if (row := await jobs.by_adapter(event.model)) is not None:
        jobs.evaluated(row, event)


async def on_evaluation_failed(event: EvaluationFailed, ctx: HandlerContext) -> None:
    jobs = JobRepository(ctx.session)
    if not event.model or (row := await jobs.by_adapter(event.model, finished=True)) is None:
        return  # not a job of the API's
    cancelled = event.code == EVALUATION_CANCELLED
    if JobStatus(row.status).is_terminal:
        if cancelled:
            jobs.evaluation_stopped(row)  # the API's cancel, confirmed: the evaluator has let go of it
    elif cancelled:  # cancelled at the evaluator, not through the API
        jobs.cancel(row, f"evaluation cancelled: {event.reason}")
    else:
        jobs.failed(row, "evaluating", event.code or "evaluation_failed", event.reason)


async def auto_train(event: SkillParsed, ctx: HandlerContext) -> GenerateDataset | None:
    """A job for a new skill version when the settings say so (``auto_train``), once per version
    and base model (the idempotency key), with the settings' method and hyperparameters. A base
    model nobody serves fails the job at its first stage, with the data generator's reason,
    rather than being skipped silently."""
    settings = getattr(ctx.deps, "settings", None)
    if settings is None or not settings.auto_train or event.auto_train is False:
        return None
    model = settings.auto_train_model
    method = settings.auto_train_method
    request = FineTuningJobCreate.model_validate(
        {
            "model": model,
            "training_file": f"skill:{event.skill_name}@{event.skill_version}",
            "method": {"type": method, method: {"hyperparameters": settings.auto_train_hyperparameters}},
        }
    )
    key = "auto:" + hashlib.sha256(f"{event.skill_name}@{event.skill_version}:{model}".encode()).hexdigest()
    jobs = JobRepository(ctx.session)
    row, created = await jobs.create(
        request,
        skill_version=event.skill_version,
        samples=settings.job_samples,
        owner=None,
        idempotency_key=key,
    )
    if not created:
        return None
    ctx.log.info("auto-train job created", job=row.id, skill=event.skill_name, version=event.skill_version)
    return jobs.generate_command(row, event.skill_version)
