"""A service: typed handlers on durable pull consumers, built into a FastStream app.

    service = Service("skill-parser")

    @service.handles(IngestSkill, purpose="ingest", ack_wait=60)
    async def ingest(command: IngestSkill, ctx: HandlerContext) -> SkillParsed | SkillRejected:
        ...

    app = service.create_app(settings)      # nothing connects until the app starts

On start the app connects, migrates the database, provisions every stream and its own
consumers (reporting drift, changing nothing unless told to), then consumes. Messages a
handler returns are written to the outbox in the handler's transaction and published after
the commit. On SIGINT/SIGTERM in-flight messages finish (``graceful_timeout``) before exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from faststream import AckPolicy, FastStream
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from faststream.security import SASLPlaintext
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from skill_adapter.contracts import (
    ADVISORIES,
    BUCKETS,
    STREAMS,
    ConsumerSpec,
    Message,
    Subject,
    durable_name,
    max_deliveries_advisory,
)

from . import db
from .deadletter import dead_letter
from .delivery import Delivery, Handler, HandlerFunc, deliver
from .inbox import Inbox, Outbox
from .log import configure_logging, get_logger
from .objects import Objects
from .provisioning import ProvisionResult, provision
from .publisher import MSG_ID, Publisher
from .settings import RuntimeSettings

log = get_logger(__name__)

M = TypeVar("M", bound=Message)
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


@dataclass
class Migrations:
    """An Alembic history (``package:dir``) and the version table it records itself in."""

    script_location: str
    version_table: str


@dataclass
class ServiceRuntime:
    """What a started service holds; handlers see ``deps`` through their context."""

    settings: RuntimeSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    js: JetStreamContext
    publisher: Publisher
    inbox: Inbox
    outbox: Outbox
    objects: Objects
    provisioned: list[ProvisionResult] = field(default_factory=list)
    deps: Any = None


Setup = Callable[[ServiceRuntime], AbstractAsyncContextManager[Any]]


class Service:
    def __init__(
        self,
        name: str,
        *,
        description: str = "",
        migrations: Sequence[Migrations] = (),
        setup: Setup | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.migrations = list(migrations)
        self.setup = setup
        self.handlers: list[Handler[Any]] = []

    # -- declaration --------------------------------------------------------------------
    def handles(
        self,
        message_type: type[M],
        *,
        purpose: str,
        max_deliver: int = 5,
        ack_wait: float = 30.0,
        backoff: Sequence[float] = (1.0, 5.0, 30.0),
        max_ack_pending: int = 16,
        deliver_policy: Literal["all", "new"] = "all",
    ) -> Callable[[HandlerFunc[M]], HandlerFunc[M]]:
        """Register a handler for ``message_type`` on the durable ``<service>_<purpose>``.

        ``ack_wait`` bounds how long a silent worker holds a message (a live handler extends
        it automatically); ``max_deliver`` and ``backoff`` bound the retries of failures.
        """
        subject = message_type.SUBJECT
        spec = ConsumerSpec(
            stream=Subject.parse(subject).stream,
            durable=durable_name(self.name, purpose),
            filter_subjects=(subject,),
            ack_wait_seconds=ack_wait,
            max_deliver=max_deliver,
            backoff_seconds=tuple(backoff),
            max_ack_pending=max_ack_pending,
            deliver_policy=deliver_policy,
            description=f"{self.name}: {purpose}",
        )
        if any(h.consumer.durable == spec.durable for h in self.handlers):
            raise ValueError(f"{self.name} already has a consumer named {spec.durable}")

        def register(func: HandlerFunc[M]) -> HandlerFunc[M]:
            self.handlers.append(Handler(message_type, func, spec))
            return func

        return register

    def exhausted_consumer(self) -> ConsumerSpec | None:
        """Consumer of the max-deliveries advisories of this service's own consumers."""
        if not self.handlers:
            return None
        return ConsumerSpec(
            stream=ADVISORIES.name,
            durable=durable_name(self.name, "exhausted"),
            filter_subjects=tuple(
                max_deliveries_advisory(h.consumer.stream, h.consumer.durable) for h in self.handlers
            ),
            ack_wait_seconds=30,
            max_deliver=20,
            backoff_seconds=(1.0, 5.0, 30.0),
            description=f"{self.name}: dead-letter messages that exhausted their deliveries",
        )

    def consumers(self) -> list[ConsumerSpec]:
        specs = [h.consumer for h in self.handlers]
        exhausted = self.exhausted_consumer()
        return [*specs, exhausted] if exhausted else specs

    # -- assembly -----------------------------------------------------------------------
    def create_app(self, settings: RuntimeSettings) -> FastStream:
        broker = NatsBroker(
            servers=settings.nats_url or DEFAULT_NATS_URL,
            name=self.name,
            security=(
                SASLPlaintext(username=settings.nats_user, password=settings.nats_password or "")
                if settings.nats_user
                else None
            ),
            inbox_prefix=settings.nats_inbox_prefix(),
            graceful_timeout=settings.graceful_timeout,
            max_reconnect_attempts=-1,
            logger=logging.getLogger(f"faststream.{self.name}"),
            log_level=logging.DEBUG,  # one line per message is for debugging, not for INFO
        )
        holder: dict[str, ServiceRuntime] = {}
        tasks: list[asyncio.Task[None]] = []
        exit_stack = contextlib.AsyncExitStack()

        for handler in self.handlers:
            self._subscribe(
                broker,
                handler.consumer,
                self._delivery_callback(handler, holder),
                handler,
                inbox_prefix=settings.nats_inbox_prefix(),
            )
        exhausted = self.exhausted_consumer()
        if exhausted is not None:
            self._subscribe(
                broker,
                exhausted,
                self._exhausted_callback(holder),
                None,
                inbox_prefix=settings.nats_inbox_prefix(),
            )

        async def on_startup() -> None:
            configure_logging(settings.log_level, settings.log_format, service=self.name)
            engine = db.create_engine(settings.resolved_database_url())
            await db.migrate(engine)
            for migration in self.migrations:
                await db.migrate(engine, migration.script_location, migration.version_table)
            connection = await broker.connect()
            js = connection.jetstream(timeout=10)
            streams = [spec.with_replicas(settings.stream_replicas) for spec in STREAMS]
            buckets = [spec.with_replicas(settings.stream_replicas) for spec in BUCKETS]
            results = await provision(
                js, streams, self.consumers(), buckets=buckets, apply=settings.apply_stream_changes
            )
            await self._adopt_live_consumer_limits(js)
            sessions = db.session_factory(engine)
            publisher = Publisher(js)
            runtime = ServiceRuntime(
                settings=settings,
                engine=engine,
                sessions=sessions,
                js=js,
                publisher=publisher,
                inbox=Inbox(sessions),
                outbox=Outbox(sessions, publisher),
                objects=Objects(js),
                provisioned=results,
            )
            if self.setup is not None:
                runtime.deps = await exit_stack.enter_async_context(self.setup(runtime))
            holder["runtime"] = runtime
            log.info("service starting", service=self.name, consumers=[c.durable for c in self.consumers()])

        async def after_startup() -> None:
            tasks.append(asyncio.create_task(holder["runtime"].outbox.run(), name=f"{self.name}-outbox"))
            log.info("service ready", service=self.name)

        async def on_shutdown() -> None:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        async def after_shutdown() -> None:
            await exit_stack.aclose()
            runtime = holder.pop("runtime", None)
            if runtime is not None:
                await runtime.engine.dispose()
            log.info("service stopped", service=self.name)

        return FastStream(
            broker,
            logger=logging.getLogger(f"faststream.{self.name}"),
            on_startup=[on_startup],
            after_startup=[after_startup],
            on_shutdown=[on_shutdown],
            after_shutdown=[after_shutdown],
        )

    async def _adopt_live_consumer_limits(self, js: JetStreamContext) -> None:
        """Decide retries with the limits the server enforces: a drifted consumer keeps its
        live ``max_deliver`` and ``ack_wait`` (provisioning reported the drift; changing it is
        an operator's call), so dead-lettering happens on the delivery the server ends on."""
        for handler in self.handlers:
            live = (await js.consumer_info(handler.consumer.stream, handler.consumer.durable)).config
            changes = {
                field: value
                for field, value in (("max_deliver", live.max_deliver), ("ack_wait_seconds", live.ack_wait))
                if value is not None and value > 0 and value != getattr(handler.consumer, field)
            }
            if changes:
                log.warning("using the live consumer limits", consumer=handler.consumer.durable, **changes)
                handler.consumer = handler.consumer.model_copy(update=changes)

    @staticmethod
    def _subscribe(
        broker: NatsBroker,
        spec: ConsumerSpec,
        callback: Callable[..., Any],
        handler: Handler[Any] | None,
        *,
        inbox_prefix: str = "_INBOX",
    ) -> None:
        description = (handler.func.__doc__ or "").strip() if handler else spec.description
        broker.subscriber(
            spec.filter_subjects[0],
            stream=JStream(spec.stream, declare=False),
            durable=spec.durable,
            pull_sub=PullSub(batch_size=1, timeout=5.0),
            ack_policy=AckPolicy.MANUAL,
            title=f"{spec.durable}:{spec.filter_subjects[0]}",
            description=description or None,
            inbox_prefix=f"{inbox_prefix}.".encode(),  # pulled messages arrive on this user's inboxes
        )(callback)

    @staticmethod
    def _delivery_callback(handler: Handler[Any], holder: dict[str, ServiceRuntime]) -> Callable[..., Any]:
        async def on_message(msg: NatsMessage) -> None:
            runtime = holder["runtime"]
            env = Delivery(js=runtime.js, inbox=runtime.inbox, outbox=runtime.outbox, deps=runtime.deps)
            await deliver(msg.raw_message, handler, env)

        on_message.__name__ = handler.name
        return on_message

    @staticmethod
    def _exhausted_callback(holder: dict[str, ServiceRuntime]) -> Callable[..., Any]:
        async def on_exhausted(msg: NatsMessage) -> None:
            await dead_letter_exhausted(holder["runtime"].js, msg.raw_message)

        return on_exhausted


async def dead_letter_exhausted(js: JetStreamContext, raw: Msg) -> None:
    """Dead-letter the message a max-deliveries advisory points at, then ack the advisory."""
    try:
        advisory = json.loads(raw.data)
        stream, sequence = advisory["stream"], int(advisory["stream_seq"])
        consumer, deliveries = advisory["consumer"], int(advisory.get("deliveries", 0))
    except (ValueError, KeyError, TypeError):
        log.error("unreadable max-deliveries advisory; dropping it", data=raw.data[:200])
        await raw.term()
        return
    try:
        original = await js.get_msg(stream, seq=sequence)
    except NotFoundError:
        log.error("exhausted message no longer in its stream", stream=stream, seq=sequence)
        await raw.ack_sync()
        return
    except Exception:  # noqa: BLE001 - NATS hiccup: retry the advisory later
        await raw.nak(delay=5)
        return
    await dead_letter(
        js,
        subject=original.subject or "",
        stream=stream,
        sequence=sequence,
        consumer=consumer,
        deliveries=deliveries,
        error=(
            f"exhausted {deliveries} deliveries without a verdict from the handler: the worker "
            "crashed or did not finish within ack_wait each time"
        ),
        error_kind="max_deliveries",
        payload=original.data or b"",
        original_msg_id=(original.headers or {}).get(MSG_ID),
    )
    await raw.ack_sync()
