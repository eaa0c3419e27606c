"""``/v1/fine_tuning/jobs``: create, list, follow and cancel fine-tuning jobs (OpenAI's shapes)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from skill_adapter.contracts import JobStatus, Message
from skill_adapter.contracts.jobs import (
    FineTuningJob,
    FineTuningJobCheckpointList,
    FineTuningJobCreate,
    FineTuningJobEventList,
    FineTuningJobList,
    JobStage,
)
from skill_adapter.runtime import ServiceRuntime
from skill_adapter.runtime.inbox import stage

from ..auth import requires
from ..errors import ApiError, BadRequest, ServiceUnavailable, SkillNotFound, VersionNotFound, error_responses
from ..jobs import JobRepository, checkpoint_to_api, event_to_api, to_api
from ..models import JobRow
from ..repository import SkillRepository
from ..serving import InferencePlane
from ..settings import GatewaySettings
from ..visibility import Audience

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="How many objects to return (1-100).")]
After = Annotated[str | None, QueryParameter(description="The id of the last object of the previous page.")]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        max_length=256,
        description="A retried POST with the same key (and API key) returns the job it created.",
    ),
]


async def _commit_and_send(session: AsyncSession, runtime: ServiceRuntime, command: Message | None) -> None:
    """Commit the job's change with ``command`` staged in the outbox, then send it: now, or by the
    outbox's sweep if NATS is away (the change and its command are never parted)."""
    staged = stage(session, command) if command is not None else None
    await session.flush()
    await session.commit()
    if staged is not None:
        await runtime.outbox.publish([staged.id])


class JobNotFound(ApiError):
    status_code = 404
    code = "job_not_found"

    def __init__(self, job_id: str, *, param: str = "fine_tuning_job_id") -> None:
        super().__init__(f"No fine-tuning job {job_id!r}.", param=param)


class JobFinished(ApiError):
    status_code = 409
    code = "job_finished"


async def _job(jobs: JobRepository, job_id: str) -> JobRow:
    """The job ``job_id``, or a 404."""
    row = await jobs.get(job_id)
    if row is None:
        raise JobNotFound(job_id)
    return row


def _owner(request: Request[Any, Any, Any]) -> str | None:
    return getattr(request.user, "id", None)


class FineTuningJobController(Controller):
    path = "/v1/fine_tuning/jobs"
    tags = ["fine-tuning"]

    @post(
        "/",
        operation_id="createFineTuningJob",
        summary="Teach a base model a skill: generate its data, train, evaluate, promote",
        guards=[requires("jobs:write")],
        status_code=200,
        responses={
            200: ResponseSpec(
                data_container=FineTuningJob,
                description="The job (new, or the one this Idempotency-Key created).",
            ),
            **error_responses(404, 503),
        },
    )
    async def create_job(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[FineTuningJobCreate],
        db_session: NamedDependency[AsyncSession],
        runtime: NamedDependency[ServiceRuntime],
        inference: NamedDependency[InferencePlane],
        settings: NamedDependency[GatewaySettings],
        idempotency_key: IdempotencyKey = None,
    ) -> FineTuningJob:
        jobs = JobRepository(db_session)
        owner = _owner(request)
        if idempotency_key is not None and (
            existing := await jobs.by_idempotency_key(owner, idempotency_key)
        ):
            return to_api(existing)
        base = await inference.router.retrieve(data.model, Audience.of(request.user))  # 404 model_not_found
        if base.parent is not None:
            raise BadRequest(
                f"`{data.model}` is an adapter; fine-tuning starts from a base model ({base.parent}).",
                param="model",
                code="model_not_base",
            )
        skills = SkillRepository(db_session)
        if data.skill_version is None:
            version = await skills.latest_version(data.skill_name)
            if version is None:
                raise SkillNotFound(data.skill_name, param="training_file")
        else:
            version = await skills.get_version(data.skill_name, data.skill_version)
            if version is None:
                raise VersionNotFound(data.skill_name, data.skill_version)
        row, created = await jobs.create(
            data,
            skill_version=version.version,
            samples=data.samples or settings.job_samples,
            owner=owner,
            idempotency_key=idempotency_key,
        )
        if created:
            command = jobs.generate_command(row, version.version)
            await db_session.commit()
            try:
                await runtime.publisher.publish(command)
            except Exception as exc:  # NATS down: the job cannot start; say so and keep nothing running
                jobs.failed(row, "generating_data", "service_unavailable", f"could not start: {exc}")
                await db_session.commit()
                raise ServiceUnavailable(
                    "The job could not be started: the message broker is unavailable."
                ) from exc
        return to_api(row)

    @get(
        "/",
        operation_id="listFineTuningJobs",
        summary="List fine-tuning jobs, newest first",
        guards=[requires("jobs:read")],
        responses=error_responses(404),
    )
    async def list_jobs(
        self,
        db_session: NamedDependency[AsyncSession],
        limit: Limit = 20,
        after: After = None,
        status: Annotated[JobStatus | None, QueryParameter(description="Only jobs with this status.")] = None,
        metadata: Annotated[
            str | None,
            QueryParameter(description='Only jobs whose metadata has these pairs, as JSON: {"team": "a"}.'),
        ] = None,
    ) -> FineTuningJobList:
        wanted: dict[str, str] | None = None
        if metadata is not None:
            try:
                parsed = json.loads(metadata)
            except ValueError as exc:
                raise BadRequest("metadata must be a JSON object of strings.", param="metadata") from exc
            if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
                raise BadRequest("metadata must be a JSON object of strings.", param="metadata")
            wanted = parsed
        page = await JobRepository(db_session).page(
            after=after, limit=limit, status=status.value if status else None, metadata=wanted
        )
        if page is None:
            raise JobNotFound(after or "", param="after")
        rows, more = page
        return FineTuningJobList(data=[to_api(r) for r in rows], has_more=more)

    @get(
        "/{fine_tuning_job_id:str}",
        operation_id="retrieveFineTuningJob",
        summary="A fine-tuning job: status, stage, progress, results",
        guards=[requires("jobs:read")],
        responses=error_responses(404),
    )
    async def get_job(
        self, fine_tuning_job_id: FromPath[str], db_session: NamedDependency[AsyncSession]
    ) -> FineTuningJob:
        return to_api(await _job(JobRepository(db_session), fine_tuning_job_id))

    @post(
        "/{fine_tuning_job_id:str}/cancel",
        operation_id="cancelFineTuningJob",
        summary="Cancel a job that has not finished; the work of its stage is stopped",
        guards=[requires("jobs:write")],
        status_code=200,
        responses=error_responses(404, 409),
    )
    async def cancel_job(
        self,
        fine_tuning_job_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        runtime: NamedDependency[ServiceRuntime],
    ) -> FineTuningJob:
        jobs = JobRepository(db_session)
        row = await _job(jobs, fine_tuning_job_id)
        if JobStatus(row.status).is_terminal:
            raise JobFinished(f"The job has already {row.status}.", param="fine_tuning_job_id")
        await _commit_and_send(db_session, runtime, jobs.cancel(row))
        return to_api(row)

    async def _training_job(self, jobs: JobRepository, job_id: str, action: str) -> JobRow:
        row = await _job(jobs, job_id)
        if JobStatus(row.status).is_terminal or row.stage != JobStage.TRAINING.value:
            raise JobFinished(
                f"Only a training job can be {action}d; this one is {row.status} ({row.stage}).",
                param="fine_tuning_job_id",
            )
        return row

    @post(
        "/{fine_tuning_job_id:str}/pause",
        operation_id="pauseFineTuningJob",
        summary="Pause a training job at its next step (it keeps its checkpoint)",
        guards=[requires("jobs:write")],
        status_code=200,
        responses=error_responses(404, 409),
    )
    async def pause_job(
        self,
        fine_tuning_job_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        runtime: NamedDependency[ServiceRuntime],
    ) -> FineTuningJob:
        jobs = JobRepository(db_session)
        row = await self._training_job(jobs, fine_tuning_job_id, "pause")
        if row.status == JobStatus.PAUSED.value:
            raise JobFinished("The job is already paused.", param="fine_tuning_job_id")
        await _commit_and_send(db_session, runtime, jobs.pause(row))
        return to_api(row)

    @post(
        "/{fine_tuning_job_id:str}/resume",
        operation_id="resumeFineTuningJob",
        summary="Resume a paused job from its last checkpoint",
        guards=[requires("jobs:write")],
        status_code=200,
        responses=error_responses(404, 409),
    )
    async def resume_job(
        self,
        fine_tuning_job_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        runtime: NamedDependency[ServiceRuntime],
    ) -> FineTuningJob:
        jobs = JobRepository(db_session)
        row = await self._training_job(jobs, fine_tuning_job_id, "resume")
        if row.status != JobStatus.PAUSED.value:
            raise JobFinished("The job is not paused.", param="fine_tuning_job_id")
        await _commit_and_send(db_session, runtime, jobs.resume(row))
        return to_api(row)

    @get(
        "/{fine_tuning_job_id:str}/checkpoints",
        operation_id="listFineTuningJobCheckpoints",
        summary="The checkpoints the trainer saved, newest first",
        guards=[requires("jobs:read")],
        responses=error_responses(404),
    )
    async def list_checkpoints(
        self,
        fine_tuning_job_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        limit: Limit = 10,
        after: After = None,
    ) -> FineTuningJobCheckpointList:
        jobs = JobRepository(db_session)
        await _job(jobs, fine_tuning_job_id)
        rows, more = await jobs.checkpoints(fine_tuning_job_id, after=after, limit=limit)
        data = [checkpoint_to_api(r) for r in rows]
        return FineTuningJobCheckpointList(
            data=data,
            has_more=more,
            first_id=data[0].id if data else None,
            last_id=data[-1].id if data else None,
        )

    @get(
        "/{fine_tuning_job_id:str}/events",
        operation_id="listFineTuningEvents",
        summary="A job's history, newest first; with stream=true, live as server-sent events",
        guards=[requires("jobs:read")],
        responses={
            200: ResponseSpec(
                data_container=FineTuningJobEventList,
                description="A page of events; with `stream=true` a `text/event-stream` of events, then `[DONE]`.",
                generate_examples=False,
            ),
            **error_responses(404),
        },
    )
    async def list_events(
        self,
        fine_tuning_job_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        runtime: NamedDependency[ServiceRuntime],
        limit: Limit = 20,
        after: After = None,
        stream: Annotated[
            bool,
            QueryParameter(
                description="Every event so far, oldest first, then each new one as it happens "
                "(`data: <event>`), then `data: [DONE]` once the job has finished."
            ),
        ] = False,
    ) -> Response[FineTuningJobEventList]:
        jobs = JobRepository(db_session)
        await _job(jobs, fine_tuning_job_id)
        if stream:
            return Stream(  # type: ignore[return-value]
                _live_events(runtime, fine_tuning_job_id),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        rows, more = await jobs.events(fine_tuning_job_id, after=after, limit=limit)
        page = FineTuningJobEventList(data=[event_to_api(r) for r in rows], has_more=more)
        return Response(page.model_dump_json().encode(), media_type=MediaType.JSON)


LIVE_POLL_SECONDS = 0.5


async def _live_events(runtime: ServiceRuntime, job_id: str) -> AsyncIterator[bytes]:
    """The job's events as SSE, oldest first, until the job has finished and all are sent."""
    last = 0
    while True:
        async with runtime.sessions() as session:
            jobs = JobRepository(session)
            row = await jobs.get(job_id)
            finished = row is None or JobStatus(row.status).is_terminal
            fresh = await jobs.events_since(job_id, last)
        for event in fresh:
            last = event.id
            yield b"data: " + event_to_api(event).model_dump_json().encode() + b"\n\n"
        if finished:
            yield b"data: [DONE]\n\n"
            return
        await asyncio.sleep(LIVE_POLL_SECONDS)
