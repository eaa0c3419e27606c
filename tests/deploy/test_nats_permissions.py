"""The NATS users of deploy/nats/auth.conf, on a real nats-server started with that config.

Each service's credentials do the service's own work (start-up provisioning checks, its durable
consumers, its events, dead letters, its buckets) and are refused everything else; the
provisioner administers streams and sends no application message. The generated file is
compared with what the code does, so the permissions cannot drift from it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from skill_adapter.contracts import BUCKETS, DEADLETTER, MESSAGES, STREAMS, Subject
from skill_adapter.runtime.deadletter import dead_letter
from skill_adapter.runtime.objects import Objects
from skill_adapter.runtime.provisioning import provision

from .conftest import ROOT_USER
from .generated import DEPLOY, permissions, real_service, service_packages
from .servers import NatsProcess

pytestmark = [pytest.mark.integration, pytest.mark.deploy]

PERMS = permissions()
SERVICES = list(PERMS.FOOTPRINTS)
BLOB = secrets.token_bytes(300 * 1024)  # several 128 KiB chunks


def test_generated_auth_files_are_current() -> None:
    assert PERMS.main(["--check"]) == 0, "run: python deploy/nats/permissions.py"
    text = (DEPLOY / "nats" / "auth.conf").read_text()
    assert (DEPLOY / "k8s" / "base" / "nats" / "auth.conf").read_text() == text
    assert not re.search(r"password:\s*\"", text), "no password may be written in the file"


def test_every_service_has_a_user_and_the_code_matches_the_scan(tmp_path: Path) -> None:
    assert sorted(footprint.package for footprint in PERMS.FOOTPRINTS.values()) == service_packages()
    bucket_names = {spec.name for spec in BUCKETS}
    for service, footprint in PERMS.FOOTPRINTS.items():
        usage = PERMS.scan(service, footprint)
        built = real_service(footprint.package, tmp_path / service)
        assert built.name == service
        assert sorted((h.consumer.filter_subjects[0], h.consumer.durable) for h in built.handlers) == (
            usage.handlers
        ), f"{service}: handlers differ from the scan"
        declared = {*footprint.reads, *footprint.writes}
        assert declared <= bucket_names, f"{service}: unknown buckets {declared - bucket_names}"
        assert usage.buckets_used <= declared, (
            f"{service} uses buckets {sorted(usage.buckets_used - declared)} its footprint does not grant"
        )
        assert usage.buckets_written <= set(footprint.writes), (
            f"{service} writes {sorted(usage.buckets_written - set(footprint.writes))}: grant it in FOOTPRINTS"
        )
        assert usage.buckets_written, (
            f"{service}: the scan finds no bucket writes (has the Objects API changed?)"
        )


class Connection:
    def __init__(self, nc: Client, errors: list[str]) -> None:
        self.nc = nc
        self.errors = errors
        self.js = nc.jetstream(timeout=5)

    def violations(self) -> list[str]:
        return [e for e in self.errors if "permissions violation" in e.lower()]

    async def refused(self, what: str, operation) -> None:
        """``operation`` fails and the server reports a permissions violation for it."""
        before = len(self.violations())
        with pytest.raises(Exception):  # noqa: B017 - a refused request times out or errors
            await operation
        for _ in range(50):
            if len(self.violations()) > before:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{what}: failed, but not with a permissions violation ({self.errors[before:]})")


@pytest.fixture
async def connect(auth_server: NatsProcess, passwords: dict[str, str]) -> AsyncIterator:
    opened: list[Client] = []

    async def open_as(user: str) -> Connection:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        nc = await nats.connect(
            auth_server.url,
            user=user,
            password=passwords[user],
            error_cb=on_error,
            max_reconnect_attempts=0,
            # As RuntimeSettings.nats_inbox_prefix() connects the services.
            inbox_prefix=PERMS.inbox_prefix(user) if user in SERVICES else "_INBOX",
        )
        opened.append(nc)
        return Connection(nc, errors)

    yield open_as
    for nc in opened:
        await nc.close()


def _other_subject(owned: set[str]) -> str:
    return next(subject for subject in MESSAGES if subject not in owned)


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_can_do_its_own_work(service: str, connect, tmp_path: Path) -> None:
    footprint = PERMS.FOOTPRINTS[service]
    usage = PERMS.scan(service, footprint)
    root = await connect(ROOT_USER)
    me = await connect(service)

    # Start-up: the runtime's provisioning checks every stream, bucket and its own consumers.
    built = real_service(footprint.package, tmp_path)
    results = await provision(me.js, STREAMS, built.consumers(), buckets=BUCKETS)
    assert {r.action for r in results} == {"unchanged"}, [r.describe() for r in results]
    assert (await me.js.account_info()).streams >= len(STREAMS)  # the gateway's readiness probe

    # Its consumers: pull a message (seeded by root), ack it; dead-letter it; read it back.
    for handler in built.handlers:
        subject, durable = handler.consumer.filter_subjects[0], handler.consumer.durable
        stream = Subject.parse(subject).stream
        ack = await root.js.publish(subject, b"{}", headers={"Nats-Msg-Id": uuid.uuid4().hex})
        sub = await me.js.pull_subscribe_bind(durable, stream)
        [msg] = await sub.fetch(1, timeout=5)
        await msg.ack_sync()
        await sub.unsubscribe()
        stored = await me.js.get_msg(stream, seq=ack.seq)
        assert stored.subject == subject
        letter = await dead_letter(
            me.js,
            subject=subject,
            stream=stream,
            sequence=ack.seq,
            consumer=durable,
            deliveries=5,
            error="test",
            error_kind="test",
            payload=b"{}",
        )
        assert letter.stream == DEADLETTER.name

    # Its own messages.
    for subject in sorted(usage.publishes):
        ack = await me.js.publish(subject, b"{}", headers={"Nats-Msg-Id": uuid.uuid4().hex})
        assert ack.stream == Subject.parse(subject).stream

    # Its buckets: write what it writes, read what it reads.
    mine, theirs = Objects(me.js), Objects(root.js)
    for bucket in footprint.writes:
        name = f"{service}/{uuid.uuid4().hex}.bin"
        assert (await mine.put(bucket, name, BLOB)).size == len(BLOB)
        assert await mine.get(bucket, name) == BLOB
        assert (await mine.info(bucket, name)) is not None
        assert name in {o.name for o in await mine.list(bucket)}
        assert await mine.delete(bucket, name)
    for bucket in footprint.reads:
        name = f"seed/{uuid.uuid4().hex}.bin"
        await theirs.put(bucket, name, BLOB)
        assert await mine.get(bucket, name) == BLOB
        assert (await mine.info(bucket, name)).size == len(BLOB)
        assert name in {o.name for o in await mine.list(bucket)}
        path = tmp_path / "copy.bin"
        await mine.get_file(bucket, name, path)
        assert path.read_bytes() == BLOB

    assert me.violations() == []


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_is_refused_everything_else(service: str, connect) -> None:
    footprint = PERMS.FOOTPRINTS[service]
    usage = PERMS.scan(service, footprint)
    root = await connect(ROOT_USER)
    me = await connect(service)
    me.js = me.nc.jetstream(timeout=0.3)  # a refused request never gets an answer

    await me.refused("delete a stream", me.js.delete_stream("SKILLS"))
    await me.refused("purge a stream", me.js.purge_stream("TRAINING"))
    await me.refused("change a stream", me.js.update_stream(name="DATASETS", max_msgs=1))
    assert {info.config.name for info in await root.js.streams_info()} >= {s.name for s in STREAMS}

    foreign = _other_subject(usage.publishes)
    before = (await root.js.stream_info(Subject.parse(foreign).stream)).state.last_seq
    await me.refused(f"publish {foreign}", me.js.publish(foreign, b"{}"))
    assert (await root.js.stream_info(Subject.parse(foreign).stream)).state.last_seq == before

    await me.refused("snoop on core subjects", _subscribe_and_flush(me.nc, "skills.>"))
    await me.refused("read every reply", _subscribe_and_flush(me.nc, "_INBOX.>"))
    other = next(s for s in SERVICES if s != service and PERMS.scan(s, PERMS.FOOTPRINTS[s]).handlers)
    subject, durable = PERMS.scan(other, PERMS.FOOTPRINTS[other]).handlers[0]
    await me.refused(f"read {other}'s consumer", me.js.consumer_info(Subject.parse(subject).stream, durable))
    await me.refused(f"read {other}'s replies", _subscribe_and_flush(me.nc, f"{PERMS.inbox_prefix(other)}.>"))
    for bucket in sorted({b.name for b in BUCKETS} - set(footprint.writes)):
        await me.refused(f"write bucket {bucket}", Objects(me.js).put(bucket, "intruder.txt", b"x"))
    for bucket in sorted({b.name for b in BUCKETS} - {*footprint.writes, *footprint.reads}):
        await me.refused(f"read bucket {bucket}", Objects(me.js).list(bucket))


async def _subscribe_and_flush(nc: Client, subject: str) -> None:
    await nc.subscribe(subject)
    await nc.flush(timeout=1)
    await asyncio.sleep(0.2)
    raise RuntimeError("subscribed (any refusal arrives asynchronously)")


async def test_the_provisioner_administers_streams_but_sends_no_messages(connect, unique: str) -> None:
    admin = await connect(PERMS.PROVISIONER)
    name = f"SCRATCH_{unique.upper()}"
    await admin.js.add_stream(name=name, subjects=[f"scratch{unique}.>"])
    assert (await admin.js.stream_info(name)).config.name == name
    assert await admin.js.delete_stream(name)
    admin.js = admin.nc.jetstream(timeout=0.3)
    await admin.refused("publish an event", admin.js.publish(next(iter(MESSAGES)), b"{}"))
    await admin.refused("snoop on core subjects", _subscribe_and_flush(admin.nc, "training.>"))


async def test_unknown_users_and_wrong_passwords_are_refused(auth_server: NatsProcess) -> None:
    for user, password in (("gateway", "wrong"), ("nobody", "x")):
        with pytest.raises(Exception):  # noqa: B017 - nats-py raises its own error types here
            await nats.connect(
                auth_server.url, user=user, password=password, max_reconnect_attempts=0, allow_reconnect=False
            )
