"""What the running gateway holds: its settings and, once the event runtime has started, the
``ServiceRuntime`` (database sessions, Object Store, publisher), the API key store, the rate
limiter and the inference plane (backends and their adapter sync).

The runtime hands itself over through the ``Service`` setup hook (``attach``), which lives as
long as the FastStream app the Litestar lifespan starts and stops; the inference plane is
started by the next lifespan step (``serve_models``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from skill_adapter.runtime import ServiceRuntime

from .errors import ServiceUnavailable
from .keys import KeyStore, sqlite_changes
from .ratelimit import RateLimiter
from .serving import InferencePlane
from .settings import GatewaySettings
from .webhooks import WebhookSender, sending


@dataclass
class GatewayState:
    settings: GatewaySettings
    _runtime: ServiceRuntime | None = None
    _keys: KeyStore | None = None
    _inference: InferencePlane | None = None
    limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.rate_limit_rpm)

    @asynccontextmanager
    async def attach(self, runtime: ServiceRuntime) -> AsyncIterator[GatewayState]:
        """The ``Service`` setup hook: expose ``runtime`` while the service runs."""
        self._runtime = runtime
        changes = sqlite_changes(runtime.engine) if self.settings.key_cache_size > 0 else None
        self._keys = KeyStore(
            runtime.sessions,
            touch_interval=self.settings.key_touch_interval,
            changes=changes,
            cache_size=self.settings.key_cache_size,
        )
        sender = WebhookSender(runtime.sessions, self.settings.webhook_backoff, self.settings.webhook_timeout)
        try:
            async with sending(sender):
                yield self
        finally:
            self._runtime = None
            self._keys = None
            if changes is not None:
                changes.close()

    @property
    def runtime(self) -> ServiceRuntime:
        if self._runtime is None:
            raise ServiceUnavailable("The gateway is starting or stopping; retry in a moment.")
        return self._runtime

    @property
    def keys(self) -> KeyStore:
        if self._keys is None:
            raise ServiceUnavailable("The gateway is starting or stopping; retry in a moment.")
        return self._keys

    @property
    def started(self) -> bool:
        return self._runtime is not None

    @asynccontextmanager
    async def serve_models(self) -> AsyncIterator[InferencePlane]:
        """Start the inference plane (after the runtime: it reads the adapter registry)."""
        plane = InferencePlane(self.settings, self.runtime.sessions, objects=self.runtime.objects)
        await plane.start()
        self._inference = plane
        try:
            yield plane
        finally:
            self._inference = None
            await plane.aclose()

    @property
    def inference(self) -> InferencePlane:
        if self._inference is None:
            raise ServiceUnavailable("The gateway is starting or stopping; retry in a moment.")
        return self._inference

    def adapters_changed(self) -> None:
        """The adapter registry changed (a handler committed): sync the backends now."""
        if self._inference is not None:
            self._inference.poke()
