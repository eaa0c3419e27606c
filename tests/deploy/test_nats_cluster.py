"""A 3-node JetStream cluster on loopback, configured as the cluster overlay configures it.

Three ``nats-server`` processes run deploy/k8s/overlays/cluster/nats/nats-server.conf (ports and
routes moved to loopback) with the generated users. The provisioner creates every stream and
bucket with three replicas; the skill-parser publishes the pipeline's events while the gateway
consumes them through its own durable consumer. The SKILLS stream's leader is SIGKILLed in the
middle: every acknowledged message must still be in the stream, exactly once, and reach the
consumer, and publishing and consuming must carry on with the two servers left.

A SIGKILL does not exercise power loss (the page cache survives the process): that is what
``sync_interval: always`` in the same file is for, and it is not tested here.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import Error as NatsError
from nats.js.errors import Error as JetStreamError

from skill_adapter.contracts import BUCKETS, STREAMS, SkillParsed
from skill_adapter.runtime.nats_server import free_port
from skill_adapter.runtime.provisioning import provision

from .generated import DEPLOY, permissions, real_service
from .servers import NatsProcess

pytestmark = [pytest.mark.integration, pytest.mark.deploy, pytest.mark.slow]

PERMS = permissions()
SUBJECT = SkillParsed.SUBJECT
STREAM = "SKILLS"
TOTAL = 150
NODES = 3


def cluster_config(cluster_ports: list[int]) -> str:
    """The overlay's nats-server.conf with its addresses moved to loopback."""
    text = (DEPLOY / "k8s" / "overlays" / "cluster" / "nats" / "nats-server.conf").read_text()
    routes = "\n".join(f"    nats-route://127.0.0.1:{port}" for port in cluster_ports)
    for pattern, replacement in (
        (r"(?m)^server_name: .*$", "server_name: {server_name}"),
        (r"(?m)^listen: .*$", "listen: 127.0.0.1:{port}"),
        (r"(?m)^http: .*$", "http: 127.0.0.1:{monitor_port}"),
        (r"(?m)^(\s*)store_dir: .*$", r"\1store_dir: {store_dir}"),
        (r"(?m)^(\s*)max_file_store: .*$", r"\1max_file_store: 1T"),
        (r"(?m)^lame_duck_duration: .*$", ""),
        (r"(?m)^pid_file: .*$", "pid_file: {pid_file}"),
        (r"(?m)^(\s+)listen: 0\.0\.0\.0:6222$", r"\1listen: 127.0.0.1:{cluster_port}"),
        (r"(?s)routes: \[.*?\]", f"routes: [\n{routes}\n  ]"),
    ):
        text, count = re.subn(pattern, replacement, text)
        assert count == 1, f"the cluster config no longer has {pattern!r}"
    return text


@pytest.fixture(scope="module")
def passwords() -> dict[str, str]:
    return {user: PERMS.new_password() for user in [PERMS.PROVISIONER, *PERMS.FOOTPRINTS]}


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, passwords: dict[str, str]
) -> Iterator[list[NatsProcess]]:
    root = tmp_path_factory.mktemp("nats-cluster")
    cluster_ports = [free_port() for _ in range(NODES)]
    config = cluster_config(cluster_ports)
    env = {PERMS.password_variable(user): password for user, password in passwords.items()}
    nodes = []
    for index, cluster_port in enumerate(cluster_ports):
        node_dir = root / f"n{index}"
        node_dir.mkdir()
        (node_dir / "auth.conf").write_text((DEPLOY / "k8s" / "base" / "nats" / "auth.conf").read_text())
        node = NatsProcess(
            node_dir,
            f"n{index}",
            config.replace("{cluster_port}", str(cluster_port)),
            env=env,
            cluster_port=cluster_port,
        )
        nodes.append(node)
    try:
        for node in nodes:
            node.start(wait=False)
        for node in nodes:
            node.wait_ready()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


async def connect(nodes: list[NatsProcess], user: str, password: str) -> nats.aio.client.Client:
    return await nats.connect(
        [node.url for node in nodes],
        user=user,
        password=password,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.1,
        connect_timeout=2,
        inbox_prefix=PERMS.inbox_prefix(user) if user in PERMS.FOOTPRINTS else "_INBOX",
    )


async def wait_for_meta_leader(nodes: list[NatsProcess], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            meta = nodes[0].monitor("/jsz").get("meta_cluster") or {}
            if meta.get("leader") and meta.get("cluster_size") == NODES:
                return
        await asyncio.sleep(0.2)
    raise AssertionError("the JetStream cluster elected no meta leader")


async def test_killing_the_stream_leader_loses_no_acknowledged_message(
    cluster: list[NatsProcess], passwords: dict[str, str], tmp_path: Path
) -> None:
    await wait_for_meta_leader(cluster)

    # Provisioning with the provisioner's credentials and three replicas, as the cluster
    # overlay's job runs `skill-adapter provision` (SKILL_ADAPTER_STREAM_REPLICAS=3).
    admin = await connect(cluster, PERMS.PROVISIONER, passwords[PERMS.PROVISIONER])
    gateway_service = real_service("gateway", tmp_path)
    results = await provision(
        admin.jetstream(timeout=10),
        [spec.with_replicas(3) for spec in STREAMS],
        gateway_service.consumers(),
        buckets=[spec.with_replicas(3) for spec in BUCKETS],
    )
    assert {r.action for r in results} == {"created"}, [r.describe() for r in results]
    info = await admin.jetstream().stream_info(STREAM)
    assert info.config.num_replicas == 3 and len(info.cluster.replicas or []) == 2
    await admin.close()

    producer = await connect(cluster, "skill-parser", passwords["skill-parser"])
    consumer = await connect(cluster, "gateway", passwords["gateway"])
    pjs, cjs = producer.jetstream(timeout=2), consumer.jetstream(timeout=2)
    spec = next(h.consumer for h in gateway_service.handlers if h.message_type is SkillParsed)
    durable = spec.durable
    # A message whose ack was lost in the failover comes back after the consumer's ack_wait.
    patience = 60 + spec.ack_wait_seconds

    acked: list[str] = []
    acked_after_kill: list[str] = []
    received: set[str] = set()
    deliveries = 0
    killed: list[NatsProcess] = []

    async def publish_all() -> None:
        for n in range(TOTAL):
            msg_id = f"{n:05d}-{uuid.uuid4().hex[:8]}"
            while True:  # the publisher's contract: retry with the same Nats-Msg-Id until acked
                try:
                    await pjs.publish(SUBJECT, msg_id.encode(), headers={"Nats-Msg-Id": msg_id})
                    break
                except (NatsError, JetStreamError, TimeoutError):
                    await asyncio.sleep(0.1)
            (acked_after_kill if killed else acked).append(msg_id)
            if n == TOTAL // 3:
                await kill_stream_leader()

    async def kill_stream_leader() -> None:
        leader = (await pjs.stream_info(STREAM)).cluster.leader
        node = next(node for node in cluster if node.name == leader)
        node.kill()
        killed.append(node)

    async def consume_until_done() -> None:
        nonlocal deliveries
        sub = None
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            if len(received) >= TOTAL and len(acked) + len(acked_after_kill) == TOTAL:
                return
            try:
                sub = sub or await cjs.pull_subscribe_bind(durable, STREAM)
                for msg in await sub.fetch(50, timeout=1):
                    deliveries += 1
                    # delivered is received: an ack whose reply is lost in the failover may
                    # still have been applied, and then the message never comes back
                    received.add(msg.data.decode())
                    await msg.ack_sync(timeout=2)
            except (NatsError, JetStreamError, TimeoutError):
                await asyncio.sleep(0.1)
        raise AssertionError(f"only {len(received)} of {TOTAL} messages consumed in time")

    await asyncio.wait_for(asyncio.gather(publish_all(), consume_until_done()), timeout=patience + 30)

    all_acked = set(acked) | set(acked_after_kill)
    assert killed, "the stream leader was never killed"
    assert acked_after_kill, "publishing did not carry on after the leader was killed"
    assert len(all_acked) == TOTAL
    assert received == all_acked, f"lost: {sorted(all_acked - received)[:5]}"

    info = await pjs.stream_info(STREAM)
    assert info.state.messages == TOTAL, "every acknowledged message is stored exactly once"
    assert info.cluster.leader and info.cluster.leader != killed[0].name

    # The killed server comes back with its store and catches up.
    killed[0].start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        replicas = (await pjs.stream_info(STREAM)).cluster.replicas or []
        if any(r.name == killed[0].name and r.current for r in replicas):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"{killed[0].name} did not catch up after its restart")
    await producer.close()
    await consumer.close()
