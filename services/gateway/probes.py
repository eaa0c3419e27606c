"""Health probes: can the gateway reach JetStream and its database right now?

Each probe is bounded by ``health_timeout``; any failure (including the event runtime not
running) reads as unhealthy and is logged. The inference backends are reported as they last
saw themselves (informational: an upstream being down does not make the gateway unhealthy).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from skill_adapter.contracts.api import BackendHealth, Health
from skill_adapter.runtime.log import get_logger

from .state import GatewayState

log = get_logger(__name__)


async def _nats_ok(gateway: GatewayState) -> bool:
    try:
        async with asyncio.timeout(gateway.settings.health_timeout):
            await gateway.runtime.js.account_info()
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", reported as such
        log.warning("health: NATS probe failed", error=repr(exc))
        return False
    return True


async def _database_ok(gateway: GatewayState) -> bool:
    try:
        async with asyncio.timeout(gateway.settings.health_timeout):
            async with gateway.runtime.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", reported as such
        log.warning("health: database probe failed", error=repr(exc))
        return False
    return True


async def _backends(gateway: GatewayState) -> list[BackendHealth]:
    try:
        async with asyncio.timeout(gateway.settings.health_timeout):
            return await gateway.inference.router.health()
    except Exception as exc:  # noqa: BLE001 - not started yet, or a backend misbehaving
        log.warning("health: backends probe failed", error=repr(exc))
        return []


async def check_health(gateway: GatewayState) -> Health:
    nats, database, backends = await asyncio.gather(
        _nats_ok(gateway), _database_ok(gateway), _backends(gateway)
    )
    return Health(
        status="ok" if nats and database else "degraded", nats=nats, database=database, backends=backends
    )
