"""Provisioning is idempotent and reports drift without changing anything unless told to."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext

from skill_adapter.contracts import ConsumerSpec, StreamSpec
from skill_adapter.runtime.provisioning import ensure_consumer, ensure_stream, provision

pytestmark = pytest.mark.integration


def plain(value: object) -> object:
    return getattr(value, "value", value)


async def test_stream_created_once_then_unchanged(js: JetStreamContext, unique: str) -> None:
    spec = StreamSpec(name=f"T{unique.upper()}", subjects=(f"t{unique}.>",))
    assert (await ensure_stream(js, spec)).action == "created"
    assert (await ensure_stream(js, spec)).action == "unchanged"
    info = await js.stream_info(spec.name)
    assert plain(info.config.discard) == "new"
    assert plain(info.config.storage) == "file"
    assert info.config.duplicate_window == pytest.approx(600)


async def test_conflicting_stream_is_reported_and_left_alone_unless_applied(
    js: JetStreamContext, unique: str
) -> None:
    spec = StreamSpec(name=f"T{unique.upper()}", subjects=(f"t{unique}.>",), max_msgs=1000)
    await ensure_stream(js, spec)
    wanted = spec.model_copy(update={"max_msgs": 5000, "max_age_seconds": 3600.0})

    report = await ensure_stream(js, wanted)
    assert report.action == "drifted"
    assert {d.field for d in report.drift} == {"max_msgs", "max_age"}
    assert "max_msgs: expected 5000, found 1000" in report.describe()
    assert (await js.stream_info(spec.name)).config.max_msgs == 1000  # untouched

    applied = await ensure_stream(js, wanted, apply=True)
    assert applied.action == "updated"
    assert (await js.stream_info(spec.name)).config.max_msgs == 5000
    assert (await ensure_stream(js, wanted)).action == "unchanged"


async def test_impossible_change_fails_with_the_servers_reason(js: JetStreamContext, unique: str) -> None:
    spec = StreamSpec(name=f"T{unique.upper()}", subjects=(f"t{unique}.>",))
    await ensure_stream(js, spec)
    result = await ensure_stream(js, spec.model_copy(update={"storage": "memory"}), apply=True)
    assert result.action == "failed"
    assert result.error


async def test_consumer_drift_reported_then_applied(js: JetStreamContext, unique: str) -> None:
    stream = StreamSpec(name=f"T{unique.upper()}", subjects=(f"t{unique}.>",))
    consumer = ConsumerSpec(
        stream=stream.name, durable=f"svc_{unique}", filter_subjects=(f"t{unique}.cmd.a.b.v1",)
    )
    results = await provision(js, [stream], [consumer])
    assert [r.action for r in results] == ["created", "created"]
    assert [r.action for r in await provision(js, [stream], [consumer])] == ["unchanged", "unchanged"]

    changed = consumer.model_copy(update={"max_deliver": 9, "ack_wait_seconds": 120.0})
    report = await ensure_consumer(js, changed)
    assert report.action == "drifted"
    assert {d.field for d in report.drift} == {"max_deliver", "ack_wait"}
    assert (await js.consumer_info(stream.name, consumer.durable)).config.max_deliver == 5

    assert (await ensure_consumer(js, changed, apply=True)).action == "updated"
    info = await js.consumer_info(stream.name, consumer.durable)
    assert info.config.max_deliver == 9
    assert plain(info.config.ack_policy) == "explicit"
