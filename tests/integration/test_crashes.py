"""What survives a crash: a consumer process killed with SIGKILL, a nats-server killed with
SIGKILL, a worker that never gets to answer."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy import text

from skill_adapter.contracts import STREAMS, DatasetProgress, StreamSpec
from skill_adapter.runtime import Publisher, RuntimeSettings
from skill_adapter.runtime.db import create_engine
from skill_adapter.runtime.nats_server import EmbeddedNats
from skill_adapter.runtime.provisioning import provision
from tests.support.helpers import dead_letters_for, eventually, ingest
from tests.support.probe_service import build

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def start_worker(
    name: str, nats_url: str, db_url: str, markers: Path, *, hang_before_ack: bool
) -> subprocess.Popen:
    env = {
        **os.environ,
        "NATS_URL": nats_url,
        "DATABASE_URL": db_url,
        "PROBE_MARKERS": str(markers),
        "PROBE_ACK_WAIT": "2",
        "PROBE_HANG_BEFORE_ACK": "1" if hang_before_ack else "0",
        "SKILL_ADAPTER_STATE_DIR": str(markers),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.probe_service", name],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(markers / f"worker-{uuid.uuid4().hex[:6]}.log", "wb"),
    )


async def wait_for_consumer(js: JetStreamContext, durable: str) -> None:
    async def pulling() -> bool:
        try:
            info = await js.consumer_info("SKILLS", durable)
        except nats.js.errors.NotFoundError:
            return False
        return info.num_waiting > 0

    await eventually(pulling, what=f"{durable} pulling", timeout=30)


async def count_effects(db_url: str, event_id: str) -> int:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                text("SELECT count(*) FROM effects WHERE event_id = :e"), {"e": event_id}
            )
            return int(result.scalar_one())
    except Exception:
        return 0
    finally:
        await engine.dispose()


async def settled(js: JetStreamContext, durable: str) -> bool:
    info = await js.consumer_info("SKILLS", durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


@pytest.mark.parametrize("moment", ["after-commit-before-ack", "mid-handler"])
async def test_consumer_killed_mid_message_gets_it_again_and_the_effect_happens_once(
    moment: str, js: JetStreamContext, nats_url: str, tmp_path: Path, unique: str
) -> None:
    name = f"crash-{unique}"
    durable = build(name).handlers[0].consumer.durable
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    first = start_worker(
        name, nats_url, db_url, tmp_path, hang_before_ack=moment == "after-commit-before-ack"
    )
    second = None
    try:
        await wait_for_consumer(js, durable)
        command = ingest("hang-once" if moment == "mid-handler" else f"commit-{unique}")
        await Publisher(js).publish(command)

        marker = tmp_path / (
            "committed" if moment == "after-commit-before-ack" else f"hang-{command.event_id}"
        )

        async def reached() -> bool:
            return marker.exists()

        await eventually(reached, what=f"the worker to reach {moment}")
        expected_before = 1 if moment == "after-commit-before-ack" else 0
        assert await count_effects(db_url, command.event_id) == expected_before
        first.send_signal(signal.SIGKILL)
        first.wait(10)

        second = start_worker(name, nats_url, db_url, tmp_path, hang_before_ack=False)
        await eventually(lambda: settled(js, durable), what="the redelivered message to be acked", timeout=30)
        assert await count_effects(db_url, command.event_id) == 1

        # What the handler caused is published exactly once, whichever process sent it.
        replies = await js.pull_subscribe(DatasetProgress.SUBJECT, stream="DATASETS")
        found = []
        while True:
            try:
                batch = await replies.fetch(100, timeout=1)
            except nats.errors.TimeoutError:
                break
            for msg in batch:
                if b'"causation_id":"' + command.event_id.encode() in msg.data:
                    found.append(msg)
                await msg.ack()
        await replies.unsubscribe()
        assert len(found) == 1
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(15)


async def test_nats_server_killed_keeps_every_acknowledged_message(tmp_path: Path) -> None:
    """SIGKILL loses the process, not the page cache, so this shows the store recovers; power
    loss is what ``sync_interval: always`` (set by the embedded config) protects against."""
    server = EmbeddedNats(tmp_path).start()
    assert "sync_interval: always" in server.config_file.read_text()
    spec: StreamSpec = STREAMS[0]
    nc = await nats.connect(server.url, max_reconnect_attempts=0)
    js = nc.jetstream(timeout=10)
    await provision(js, [spec])
    acked = []
    for i in range(300):
        command = ingest(f"durable-{i}")
        ack = await Publisher(js).publish(command)
        acked.append((ack.seq, command.event_id))
    await nc.close()
    port = server.port
    server.kill()

    restarted = EmbeddedNats(tmp_path, port=port).start()
    try:
        nc = await nats.connect(restarted.url)
        js = nc.jetstream(timeout=10)
        info = await js.stream_info(spec.name)
        assert info.state.messages == len(acked)
        for seq, event_id in acked:
            msg = await js.get_msg(spec.name, seq=seq)
            assert msg.headers["Nats-Msg-Id"] == event_id
        await nc.close()
    finally:
        restarted.stop()


async def test_message_exhausted_by_crashing_workers_is_dead_lettered(
    js: JetStreamContext, nats_url: str, sqlite_url: str, tmp_path: Path, unique: str
) -> None:
    """No handler ever answers (every worker 'dies' holding it): the max-deliveries advisory,
    kept in the ADVISORIES stream, lets the service dead-letter it once it is back."""
    service = build(f"exhaust-{unique}", max_deliver=2, ack_wait=1.0)
    spec = service.handlers[0].consumer
    await provision(js, [s for s in STREAMS], service.consumers())
    command = ingest(f"never-acked-{unique}")
    sub = await js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
    await Publisher(js).publish(command)
    for _ in range(2):  # two deliveries, neither acknowledged
        [msg] = await sub.fetch(1, timeout=5)
        assert msg.headers["Nats-Msg-Id"] == command.event_id
    await asyncio.sleep(1.5)  # ack_wait passes; the server gives up and advises
    await sub.unsubscribe()

    app = service.create_app(RuntimeSettings(nats_url=nats_url, database_url=sqlite_url, state_dir=tmp_path))
    await app.start()
    try:

        async def letters():
            return [
                d for d in await dead_letters_for(js, spec.durable) if d.original_msg_id == command.event_id
            ]

        [letter] = await eventually(letters, what="the exhausted message's dead letter")
        assert letter.error_kind == "max_deliveries"
        assert letter.deliveries == 2
        assert letter.sequence > 0
        assert b'"object_name":"never-acked-' in letter.payload
    finally:
        await app.stop()
