"""What the running gateway holds: its settings and, once the event runtime has started, the
``ServiceRuntime`` (database sessions, Object Store, publisher) and the API key store.

The runtime hands itself over through the ``Service`` setup hook (``attach``), which lives as
long as the FastStream app the Litestar lifespan starts and stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from skill_adapter.runtime import ServiceRuntime

from .errors import ServiceUnavailable
from .keys import KeyStore
from .settings import GatewaySettings


@dataclass
class GatewayState:
    settings: GatewaySettings
    _runtime: ServiceRuntime | None = None
    _keys: KeyStore | None = None

    @asynccontextmanager
    async def attach(self, runtime: ServiceRuntime) -> AsyncIterator[GatewayState]:
        """The ``Service`` setup hook: expose ``runtime`` while the service runs."""
        self._runtime = runtime
        self._keys = KeyStore(runtime.sessions, touch_interval=self.settings.key_touch_interval)
        try:
            yield self
        finally:
            self._runtime = None
            self._keys = None

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
