"""What is running: streams, consumers, pending and dead-lettered counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from skill_adapter.contracts import DEADLETTER_STREAM, STREAMS, StreamSpec

from .deadletter import DeadLetter, read_dead_letters
from .provisioning import stream_drift


@dataclass
class ConsumerStatus:
    stream: str
    durable: str
    pending: int
    ack_pending: int
    redelivered: int
    waiting: int
    filter_subjects: list[str]


@dataclass
class StreamStatus:
    name: str
    exists: bool
    subjects: list[str] = field(default_factory=list)
    messages: int = 0
    bytes: int = 0
    consumers: list[ConsumerStatus] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)


@dataclass
class Status:
    nats_url: str
    server_version: str
    streams: list[StreamStatus]
    dead_letters: int
    recent_dead_letters: list[DeadLetter]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for letter in data["recent_dead_letters"]:
            letter["payload"] = letter["payload"][:500].decode(errors="replace")
        return data


async def stream_status(js: JetStreamContext, spec: StreamSpec) -> StreamStatus:
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        return StreamStatus(name=spec.name, exists=False, subjects=list(spec.subjects))
    consumers = [
        ConsumerStatus(
            stream=spec.name,
            durable=c.name,
            pending=c.num_pending or 0,
            ack_pending=c.num_ack_pending or 0,
            redelivered=c.num_redelivered or 0,
            waiting=c.num_waiting or 0,
            filter_subjects=list(
                c.config.filter_subjects or ([c.config.filter_subject] if c.config.filter_subject else [])
            ),
        )
        for c in await js.consumers_info(spec.name)
    ]
    return StreamStatus(
        name=spec.name,
        exists=True,
        subjects=list(info.config.subjects or []),
        messages=info.state.messages,
        bytes=info.state.bytes,
        consumers=sorted(consumers, key=lambda c: c.durable),
        drift=[str(d) for d in stream_drift(spec, info.config)],
    )


async def collect_status(
    js: JetStreamContext, nats_url: str, server_version: str, replicas: int = 1, recent: int = 5
) -> Status:
    streams = [await stream_status(js, spec.with_replicas(replicas)) for spec in STREAMS]
    dead = next((s for s in streams if s.name == DEADLETTER_STREAM), None)
    letters: list[DeadLetter] = []
    if dead is not None and dead.exists and dead.messages:
        letters = await read_dead_letters(js, limit=recent, newest=True)
    return Status(
        nats_url=nats_url,
        server_version=server_version,
        streams=streams,
        dead_letters=dead.messages if dead and dead.exists else 0,
        recent_dead_letters=letters,
    )
