"""Reliable delivery of one JetStream message to one handler.

The policy, written down rather than left to a library default:

* the payload is validated against its contract first; a message that does not validate can
  never succeed, so it goes straight to the dead-letter stream with the validation error;
* a handler error is retried with ``nak(delay=backoff[n])`` until ``max_deliver``; the last
  failure dead-letters the message with the error and the delivery count, then terminates it;
* a handler may raise ``Reject`` to say retrying is pointless (dead-lettered at once);
* while a handler runs, ``in_progress`` keeps the ack deadline away, so slow but alive work is
  not redelivered; a killed worker stops sending it and the message comes back after ack_wait;
* the ack is sent only after the effect committed, and waits for the server's confirmation.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from skill_adapter.contracts import ConsumerSpec, Message

from .deadletter import dead_letter
from .inbox import Inbox, Outbox
from .log import get_logger

log = get_logger(__name__)

M = TypeVar("M", bound=Message)


class Reject(Exception):
    """Raised by a handler for a message that can never succeed: dead-letter it now."""


@dataclass
class HandlerContext:
    """What a handler gets besides its message."""

    session: AsyncSession
    delivery: int
    consumer: str
    deps: Any = None
    log: Any = field(default=None)


HandlerFunc = Callable[[M, HandlerContext], Awaitable[Message | Sequence[Message] | None]]


@dataclass
class Handler(Generic[M]):
    message_type: type[M]
    func: HandlerFunc[M]
    consumer: ConsumerSpec

    @property
    def name(self) -> str:
        return getattr(self.func, "__qualname__", repr(self.func))


@dataclass
class Delivery:
    """Everything ``deliver`` needs from the running service."""

    js: JetStreamContext
    inbox: Inbox
    outbox: Outbox
    deps: Any = None


async def deliver(raw: Msg, handler: Handler[Any], env: Delivery) -> str:
    """Process ``raw``; returns the outcome: acked, duplicate, retrying or dead-lettered."""
    meta = raw.metadata
    delivered = meta.num_delivered
    spec = handler.consumer
    bound = log.bind(subject=raw.subject, consumer=spec.durable, seq=meta.sequence.stream, delivery=delivered)

    try:
        message = handler.message_type.model_validate_json(raw.data)
    except ValidationError as exc:
        bound.warning("payload does not match its contract; dead-lettering", errors=exc.error_count())
        await _dead_letter(
            raw, env, spec, f"invalid payload for {handler.message_type.__name__}: {exc}", "validation"
        )
        return "dead-lettered"

    keepalive = asyncio.create_task(_keep_alive(raw, spec.ack_wait_seconds))
    try:
        context_log = bound.bind(event_id=message.event_id, correlation_id=message.correlation_id)

        async def effect(session: AsyncSession) -> Message | Sequence[Message] | None:
            ctx = HandlerContext(
                session=session, delivery=delivered, consumer=spec.durable, deps=env.deps, log=context_log
            )
            return await handler.func(message, ctx)

        outbox_ids = await env.inbox.handle_once(spec.durable, message, effect)
    except Reject as exc:
        bound.warning("handler rejected the message; dead-lettering", error=str(exc))
        await _dead_letter(raw, env, spec, f"rejected: {exc}", "rejected")
        return "dead-lettered"
    except Exception as exc:  # noqa: BLE001 - every failure is either retried or dead-lettered
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if delivered >= spec.max_deliver:
            bound.error("handler failed on its last delivery; dead-lettering", error=error)
            await _dead_letter(raw, env, spec, f"{error} (after {delivered} deliveries)", "handler_error")
            return "dead-lettered"
        delay = spec.nak_delay(delivered)
        bound.warning("handler failed; will retry", error=error, retry_in_s=delay)
        await raw.nak(delay=delay)
        return "retrying"
    finally:
        keepalive.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keepalive

    if outbox_ids is None:
        bound.info("duplicate delivery; already handled", event_id=message.event_id)
        await _publish_quietly(env.outbox, None)
        await raw.ack_sync()
        return "duplicate"
    await _publish_quietly(env.outbox, outbox_ids)
    await raw.ack_sync()
    return "acked"


async def _publish_quietly(outbox: Outbox, ids: list[int] | None) -> None:
    try:
        await outbox.publish(ids)
    except Exception as exc:  # noqa: BLE001 - the rows stay pending; the sweep retries them
        log.warning("publishing caused messages failed; the outbox sweep will retry", error=str(exc))


async def _dead_letter(raw: Msg, env: Delivery, spec: ConsumerSpec, error: str, kind: str) -> None:
    meta = raw.metadata
    try:
        await dead_letter(
            env.js,
            subject=raw.subject,
            stream=meta.stream,
            sequence=meta.sequence.stream,
            consumer=spec.durable,
            deliveries=meta.num_delivered,
            error=error,
            error_kind=kind,
            payload=raw.data,
            original_msg_id=(raw.headers or {}).get("Nats-Msg-Id"),
        )
    except Exception as exc:  # noqa: BLE001 - e.g. DEADLETTER full (discard=new): keep the message
        log.error(
            "could not store the dead letter; the message stays pending",
            subject=raw.subject,
            seq=meta.sequence.stream,
            error=str(exc),
        )
        await raw.nak(delay=30)
        return
    # Stored in DEADLETTER first, then stop redelivery: a crash in between redelivers, and the
    # dead letter's own Nats-Msg-Id keeps it from being stored twice.
    await raw.term()


async def _keep_alive(raw: Msg, ack_wait: float) -> None:
    interval = max(ack_wait / 3, 0.5)
    while True:
        await asyncio.sleep(interval)
        with contextlib.suppress(Exception):
            await raw.in_progress()
