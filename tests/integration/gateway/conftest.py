"""A gateway per test: its own SQLite (or PostgreSQL) database, the session's nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext

from skill_adapter.contracts import Message
from skill_adapter.gateway.app import create_app
from skill_adapter.gateway.settings import GatewaySettings
from skill_adapter.gateway.state import GatewayState
from skill_adapter.runtime import Publisher
from tests.support.helpers import eventually

T = TypeVar("T")


@dataclass
class Gateway:
    """A started gateway app, its test client and a way to make API keys."""

    app: Litestar
    client: AsyncTestClient[Litestar]
    settings: GatewaySettings
    js: JetStreamContext

    @property
    def state(self) -> GatewayState:
        state: GatewayState = self.app.state.gateway
        return state

    def in_app(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``func(*args)`` on the app's event loop (the test client runs the app in its own)."""
        return self.client.blocking_portal.call(func, *args)

    async def key(self, *scopes: str, name: str = "tests") -> str:
        return self.in_app(self.state.keys.create, name, scopes or ("admin",)).token

    async def auth(self, *scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.key(*scopes)}"}

    async def publish(self, message: Message) -> None:
        await Publisher(self.js).publish(message)

    async def wait_for(self, path: str, headers: dict[str, str], what: str) -> Response:
        async def probe() -> Response | None:
            response = await self.client.get(path, headers=headers)
            return response if response.status_code == 200 else None

        found = await eventually(probe, what=what)
        assert found is not None
        return found


StartGateway = Callable[..., AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def start_gateway(nats_url: str, js: JetStreamContext, tmp_path: Path) -> StartGateway:
    """``async with start_gateway(**settings) as gw``: SQLite in tmp_path unless told otherwise."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Gateway]:
        fields: dict[str, Any] = {
            "nats_url": nats_url,
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
            "state_dir": tmp_path,
            "embedded_nats": False,
            "key_touch_interval": 0,
            "graceful_timeout": 5,
            "backends": [],  # no models to load: the inference tests live in tests/integration/inference
            **overrides,
        }
        settings = GatewaySettings(**fields)
        app = create_app(settings)
        async with AsyncTestClient(app=app, timeout=60) as client:
            yield Gateway(app=app, client=client, settings=settings, js=js)

    return start


@pytest.fixture
async def gateway(start_gateway: StartGateway) -> AsyncIterator[Gateway]:
    async with start_gateway() as started:
        yield started


@pytest.fixture
async def admin(gateway: Gateway) -> dict[str, str]:
    return await gateway.auth("admin")


def error_of(response: Response) -> dict[str, Any]:
    """The error envelope, checked for its exact shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    assert set(error) - {"message", "type", "param", "code"} <= {"errors"}, error
    assert isinstance(error["message"], str) and error["message"]
    return error
