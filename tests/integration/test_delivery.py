"""Delivery guarantees of the runtime against a real nats-server and a real database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext
from sqlalchemy import text

from skill_adapter.contracts import DatasetProgress
from skill_adapter.runtime import RuntimeSettings
from skill_adapter.runtime.db import create_engine
from tests.support.helpers import dead_letters_for, eventually, ingest
from tests.support.probe_service import build

pytestmark = pytest.mark.integration


@pytest.fixture
async def probe(nats_url: str, sqlite_url: str, tmp_path, unique: str) -> AsyncIterator[dict]:
    service = build(f"probe-{unique}", max_deliver=3, ack_wait=5.0, backoff=(0.2, 0.2))
    settings = RuntimeSettings(nats_url=nats_url, database_url=sqlite_url, state_dir=tmp_path)
    app = service.create_app(settings)
    await app.start()
    engine = create_engine(sqlite_url)
    try:
        yield {"service": service, "engine": engine, "consumer": service.handlers[0].consumer.durable}
    finally:
        await app.stop()
        await engine.dispose()


async def effects(engine, event_id: str) -> int:
    async with engine.connect() as conn:
        try:
            return (
                await conn.execute(text("SELECT count(*) FROM effects WHERE event_id = :e"), {"e": event_id})
            ).scalar_one()
        except Exception:
            return 0


async def test_duplicate_publish_is_stored_once(js: JetStreamContext, probe: dict) -> None:
    from skill_adapter.runtime import Publisher

    publisher = Publisher(js)
    command = ingest(f"dup-{uuid.uuid4().hex}")
    first = await publisher.publish(command)
    second = await publisher.publish(command)
    assert not first.duplicate
    assert second.duplicate
    assert second.seq == first.seq
    await eventually(lambda: effects(probe["engine"], command.event_id), what="the effect")
    await asyncio.sleep(0.5)
    assert await effects(probe["engine"], command.event_id) == 1


async def test_handler_result_is_published_with_its_event_id(js: JetStreamContext, probe: dict, nc) -> None:
    from skill_adapter.runtime import Publisher

    received: list = []

    async def collect(msg) -> None:
        received.append(msg)

    sub = await nc.subscribe(DatasetProgress.SUBJECT, cb=collect)
    command = ingest(f"ok-{uuid.uuid4().hex}")
    await Publisher(js).publish(command)

    async def reply():
        return [m for m in received if json.loads(m.data)["causation_id"] == command.event_id]

    [msg] = await eventually(reply, what="DatasetProgress caused by the command")
    event = DatasetProgress.model_validate_json(msg.data)
    assert event.correlation_id == command.correlation_id
    assert msg.headers["Nats-Msg-Id"] == event.event_id
    await sub.unsubscribe()


async def test_failing_handler_is_retried_then_dead_lettered(js: JetStreamContext, probe: dict) -> None:
    from skill_adapter.runtime import Publisher

    command = ingest("fail", correlation=f"fail-{uuid.uuid4().hex}")
    await Publisher(js).publish(command)

    async def letters():
        return [
            d for d in await dead_letters_for(js, probe["consumer"]) if d.original_msg_id == command.event_id
        ]

    [letter] = await eventually(letters, what="the dead letter")
    assert letter.deliveries == 3
    assert letter.error_kind == "handler_error"
    assert "probe failure on delivery 3" in letter.error
    assert letter.subject == command.SUBJECT
    assert json.loads(letter.payload)["event_id"] == command.event_id
    assert await effects(probe["engine"], command.event_id) == 0


async def test_invalid_payload_is_dead_lettered_and_does_not_block(js: JetStreamContext, probe: dict) -> None:
    from skill_adapter.runtime import Publisher

    bad_id = uuid.uuid4().hex
    await js.publish(
        "skills.cmd.skill.ingest.v1",
        json.dumps({"event_id": bad_id, "object_name": "x"}).encode(),
        headers={"Nats-Msg-Id": bad_id},
    )
    good = ingest(f"after-bad-{uuid.uuid4().hex}")
    await Publisher(js).publish(good)
    await eventually(lambda: effects(probe["engine"], good.event_id), what="the good message's effect")

    async def letters():
        return [d for d in await dead_letters_for(js, probe["consumer"]) if d.original_msg_id == bad_id]

    [letter] = await eventually(letters, what="the invalid message's dead letter")
    assert letter.error_kind == "validation"
    assert letter.deliveries == 1
    assert "correlation_id" in letter.error and "Field required" in letter.error


async def test_reject_dead_letters_without_retrying(js: JetStreamContext, probe: dict) -> None:
    from skill_adapter.runtime import Publisher

    command = ingest("reject", correlation=f"rej-{uuid.uuid4().hex}")
    await Publisher(js).publish(command)

    async def letters():
        return [
            d for d in await dead_letters_for(js, probe["consumer"]) if d.original_msg_id == command.event_id
        ]

    [letter] = await eventually(letters, what="the dead letter")
    assert letter.deliveries == 1
    assert letter.error_kind == "rejected"
    assert "can never work" in letter.error


async def test_shutdown_lets_the_message_in_flight_finish(
    js: JetStreamContext, nats_url: str, sqlite_url: str, tmp_path, unique: str, monkeypatch
) -> None:
    from skill_adapter.runtime import Publisher

    monkeypatch.setenv("PROBE_MARKERS", str(tmp_path))
    service = build(f"graceful-{unique}")
    app = service.create_app(
        RuntimeSettings(nats_url=nats_url, database_url=sqlite_url, state_dir=tmp_path, graceful_timeout=10)
    )
    await app.start()
    engine = create_engine(sqlite_url)
    try:
        command = ingest(f"slow-{unique}")
        await Publisher(js).publish(command)
        marker = tmp_path / f"slow-{command.event_id}"

        async def started() -> bool:
            return marker.exists()

        await eventually(started, what="the slow handler to start")
        await app.stop()  # what SIGTERM does
        assert await effects(engine, command.event_id) == 1
        info = await js.consumer_info("SKILLS", service.handlers[0].consumer.durable)
        assert info.num_ack_pending == 0 and info.num_redelivered == 0
    finally:
        await engine.dispose()


async def test_a_drifted_consumer_is_handled_with_its_live_limits(
    js: JetStreamContext, nats_url: str, sqlite_url: str, tmp_path, unique: str
) -> None:
    """Provisioning reports drift and changes nothing; the service then retries as often as the
    server will deliver, and dead-letters on the server's last delivery, not its own idea of it."""
    from skill_adapter.contracts import STREAMS
    from skill_adapter.runtime import Publisher
    from skill_adapter.runtime.provisioning import consumer_config, provision

    service = build(f"drift-{unique}", max_deliver=5, backoff=(0.1,))
    spec = service.handlers[0].consumer
    await provision(js, STREAMS, [spec.model_copy(update={"max_deliver": 2})])  # an older deployment's limit
    app = service.create_app(RuntimeSettings(nats_url=nats_url, database_url=sqlite_url, state_dir=tmp_path))
    await app.start()
    try:
        assert (await js.consumer_info(spec.stream, spec.durable)).config.max_deliver == 2
        assert service.handlers[0].consumer.max_deliver == 2
        command = ingest("fail", correlation=f"drift-{unique}")
        await Publisher(js).publish(command)

        async def letters():
            return [
                d for d in await dead_letters_for(js, spec.durable) if d.original_msg_id == command.event_id
            ]

        [letter] = await eventually(letters, what="the dead letter")
        assert (letter.deliveries, letter.error_kind) == (2, "handler_error")
        assert consumer_config(spec).max_deliver == 5  # the code's wish is unchanged
    finally:
        await app.stop()
