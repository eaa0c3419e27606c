"""Runs claimed from the database, generated, stored, and announced.

The handler only records a run; this worker does the long part outside any message: it
claims a queued run (or one whose lease ran out: its worker died), renews the lease while it
works, and ends the run in one transaction that also stages the final event in the outbox.
Files go to the ``datasets`` bucket before that, ``manifest.json`` last, so a dataset whose
event was published is always complete, and a failed run never leaves a manifest behind.

A cancel (``CancelDataset``) marks a running run in the database, so it reaches the worker that
holds it wherever that runs: the worker reads the mark every poll interval (at once when the
cancel was handled in its own process) and stops the generation there, in-flight requests
included. The run ends as ``dataset.failed`` with code ``cancelled`` and its files are removed;
a cancel that lands while the files are being stored still wins, because the run only ends
``succeeded`` with a conditional update that a cancel mark refuses.
"""

from __future__ import annotations

import time

from sqlalchemy import update

from skill_adapter.contracts import (
    SKILL_VERSIONS_BUCKET,
    DatasetFailed,
    DatasetProgress,
    DatasetStats,
    GenerateDataset,
    Message,
)
from skill_adapter.runtime import ServiceRuntime
from skill_adapter.runtime.cancels import DEFAULT_CANCEL_REASON, CancelWatch, CancelWatcher
from skill_adapter.runtime.inbox import stage
from skill_adapter.runtime.leases import LeasedWorker
from skill_adapter.runtime.log import get_logger
from skill_adapter.runtime.objects import ObjectMissing
from skill_adapter.skillspec.render import skill_system_prompt

from .inference import ChatClient
from .judge import Judge
from .models import RUNS, DatasetRun
from .pipeline import CANCELLED, LoadedSkill, Pipeline, RunCancelled, RunFailed
from .settings import DataGeneratorSettings
from .skills import SkillNotFound, load_skill
from .store import finished_event, remove_dataset, store_dataset
from .strategies import Sampler, reply_budget, wants_several_lines

log = get_logger(__name__)

PRODUCER = "data-generator"
MAX_ATTEMPTS = 3
"""Claims of one run before it is failed: a run that keeps killing its worker is not retried forever."""


class Worker(LeasedWorker[DatasetRun, GenerateDataset]):
    def __init__(self, runtime: ServiceRuntime, settings: DataGeneratorSettings) -> None:
        super().__init__(
            RUNS,
            GenerateDataset,
            runtime.sessions,
            lease_seconds=settings.datagen_lease_seconds,
            poll_seconds=settings.datagen_poll_seconds,
            name="dataset worker",
            log=log,
        )
        self.runtime = runtime
        self.settings = settings
        self._last_progress = 0.0
        self.cancels = CancelWatcher(runtime.sessions, RUNS, settings.datagen_poll_seconds, RunCancelled)

    def poke(self, dataset_id: str) -> None:
        """A cancel for ``dataset_id`` was recorded: read it now if that run is held here."""
        self.cancels.poke(dataset_id)

    # -- one run -------------------------------------------------------------------------------
    async def execute(self, command: GenerateDataset, attempt: int) -> None:
        log.info("dataset run claimed", dataset=command.dataset_id, attempt=attempt)
        reason = await self.cancels.reason(command.dataset_id)
        if reason is not None:  # cancelled while its last worker held it, which then died
            await self.cancelled(command, reason)
            return
        if attempt > MAX_ATTEMPTS:
            await self.finish(
                command,
                self.failed(
                    command, "crashed", f"the run was claimed {MAX_ATTEMPTS} times without finishing"
                ),
            )
            return
        async with self.lease(command.dataset_id), self.cancels.watching(command.dataset_id) as watch:
            event: Message
            try:
                event = await self.generate(command, watch)
            except RunFailed as exc:
                log.warning(
                    "dataset run failed", dataset=command.dataset_id, code=exc.code, reason=exc.reason
                )
                event = self.failed(command, exc.code, exc.reason, exc.stats)
            await self.finish(command, event)

    async def generate(self, command: GenerateDataset, watch: CancelWatch) -> Message:
        skill = await self.skill(command)
        clients = self.clients(command)
        try:
            sampler = Sampler(
                base=clients["base"],
                base_model=command.base_model,
                system=skill_system_prompt(skill.document),
                max_tokens=reply_budget(skill.rubric, self.settings.datagen_max_tokens),
                temperature=self.settings.datagen_temperature,
                candidates=command.candidates or self.settings.datagen_candidates,
                constraint=skill.rubric.output_constraint,
                multiline=wants_several_lines(skill.rubric),
                teacher=clients.get("teacher"),
                teacher_model=command.teacher_model or self.settings.teacher_model,
            )
            judge = Judge(clients["judge"], self.settings.judge_model) if "judge" in clients else None

            async def progress(stage_name: str, done: int, total: int, accepted: int) -> None:
                await self.progress(command, stage_name, done, total, accepted)

            pipeline = Pipeline(self.settings, command, skill, sampler, judge, progress)
            try:
                dataset = await watch.interruptible(pipeline.run())
                watch.check()  # read as the pipeline ended: nothing is stored
            except RunCancelled as exc:
                raise RunCancelled(exc.reason, pipeline.stats(pipeline.started)) from None
            await self.progress(command, "storing", 0, 1, len(dataset.train), force=True)
            stored = await store_dataset(
                self.runtime.objects, command, skill, dataset, sampler, self.settings.judge_model
            )
            return finished_event(command, skill, dataset, stored, producer=PRODUCER)
        finally:
            for client in clients.values():
                await client.aclose()

    async def skill(self, command: GenerateDataset) -> LoadedSkill:
        try:
            return await load_skill(self.runtime.objects, command.skill_name, command.skill_version)
        except SkillNotFound as exc:
            raise RunFailed("skill_not_found", str(exc)) from exc
        except ObjectMissing as exc:
            raise RunFailed("skill_not_found", f"{SKILL_VERSIONS_BUCKET.name}: {exc}") from exc

    def clients(self, command: GenerateDataset) -> dict[str, ChatClient]:
        s = self.settings
        key = s.inference_api_key.get_secret_value() if s.inference_api_key else None
        clients = {"base": ChatClient(s.inference_url, key, timeout=s.inference_timeout, name="inference")}
        if command.teacher_model or s.teacher_model:
            teacher_key = s.teacher_api_key.get_secret_value() if s.teacher_api_key else key
            url = s.teacher_url or s.inference_url
            clients["teacher"] = ChatClient(url, teacher_key, timeout=s.inference_timeout, name="teacher")
        if s.judge_model:
            judge_key = s.judge_api_key.get_secret_value() if s.judge_api_key else key
            url = s.judge_url or s.inference_url
            clients["judge"] = ChatClient(url, judge_key, timeout=s.inference_timeout, name="judge")
        return clients

    def failed(
        self, command: GenerateDataset, code: str, reason: str, stats: DatasetStats | None = None
    ) -> DatasetFailed:
        return DatasetFailed(
            producer=PRODUCER,
            correlation_id=command.correlation_id,
            causation_id=command.event_id,
            dataset_id=command.dataset_id,
            reason=reason,
            code=code,
            stats=stats,
        )

    async def progress(
        self,
        command: GenerateDataset,
        stage_name: str,
        done: int,
        total: int,
        accepted: int,
        force: bool = False,
    ) -> None:
        """Progress events, at most one a second (plus the first and last of each stage)."""
        now = time.monotonic()
        if not force and done not in (0, total) and now - self._last_progress < 1.0:
            return
        self._last_progress = now
        event = DatasetProgress(
            producer=PRODUCER,
            correlation_id=command.correlation_id,
            causation_id=command.event_id,
            dataset_id=command.dataset_id,
            stage=stage_name,
            done=done,
            total=total,
            accepted=accepted,
        )
        try:
            await self.runtime.publisher.publish(event)
        except Exception as exc:  # noqa: BLE001 - progress is best effort; the outcome is not
            log.warning("progress event not published", dataset=command.dataset_id, error=repr(exc))

    # -- cancelling ------------------------------------------------------------------------------
    async def cancelled(
        self, command: GenerateDataset, reason: str, stats: DatasetStats | None = None
    ) -> None:
        """End the run as cancelled, after removing whatever it stored."""
        removed = await remove_dataset(self.runtime.objects, command.dataset_id)
        if removed:
            log.info("files of a cancelled dataset run removed", dataset=command.dataset_id, files=removed)
        await self.finish(command, self.failed(command, CANCELLED, reason, stats))

    # -- the end -------------------------------------------------------------------------------
    async def finish(self, command: GenerateDataset, event: Message) -> None:
        """End the run with ``event``; a cancel recorded before that wins (the run ends cancelled)."""
        refused = await self._end(command, event)
        if refused is not None:
            log.info("dataset run cancelled before its outcome was recorded", dataset=command.dataset_id)
            await self.cancelled(command, refused, getattr(event, "stats", None))

    async def _end(self, command: GenerateDataset, event: Message) -> str | None:
        """Record the outcome and stage its event; the cancel reason when a cancel refused it."""
        status = "failed" if isinstance(event, DatasetFailed) else "succeeded"
        is_cancel = isinstance(event, DatasetFailed) and event.code == CANCELLED
        run = DatasetRun.dataset_id == command.dataset_id
        async with self.runtime.sessions() as session, session.begin():
            ended = await session.execute(
                update(DatasetRun)
                .where(
                    run,
                    DatasetRun.owner == self.owner,
                    DatasetRun.status == "running",
                    *(() if is_cancel else (DatasetRun.cancel_requested_at.is_(None),)),
                )
                .values(
                    status=status,
                    lease_until=None,
                    reason=getattr(event, "reason", None),
                    manifest_object=getattr(event, "object_name", None),
                )
            )
            if ended.rowcount != 1:
                row = await session.get(DatasetRun, command.dataset_id)
                if (
                    row is not None
                    and row.owner == self.owner
                    and row.status == "running"
                    and row.cancel_requested_at is not None
                ):
                    return row.reason or DEFAULT_CANCEL_REASON
                log.warning("run no longer ours; outcome dropped", dataset=command.dataset_id)
                return None
            staged = stage(session, event)
            await session.flush()
            ids = [staged.id]
        await self.runtime.outbox.publish(ids)
        log.info(
            "dataset run finished",
            dataset=command.dataset_id,
            status=status,
            code=getattr(event, "code", None),
        )
        return None
