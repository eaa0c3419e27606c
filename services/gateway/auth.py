"""API keys on every route: ``Authorization: Bearer <key>``, then a scope per route.

``ApiKeyMiddleware`` authenticates (401 when the key is missing, unknown or revoked) and sets
``request.user`` to the ``ApiKey``; ``requires(scope)`` is the guard a route declares (403 when
the key lacks the scope; ``admin`` has them all). Routes marked ``exclude_from_auth`` (health)
and the OpenAPI documents are public.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Guard

from skill_adapter.contracts.api import Scope

from .keys import ApiKey
from .state import GatewayState

MISSING_KEY = (
    "You didn't provide an API key. Send it in an Authorization header using Bearer auth "
    "(Authorization: Bearer YOUR_KEY); `skill-adapter keys create` makes one."
)


def masked(token: str) -> str:
    return f"{token[:6]}***{token[-4:]}" if len(token) > 12 else "***"


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorizedException(MISSING_KEY)
        gateway: GatewayState = connection.app.state.gateway
        key = await gateway.keys.authenticate(token)
        if key is None:
            raise NotAuthorizedException(f"Incorrect or revoked API key provided: {masked(token)}.")
        return AuthenticationResult(user=key, auth=token)


def requires(scope: Scope) -> Guard:
    """A guard letting through only keys with ``scope`` (or ``admin``).

    It is a coroutine function because Litestar runs a plain function guard in its thread pool,
    which cost a thread round trip (about 0.1 ms, more under load) on every request.
    """

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        key = connection.user
        if not isinstance(key, ApiKey) or not key.allows(scope):
            raise PermissionDeniedException(
                f"This API key does not have the {scope!r} scope this route needs."
            )

    guard.__name__ = f"requires_{scope.replace(':', '_')}"
    return guard
