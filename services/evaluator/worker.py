"""Runs claimed from the database, evaluated, reported, gated and announced.

The handlers only record a run; this worker does the long part outside any message: it claims
a queued run (or one whose lease ran out: its worker died), renews the lease while it works,
stores the reports in the ``evaluations`` bucket, and ends the run in one transaction that also
stages its events (completed or failed; promoted and retired when the gate says so) in the
outbox. A run that stopped half-way keeps its reports, labelled partial, and is never promoted.

A cancel (``CancelEvaluation``) marks a running run in the database, so it reaches the worker
that holds it wherever that runs: the worker reads the mark every poll interval (at once when
the cancel was handled in its own process) and stops the evaluation there, generations in flight
included. The run ends as ``evaluation.failed`` with code ``cancelled`` and never promotes: it
only ends otherwise with a conditional update that a cancel mark refuses, so a cancel landing
as the reports are stored still wins.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from skill_adapter.contracts import (
    AdapterPromoted,
    AdapterRetired,
    EvaluationCompleted,
    EvaluationFailed,
    EvaluationProgress,
    EvaluationSummary,
    Message,
    StartEvaluation,
)
from skill_adapter.runtime import ServiceRuntime
from skill_adapter.runtime.cancels import CancelWatcher, cancel_reason
from skill_adapter.runtime.inbox import stage
from skill_adapter.runtime.leases import LeasedWorker
from skill_adapter.runtime.log import get_logger

from .evaluation import CANCELLED, Evaluation, Outcome, RunCancelled
from .models import RUNS, EvaluationRun, KnownAdapter, Promotion
from .settings import EvaluatorSettings

log = get_logger(__name__)

PRODUCER = "evaluator"
MAX_ATTEMPTS = 3
EVENT_IDS = uuid.UUID("6d1f6a52-3f0e-4f43-9b8e-0e6f5a4c2b17")


def event_id(run_id: str, kind: str) -> str:
    """Ids of a run's own events derive from the run: a run that ends twice publishes once."""
    return str(uuid.uuid5(EVENT_IDS, f"{run_id}/{kind}"))


class Worker(LeasedWorker[EvaluationRun, StartEvaluation]):
    def __init__(self, runtime: ServiceRuntime, settings: EvaluatorSettings) -> None:
        super().__init__(
            RUNS,
            StartEvaluation,
            runtime.sessions,
            lease_seconds=settings.eval_lease_seconds,
            poll_seconds=settings.eval_poll_seconds,
            name="evaluation worker",
            log=log,
        )
        self.runtime = runtime
        self.settings = settings
        self.cancels = CancelWatcher(runtime.sessions, RUNS, settings.eval_poll_seconds, RunCancelled)

    def poke(self, run_id: str) -> None:
        """A cancel for ``run_id`` was recorded: read it now if that run is held here."""
        self.cancels.poke(run_id)

    async def execute(self, command: StartEvaluation, attempt: int) -> None:
        log.info("evaluation claimed", run=command.run_id, model=command.model, attempt=attempt)
        reason = await self.cancels.reason(command.run_id)
        if reason is not None:  # cancelled while its last worker held it, which then died
            outcome = Outcome(summary=None, code=CANCELLED, reason=reason)
        elif attempt > MAX_ATTEMPTS:
            outcome = Outcome(
                summary=None,
                code="worker_crashed",
                reason=f"the run was claimed {MAX_ATTEMPTS} times without finishing",
            )
        else:
            async with self.lease(command.run_id), self.cancels.watching(command.run_id) as watch:
                adapter = await self.known_adapter(command.model)
                incumbent = await self.incumbent(command.skill_name)
                evaluation = Evaluation(
                    self.runtime.objects,
                    self.settings,
                    command,
                    adapter,
                    incumbent,
                    self.progress(command),
                    watch,
                )
                outcome = await evaluation.run()
        await self.finish(command, outcome)

    def progress(self, command: StartEvaluation) -> Callable[[int, int], Awaitable[None]]:
        """Progress events of ``command``'s run: at most one a second, plus the first and last."""
        last = [0.0]

        async def report(done: int, total: int) -> None:
            now = time.monotonic()
            if done not in (1, total) and now - last[0] < 1.0:
                return
            last[0] = now
            event = EvaluationProgress(
                producer=PRODUCER,
                correlation_id=command.correlation_id,
                causation_id=command.event_id,
                run_id=command.run_id,
                model=command.model,
                stage="generating",
                done=done,
                total=total,
            )
            try:
                await self.runtime.publisher.publish(event)
            except Exception as exc:  # noqa: BLE001 - progress is best effort; the outcome is not
                log.warning("progress event not published", run=command.run_id, error=repr(exc))

        return report

    async def known_adapter(self, model: str) -> KnownAdapter | None:
        async with self.runtime.sessions() as session:
            row = await session.get(KnownAdapter, model)
            if row is not None:
                session.expunge(row)
            return row

    async def incumbent(self, skill_name: str) -> tuple[str, float] | None:
        async with self.runtime.sessions() as session:
            row = await session.get(Promotion, skill_name)
            return (row.adapter_id, row.pass_rate) if row is not None else None

    def events(
        self, command: StartEvaluation, outcome: Outcome, promote: bool, held_back: list[str]
    ) -> list[Message]:
        caused = {
            "producer": PRODUCER,
            "correlation_id": command.correlation_id,
            "causation_id": command.event_id,
        }
        summary = outcome.summary
        if outcome.code is not None or summary is None:
            return [
                EvaluationFailed(
                    **caused,
                    event_id=event_id(command.run_id, "failed"),
                    run_id=command.run_id,
                    reason=outcome.reason or "the evaluation failed",
                    code=outcome.code,
                    model=command.model,
                    partial=bool(summary and summary.partial),
                    summary=summary,
                    objects=list(summary.objects) if summary else [],
                )
            ]
        reasons = [*(summary.gate.reasons if summary.gate else []), *held_back]
        events: list[Message] = [
            EvaluationCompleted(
                **caused,
                event_id=event_id(command.run_id, "completed"),
                run_id=command.run_id,
                model=command.model,
                pass_rates={arm: s.overall.rate for arm, s in summary.arms.items()},
                lift=summary.lift if summary.lift is not None else 0.0,
                promoted=promote,
                reasons=reasons,
                report_object=f"{command.run_id}/summary.json" if summary.objects else None,
                skill_name=command.skill_name,
                skill_version=command.skill_version,
                internalization=summary.internalization,
                summary=summary,
                objects=list(summary.objects),
            )
        ]
        if promote:
            events.append(
                AdapterPromoted(
                    **caused,
                    event_id=event_id(command.run_id, "promoted"),
                    adapter_id=command.model,
                    skill_name=command.skill_name,
                    run_id=command.run_id,
                    reasons=reasons,
                )
            )
        return events

    @staticmethod
    def promotion(
        command: StartEvaluation,
        outcome: Outcome,
        adapter: KnownAdapter | None,
        current: Promotion | None,
    ) -> tuple[bool, list[str]]:
        """Whether this run promotes its model, and why not when the gate passed but it does not.

        Checked again at the end, in the transaction that records it: another adapter of the same
        skill may have been promoted while this run was going on.
        """
        summary = outcome.summary
        if outcome.code is not None or summary is None or summary.gate is None or not summary.gate.passed:
            return False, []
        if not command.promote:
            return False, ["not promoted: this run was not asked to promote (promote=false)"]
        if adapter is None:
            return False, [f"not promoted: {command.model} is not a registered candidate adapter"]
        rate = summary.arms["adapter"].overall.rate
        if current is not None and current.adapter_id != command.model and current.pass_rate > rate:
            return False, [
                f"not promoted: the promoted adapter {current.adapter_id} has a higher pass rate "
                f"({current.pass_rate:.3f} > {rate:.3f})"
            ]
        return True, []

    # -- the end -------------------------------------------------------------------------------
    async def finish(self, command: StartEvaluation, outcome: Outcome) -> None:
        """End the run with ``outcome``; a cancel recorded before that wins (the run ends cancelled,
        its reports kept as they are, nothing promoted)."""
        refused = await self._end(command, outcome)
        if refused is not None:
            log.info("evaluation cancelled before its outcome was recorded", run=command.run_id)
            await self._end(command, Outcome(outcome.summary, CANCELLED, refused))

    async def _end(self, command: StartEvaluation, outcome: Outcome) -> str | None:
        """Record the outcome and stage its events; the cancel reason when a cancel refused it."""
        summary = outcome.summary
        is_cancel = outcome.code == CANCELLED
        async with self.runtime.sessions() as session, session.begin():
            ended = await session.execute(
                update(EvaluationRun)
                .where(
                    EvaluationRun.run_id == command.run_id,
                    EvaluationRun.owner == self.owner,
                    EvaluationRun.status == "running",
                    *(() if is_cancel else (EvaluationRun.cancel_requested_at.is_(None),)),
                )
                .values(
                    status="failed" if outcome.code else "completed",
                    lease_until=None,
                    reason=outcome.reason,
                    summary=summary.model_dump(mode="json") if summary else None,
                )
            )
            if ended.rowcount != 1:
                if not is_cancel and (reason := await cancel_reason(session, RUNS, command.run_id)):
                    return reason
                log.warning("run no longer ours; outcome dropped", run=command.run_id)
                return None
            adapter = await session.get(KnownAdapter, command.model)
            current = await session.get(Promotion, command.skill_name)
            promote, held_back = self.promotion(command, outcome, adapter, current)
            events = self.events(command, outcome, promote, held_back)
            if promote and summary is not None:
                events.extend(self.replace_promoted(session, current, command, summary))
            staged = [stage(session, event) for event in events]
            await session.flush()
            ids = [message.id for message in staged]
        await self.runtime.outbox.publish(ids)
        log.info("evaluation finished", run=command.run_id, failed=outcome.code, promoted=promote)
        return None

    @staticmethod
    def replace_promoted(
        session: AsyncSession, current: Promotion | None, command: StartEvaluation, summary: EvaluationSummary
    ) -> list[Message]:
        """Record the new promotion; retire the skill's previous adapter (it did no better)."""
        rate = summary.arms["adapter"].overall.rate
        events: list[Message] = []
        if current is not None and current.adapter_id != command.model:
            events.append(
                AdapterRetired(
                    producer=PRODUCER,
                    correlation_id=command.correlation_id,
                    causation_id=command.event_id,
                    event_id=event_id(command.run_id, "retired"),
                    adapter_id=current.adapter_id,
                    skill_name=command.skill_name,
                    replaced_by=command.model,
                )
            )
        if current is None:
            session.add(
                Promotion(
                    skill_name=command.skill_name,
                    adapter_id=command.model,
                    pass_rate=rate,
                    run_id=command.run_id,
                )
            )
        else:
            current.adapter_id, current.pass_rate, current.run_id = command.model, rate, command.run_id
            current.promoted_at = datetime.now(UTC)
        return events
