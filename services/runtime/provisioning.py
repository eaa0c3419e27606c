"""Idempotent stream and consumer provisioning, with drift reports.

``provision`` creates what is missing and compares what exists with the specification. A
difference is reported as drift and left alone unless ``apply=True``: changing a live stream's
limits or a consumer's delivery policy is an operator's decision, not a side effect of start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NotFoundError

from skill_adapter.contracts import BucketSpec, ConsumerSpec, StreamSpec

from .log import get_logger
from .objects import ensure_bucket

log = get_logger(__name__)

Action = Literal["created", "unchanged", "drifted", "updated", "failed"]
Kind = Literal["stream", "consumer", "bucket"]


@dataclass(frozen=True)
class Drift:
    field: str
    expected: Any
    actual: Any

    def __str__(self) -> str:
        return f"{self.field}: expected {self.expected!r}, found {self.actual!r}"


@dataclass
class ProvisionResult:
    kind: Kind
    name: str
    action: Action
    drift: list[Drift] = field(default_factory=list)
    error: str | None = None

    def describe(self) -> str:
        text = f"{self.kind} {self.name}: {self.action}"
        if self.drift:
            text += " (" + "; ".join(map(str, self.drift)) + ")"
        if self.error:
            text += f" — {self.error}"
        return text


def stream_config(spec: StreamSpec) -> api.StreamConfig:
    return api.StreamConfig(
        name=spec.name,
        description=spec.description or None,
        subjects=list(spec.subjects),
        retention=api.RetentionPolicy(spec.retention),
        discard=api.DiscardPolicy(spec.discard),
        storage=api.StorageType(spec.storage),
        max_msgs=spec.max_msgs,
        max_bytes=spec.max_bytes,
        max_age=spec.max_age_seconds,
        max_msg_size=spec.max_msg_size,
        duplicate_window=spec.duplicate_window_seconds,
        num_replicas=spec.num_replicas,
    )


def consumer_config(spec: ConsumerSpec) -> api.ConsumerConfig:
    single = len(spec.filter_subjects) == 1
    return api.ConsumerConfig(
        durable_name=spec.durable,
        description=spec.description or None,
        deliver_policy=api.DeliverPolicy(spec.deliver_policy),
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=spec.ack_wait_seconds,
        max_deliver=spec.max_deliver,
        filter_subject=spec.filter_subjects[0] if single else None,
        filter_subjects=None if single else list(spec.filter_subjects),
        max_ack_pending=spec.max_ack_pending,
    )


def _close(a: Any, b: Any) -> bool:
    a, b = _plain(a), _plain(b)
    if isinstance(a, float | int) and isinstance(b, float | int):
        return abs(float(a) - float(b)) < 1e-3
    return bool(a == b)


def stream_drift(spec: StreamSpec, actual: api.StreamConfig) -> list[Drift]:
    expected = stream_config(spec)
    drift = []
    if sorted(expected.subjects or []) != sorted(actual.subjects or []):
        drift.append(Drift("subjects", expected.subjects, actual.subjects))
    for name in (
        "retention",
        "discard",
        "storage",
        "max_msgs",
        "max_bytes",
        "max_age",
        "max_msg_size",
        "duplicate_window",
        "num_replicas",
    ):
        want, have = getattr(expected, name), getattr(actual, name)
        if not _close(want, have):
            drift.append(Drift(name, _plain(want), _plain(have)))
    return drift


def consumer_drift(spec: ConsumerSpec, actual: api.ConsumerConfig) -> list[Drift]:
    drift = []
    have_filters = sorted(
        actual.filter_subjects or ([actual.filter_subject] if actual.filter_subject else [])
    )
    if sorted(spec.filter_subjects) != have_filters:
        drift.append(Drift("filter_subjects", list(spec.filter_subjects), have_filters))
    expected = consumer_config(spec)
    for name in ("ack_policy", "deliver_policy", "ack_wait", "max_deliver", "max_ack_pending"):
        want, have = getattr(expected, name), getattr(actual, name)
        if not _close(want, have):
            drift.append(Drift(name, _plain(want), _plain(have)))
    if actual.backoff:
        drift.append(Drift("backoff", None, actual.backoff))
    return drift


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, *, apply: bool = False) -> ProvisionResult:
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(stream_config(spec))
        log.info("stream created", stream=spec.name)
        return ProvisionResult("stream", spec.name, "created")
    drift = stream_drift(spec, info.config)
    if not drift:
        return ProvisionResult("stream", spec.name, "unchanged")
    if not apply:
        log.warning("stream config drifted; not changed", stream=spec.name, drift=[str(d) for d in drift])
        return ProvisionResult("stream", spec.name, "drifted", drift)
    try:
        await js.update_stream(stream_config(spec))
    except APIError as exc:
        return ProvisionResult("stream", spec.name, "failed", drift, error=str(exc.description or exc))
    log.info("stream updated", stream=spec.name, drift=[str(d) for d in drift])
    return ProvisionResult("stream", spec.name, "updated", drift)


async def ensure_consumer(
    js: JetStreamContext, spec: ConsumerSpec, *, apply: bool = False
) -> ProvisionResult:
    name = f"{spec.stream}/{spec.durable}"
    try:
        info = await js.consumer_info(spec.stream, spec.durable)
    except NotFoundError:
        await js.add_consumer(spec.stream, consumer_config(spec))
        log.info("consumer created", consumer=name)
        return ProvisionResult("consumer", name, "created")
    drift = consumer_drift(spec, info.config)
    if not drift:
        return ProvisionResult("consumer", name, "unchanged")
    if not apply:
        log.warning("consumer config drifted; not changed", consumer=name, drift=[str(d) for d in drift])
        return ProvisionResult("consumer", name, "drifted", drift)
    try:
        await js.add_consumer(spec.stream, consumer_config(spec))
    except APIError as exc:
        return ProvisionResult("consumer", name, "failed", drift, error=str(exc.description or exc))
    return ProvisionResult("consumer", name, "updated", drift)


async def provision(
    js: JetStreamContext,
    streams: Iterable[StreamSpec],
    consumers: Sequence[ConsumerSpec] = (),
    *,
    buckets: Sequence[BucketSpec] = (),
    apply: bool = False,
) -> list[ProvisionResult]:
    results = [await ensure_stream(js, spec, apply=apply) for spec in streams]
    results += [await ensure_consumer(js, spec, apply=apply) for spec in consumers]
    for bucket in buckets:
        _, created = await ensure_bucket(js, bucket)
        results.append(ProvisionResult("bucket", bucket.name, "created" if created else "unchanged"))
    return results
