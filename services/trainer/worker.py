"""Jobs claimed from the database, prepared, trained in a thread, stored and announced.

The handlers only record jobs and requests; this worker does the long part outside any
message. It claims a queued job (or a running one whose lease ran out: its worker died),
renews the lease while it works and reads cancel/pause requests with every renewal, checks
and fetches what the job needs (``preparation``), and runs ``run_training`` in its training
thread with ``JobHooks`` as the way back: ``JobStarted``, throttled ``JobProgress``, and every
checkpoint stored in ``training-checkpoints``, recorded in the ledger with ``JobCheckpointed``
and pruned by the retention policy before the training goes on.

A job ends in one transaction that also stages its final events in the outbox. On success
the adapter passes the serving preflight, is zipped into ``adapters/<adapter_id>.zip`` and is
announced by ``AdapterRegistered`` and ``JobSucceeded`` together. The adapter id and both
event ids are functions of the job, and the row leaves ``running`` only once, so a crash
anywhere in between never yields a second adapter or a second announcement.

A failure of the job's own (bad input, a training error) fails it and the worker takes the
next job. A failure of the worker's surroundings (NATS, the object store) stops renewing the
lease: the job is claimed again when it runs out, at most ``trainer_max_attempts`` times.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from skill_adapter.contracts import ADAPTERS_BUCKET, CHECKPOINTS_BUCKET, Message, StartJob
from skill_adapter.modelstore import ModelInfo, pack_folder, preflight_adapter, read_adapter_manifest
from skill_adapter.runtime import ServiceRuntime
from skill_adapter.runtime.log import get_logger

from . import events
from .artifacts import adapter_id_for, adapter_object, checkpoint_object, sha256_file
from .core import Checkpoint, Hooks, Outcome, Progress, TrainingError, TrainingStopped, TrainSpec
from .hooks import ActiveJob, JobHooks
from .ledger import Ledger
from .models import CANCELLED, FAILED, PAUSED, SUCCEEDED
from .preparation import prepare
from .repository import Claim, JobRepository, NotOurs
from .settings import TrainerSettings

log = get_logger(__name__)

TrainFunction = Callable[[TrainSpec, Hooks], Outcome]


def run_training(spec: TrainSpec, hooks: Hooks) -> Outcome:
    """The real training code, imported when a job needs it (torch, trl and peft are heavy)."""
    try:
        from .training import run_training as train
    except ImportError as exc:
        raise TrainingError(
            "trainer_unavailable",
            f"the training code cannot be imported on this worker: {exc}",
            ["install the trainer extra: pip install 'agent-skill-adapter[trainer]'"],
        ) from exc
    return train(spec, hooks)


class Worker:
    def __init__(
        self, runtime: ServiceRuntime, settings: TrainerSettings, train: TrainFunction | None = None
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.train = train or run_training
        self.owner = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.jobs = JobRepository(runtime.sessions, self.owner, settings.trainer_lease_seconds)
        self.wake = asyncio.Event()
        self.active: ActiveJob | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.runtime.sessions, self.runtime.objects, CHECKPOINTS_BUCKET.name)

    # -- the loop ------------------------------------------------------------------------------
    async def run_forever(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trainer")
        try:
            while True:
                try:
                    claimed = await self.jobs.claim()
                    if claimed is not None:
                        await self.execute(claimed)
                        continue
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("training worker failed; retrying shortly")
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.settings.trainer_poll_seconds)
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def poke(self, job_id: str) -> None:
        """A command changed ``job_id``: re-read it now if it runs here, and look for work."""
        self.wake.set()
        if self.active is not None and self.active.job_id == job_id:
            self.active.poke.set()

    @contextlib.asynccontextmanager
    async def lease(self, job: ActiveJob) -> AsyncIterator[None]:
        """Renew the claim and read requests every poll interval (at once when poked)."""
        interval = min(self.settings.trainer_lease_seconds / 3, self.settings.trainer_poll_seconds)

        async def heartbeat() -> None:
            while not job.lost:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(job.poke.wait(), interval)
                job.poke.clear()
                try:
                    requests = await self.jobs.renew(job.job_id, job.phase, job.step)
                except NotOurs:
                    log.warning("the job is no longer ours; stopping it here", job=job.job_id)
                    job.lost = True
                    return
                except Exception as exc:  # noqa: BLE001 - the database may be briefly away
                    log.warning("lease not renewed; will retry", job=job.job_id, error=repr(exc))
                    continue
                job.requested, job.cancel_reason = requests.requested, requests.cancel_reason

        task = asyncio.create_task(heartbeat(), name=f"lease-{job.job_id}")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- one job -------------------------------------------------------------------------------
    async def execute(self, claim: Claim) -> None:
        command = claim.command
        log.info("training job claimed", job=command.job_id, attempt=claim.attempt)
        if claim.attempt > self.settings.trainer_max_attempts:
            await self.fail(
                command,
                "worker_crashed",
                f"the job was claimed {self.settings.trainer_max_attempts} times without finishing: its "
                "workers died, lost their lease or could not reach NATS each time",
                ["look at the trainer's logs for the cause (a worker killed for memory leaves no traceback)"],
            )
            return
        if claim.requested == "cancel":
            await self.finish(command.job_id, CANCELLED, [events.cancelled(command, claim.cancel_reason)])
            return
        if claim.requested == "pause":  # its worker died before the pause took effect
            stored = await self.ledger.checkpoints(command.job_id)
            step = stored[0].step if stored else 0
            await self.finish(command.job_id, PAUSED, [events.paused(command, step)], step=step)
            return
        job = ActiveJob(command, claim.attempt)
        work = self.settings.resolved_work_dir() / command.job_id
        await asyncio.to_thread(shutil.rmtree, work, True)  # what a crashed worker left here
        self.active = job
        try:
            async with self.lease(job):
                await self.run_job(job, work)
        finally:
            self.active = None
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def run_job(self, job: ActiveJob, work: Path) -> None:
        command = job.command
        try:
            prepared = await prepare(self.runtime.objects, self.ledger, self.settings, command, work)
        except TrainingError as exc:
            await self.fail(command, exc.code, exc.reason, exc.suggestions)
            return
        except Exception:
            log.exception("could not prepare the job; it is retried when its lease runs out", job=job.job_id)
            job.lost = True  # stop renewing
            return
        job.resumed_phase = prepared.resumed.phase if prepared.resumed else None  # type: ignore[assignment]
        try:
            outcome = await self.train_in_thread(prepared.spec, job, work)
        except TrainingStopped as stop:
            await self.stopped(job, stop)
            return
        except TrainingError as exc:
            if not await self.interrupted(job, exc):
                await self.fail(command, exc.code, exc.reason, exc.suggestions)
            return
        except Exception as exc:
            if not await self.interrupted(job, exc):
                log.error("training failed unexpectedly", job=job.job_id, exc_info=exc)
                reason = f"training failed: {type(exc).__name__}: {str(exc).strip()[:1500] or 'no message'}"
                await self.fail(command, "training_error", reason, ["the trainer's log has the traceback"])
            return
        if job.lost:
            log.info("dropped the outcome of a job another worker took over", job=job.job_id)
            return
        try:
            await self.deliver(command, prepared.base, outcome, work)
        except NotOurs:
            log.info("dropped the outcome of a job another worker took over", job=job.job_id)
        except Exception:
            log.exception(
                "could not deliver the adapter; the job is retried when its lease runs out", job=job.job_id
            )
            job.lost = True

    async def interrupted(self, job: ActiveJob, exc: BaseException) -> bool:
        """Whether the training ended because of this worker, not the job (then it is handed on)."""
        if job.lost or isinstance(exc, NotOurs):
            log.info("stopped a job another worker took over", job=job.job_id)
            return True
        if job.shutdown:
            await self.jobs.release(job.job_id)
            log.info("training job handed back for another worker", job=job.job_id)
            return True
        if job.storage_failed:
            log.warning(
                "a checkpoint could not be stored; the job is retried", job=job.job_id, error=repr(exc)
            )
            job.lost = True  # stop renewing: claimed again when the lease runs out
            return True
        return False

    async def stopped(self, job: ActiveJob, stop: TrainingStopped) -> None:
        if await self.interrupted(job, stop):
            return
        if stop.kind == "pause":
            await self.finish(
                job.job_id, PAUSED, [events.paused(job.command, stop.step)], phase=stop.phase, step=stop.step
            )
        else:
            await self.finish(job.job_id, CANCELLED, [events.cancelled(job.command, job.cancel_reason)])

    async def train_in_thread(self, spec: TrainSpec, job: ActiveJob, work: Path) -> Outcome:
        """``self.train`` in the training thread; on shutdown it stops at its next step."""
        loop = asyncio.get_running_loop()
        hooks = JobHooks(
            job, self, loop, work / "uploads", progress_interval=self.settings.trainer_progress_seconds
        )
        future = loop.run_in_executor(self._executor, self.train, spec, hooks)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            job.shutdown = True
            log.info("stopping: the training ends at its next step", job=spec.job_id)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(future), self.settings.graceful_timeout)
            with contextlib.suppress(Exception):
                await self.jobs.release(spec.job_id)
            raise

    # -- the hooks' work (on the loop, called from the training thread) -------------------------
    async def job_started(
        self, job: ActiveJob, device: str, hyperparameters: Mapping[str, Any], resumed_step: int | None
    ) -> None:
        event = events.started(
            job.command, self.owner, device, hyperparameters, resumed_step, job.resumed_phase
        )
        try:
            ids = await self.jobs.record_started(job.job_id, device, dict(event.hyperparameters), event)
        except NotOurs:
            job.lost = True
            raise
        await self.runtime.outbox.publish(ids)

    async def job_progress(self, job: ActiveJob, report: Progress) -> None:
        await self.runtime.publisher.publish(events.progress(job.command, report))

    async def store_checkpoint(self, job: ActiveJob, checkpoint: Checkpoint, archive: Path) -> None:
        """Upload, record in the ledger (with ``JobCheckpointed``), then apply retention."""
        if not await self.jobs.holds(job.job_id):
            job.lost = True
            raise NotOurs(job.job_id)
        name = checkpoint_object(job.job_id, checkpoint.phase, checkpoint.step, checkpoint.final)
        stored = await self.runtime.objects.put_file(
            CHECKPOINTS_BUCKET.name, name, archive, headers={"Skill-Adapter-Job": job.job_id}
        )
        digest = stored.digest or await asyncio.to_thread(sha256_file, archive)
        event = events.checkpointed(job.command, checkpoint, name, digest)
        try:
            ids = await self.jobs.record_checkpoint(
                job.job_id,
                checkpoint,
                object_name=name,
                digest=digest,
                size=stored.size,
                metrics=event.metrics,
                event=event,
            )
        except NotOurs:
            job.lost = True
            raise
        await self.runtime.outbox.publish(ids)
        log.info("checkpoint stored", job=job.job_id, object_name=name, bytes=stored.size)
        deleted = await self.ledger.apply_retention(job.job_id, self.settings.trainer_keep_checkpoints)
        if deleted:
            log.info("older checkpoints deleted", job=job.job_id, deleted=deleted)

    # -- endings -------------------------------------------------------------------------------
    async def deliver(self, command: StartJob, base: ModelInfo, outcome: Outcome, work: Path) -> None:
        """Preflight, store and announce the adapter."""
        problems = await asyncio.to_thread(preflight_adapter, outcome.adapter_dir, base)
        if problems:
            await self.fail(
                command,
                "adapter_not_servable",
                "the adapter cannot be served: " + "; ".join(problem.message for problem in problems),
                [
                    "train with values vLLM serves: lora_r one of 8, 16, 32, 64, 128, 256, and no lm_head "
                    "or embed_tokens in target_modules"
                ],
            )
            return
        adapter_id = adapter_id_for(command)
        name = adapter_object(adapter_id)
        archive = await asyncio.to_thread(pack_folder, outcome.adapter_dir, work / "adapter.zip")
        if not await self.jobs.holds(command.job_id):
            raise NotOurs(command.job_id)
        stored = await self.runtime.objects.put_file(
            ADAPTERS_BUCKET.name, name, archive, headers={"Skill-Adapter-Job": command.job_id}
        )
        digest = stored.digest or await asyncio.to_thread(sha256_file, archive)
        manifest = await asyncio.to_thread(read_adapter_manifest, outcome.adapter_dir)
        rank = manifest.rank if manifest is not None else int(outcome.hyperparameters.get("lora_r", 1) or 1)
        registered, succeeded = events.succeeded(
            command, base, outcome, adapter_id=adapter_id, object_name=name, digest=digest, rank=rank
        )
        await self.finish(
            command.job_id,
            SUCCEEDED,
            [registered, succeeded],
            adapter_id=adapter_id,
            adapter_object=name,
            adapter_digest=digest,
        )

    async def fail(
        self, command: StartJob, code: str, reason: str, suggestions: list[str] | None = None
    ) -> None:
        log.warning("training job failed", job=command.job_id, code=code, reason=reason)
        event = events.failed(command, code, reason, suggestions, final=True)
        await self.finish(command.job_id, FAILED, [event], code=code, reason=reason)

    async def finish(self, job_id: str, status: str, caused: list[Message], **fields: Any) -> bool:
        """The job's last transition here, with its events; dropped when the job is no longer ours."""
        if status == CANCELLED:
            fields.setdefault("reason", next((getattr(e, "reason", None) for e in caused), None))
        try:
            ids = await self.jobs.finish(job_id, status, caused, **fields)
        except NotOurs:
            log.warning("the job is no longer ours; outcome dropped", job=job_id, status=status)
            return False
        await self.runtime.outbox.publish(ids)
        log.info("training job " + ("paused" if status == PAUSED else "ended"), job=job_id, status=status)
        return True
