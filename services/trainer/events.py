"""The events a job causes, built from its command and what the training reported.

Every event of a job carries the job id as ``correlation_id``'s subject and the command's
``event_id`` as ``causation_id``. The final events have ids derived from the job (``uuid5``),
so an outcome staged twice (which the job row's single transition from ``running`` already
prevents) would still be one message: the outbox has a unique ``event_id`` and the stream
de-duplicates ``Nats-Msg-Id``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import Any

from skill_adapter.contracts import (
    AdapterRegistered,
    JobCancelled,
    JobCheckpointed,
    JobFailed,
    JobPaused,
    JobProgress,
    JobStarted,
    JobSucceeded,
    Message,
    StartJob,
)
from skill_adapter.modelstore import ModelInfo

from .core import Checkpoint, Outcome, Phase, Progress

PRODUCER = "trainer"
EVENT_IDS = uuid.UUID("5b0d6a52-31f4-4c4e-9a0c-6f1d7c1e2a90")


def event_id(job_id: str, kind: str) -> str:
    return str(uuid.uuid5(EVENT_IDS, f"{job_id}/{kind}"))


def finite(values: Mapping[str, Any]) -> dict[str, float]:
    """The numbers JSON can carry (NaN and infinities are left out)."""
    return {
        key: float(value)
        for key, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def hyperparameter_values(values: Mapping[str, Any]) -> dict[str, int | float | str | bool]:
    return {
        key: value if isinstance(value, int | float | str | bool) else str(value)
        for key, value in values.items()
        if value is not None and not (isinstance(value, float) and not math.isfinite(value))
    }


def caused(command: StartJob, cause: Message | None = None) -> dict[str, Any]:
    """The envelope of an event of ``command``'s job, caused by ``cause`` (default: the command)."""
    return {
        "producer": PRODUCER,
        "correlation_id": command.correlation_id,
        "causation_id": (cause or command).event_id,
        "job_id": command.job_id,
    }


def started(
    command: StartJob,
    worker_id: str,
    device: str,
    hyperparameters: Mapping[str, Any],
    resumed_step: int | None,
    resumed_phase: Phase | None,
) -> JobStarted:
    return JobStarted(
        **caused(command),
        worker_id=worker_id,
        device=device,
        resumed_from_step=resumed_step,
        resumed_from_phase=resumed_phase if resumed_step is not None else None,
        hyperparameters=hyperparameter_values(hyperparameters),
    )


def progress(command: StartJob, report: Progress) -> JobProgress:
    optional = finite(
        {
            "loss": report.loss,
            "reward_mean": report.reward_mean,
            "reward_std": report.reward_std,
            "learning_rate": report.learning_rate,
            "tokens_per_second": report.tokens_per_second,
            "eta_seconds": report.eta_seconds,
        }
    )
    return JobProgress(
        **caused(command),
        phase=report.phase,
        step=max(0, report.step),
        total_steps=max(0, report.total_steps),
        epoch=max(0.0, report.epoch) if math.isfinite(report.epoch) else 0.0,
        **optional,
    )


def checkpointed(command: StartJob, checkpoint: Checkpoint, object_name: str, digest: str) -> JobCheckpointed:
    return JobCheckpointed(
        **caused(command),
        step=checkpoint.step,
        object_name=object_name,
        digest=digest,
        metrics=finite(checkpoint.metrics),
        phase=checkpoint.phase,
        final=checkpoint.final,
    )


def paused(command: StartJob, step: int, cause: Message | None = None) -> JobPaused:
    return JobPaused(**caused(command, cause), step=max(0, step))


def cancelled(command: StartJob, reason: str | None, cause: Message | None = None) -> JobCancelled:
    return JobCancelled(**caused(command, cause), reason=reason)


def failed(
    command: StartJob, code: str, reason: str, suggestions: list[str] | None = None, *, final: bool = False
) -> JobFailed:
    """``final``: the job's own end (an id derived from the job); otherwise a refused command."""
    ids = {"event_id": event_id(command.job_id, "failed")} if final else {}
    return JobFailed(**caused(command), **ids, code=code, reason=reason, suggestions=list(suggestions or []))


def succeeded(
    command: StartJob,
    base: ModelInfo,
    outcome: Outcome,
    *,
    adapter_id: str,
    object_name: str,
    digest: str,
    rank: int,
) -> tuple[AdapterRegistered, JobSucceeded]:
    """``AdapterRegistered`` and ``JobSucceeded``: staged together, in this order."""
    envelope = {k: v for k, v in caused(command).items() if k != "job_id"}
    registered = AdapterRegistered(
        **envelope,
        event_id=event_id(command.job_id, "adapter-registered"),
        adapter_id=adapter_id,
        base_model=base.id,
        skill_name=command.skill_name,
        skill_version=command.skill_version,
        job_id=command.job_id,
        object_name=object_name,
        digest=digest,
        rank=rank,
        chat_template_hash=base.chat_template_sha256,
        dataset_object=command.dataset_object,
        dataset_digest=command.dataset_digest,
    )
    done = JobSucceeded(
        **caused(command),
        event_id=event_id(command.job_id, "succeeded"),
        adapter_object=object_name,
        adapter_digest=digest,
        adapter_id=adapter_id,
        trained_tokens=max(0, int(outcome.trained_tokens)),
        metrics=finite(outcome.metrics),
    )
    return registered, done
