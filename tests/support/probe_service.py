"""A real service used by the reliability tests: it records each command it handles in an
``effects`` table (in the handler's transaction) and answers with an event (DatasetProgress).

Behaviour is steered by the command's ``object_name``: ``fail`` always raises; ``slow-*``
writes a marker, then takes 1.5 s; ``reject`` raises Reject; ``hang-once``, the first time,
writes a marker file and blocks forever (so a test can kill the process mid-message);
anything else (and ``hang-once`` after the first time) succeeds.

Run as a process: ``python -m tests.support.probe_service <service-name>`` with NATS_URL,
DATABASE_URL and PROBE_MARKERS (a directory) in the environment. ``PROBE_HANG_BEFORE_ACK=1``
makes the process block after its commit and before its ack, the worst moment to die.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import text

from skill_adapter.contracts import DatasetProgress, IngestSkill
from skill_adapter.runtime import HandlerContext, Reject, RuntimeSettings, Service, run_service

CREATE_EFFECTS = text(
    "CREATE TABLE IF NOT EXISTS effects (event_id VARCHAR(128), service VARCHAR(128), note VARCHAR(256))"
)


def build(
    name: str, *, max_deliver: int = 3, ack_wait: float = 5.0, backoff: tuple[float, ...] = (0.2,)
) -> Service:
    service = Service(name, description="reliability probe")
    markers = Path(os.environ.get("PROBE_MARKERS", "/tmp"))

    # deliver_policy="new": tests share one server, and a probe should not replay the others.
    @service.handles(
        IngestSkill,
        purpose="probe",
        max_deliver=max_deliver,
        ack_wait=ack_wait,
        backoff=backoff,
        deliver_policy="new",
    )
    async def handle(command: IngestSkill, ctx: HandlerContext) -> DatasetProgress:
        """Record the command once and answer with an event (any event does for the probe)."""
        await ctx.session.execute(CREATE_EFFECTS)
        if command.object_name == "fail":
            raise RuntimeError(f"probe failure on delivery {ctx.delivery}")
        if command.object_name == "reject":
            raise Reject("probe says this can never work")
        if command.object_name.startswith("slow-"):
            (markers / f"slow-{command.event_id}").write_text("started")
            await asyncio.sleep(1.5)
        marker = markers / f"hang-{command.event_id}"
        if command.object_name == "hang-once" and not marker.exists():
            marker.write_text(str(os.getpid()))
            await asyncio.Event().wait()
        await ctx.session.execute(
            text("INSERT INTO effects (event_id, service, note) VALUES (:e, :s, :n)"),
            {"e": command.event_id, "s": name, "n": command.object_name},
        )
        return DatasetProgress(
            **command.caused(),
            producer=name,
            dataset_id=command.object_name,
            stage="probe",
            done=1,
            total=1,
        )

    return service


def _hang_before_ack(markers: Path) -> None:
    from nats.aio.msg import Msg

    async def hang(self: Msg, timeout: float = 1.0) -> Msg:
        (markers / "committed").write_text(str(os.getpid()))
        await asyncio.Event().wait()
        return self

    Msg.ack_sync = hang  # type: ignore[method-assign]


if __name__ == "__main__":
    markers = Path(os.environ["PROBE_MARKERS"])
    if os.environ.get("PROBE_HANG_BEFORE_ACK") == "1":
        _hang_before_ack(markers)
    name = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PROBE_NAME", "probe")
    run_service(build(name, ack_wait=float(os.environ.get("PROBE_ACK_WAIT", "5"))), RuntimeSettings())
