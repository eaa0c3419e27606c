"""A real HTTP server on loopback, in the test's event loop, answering with an httpx-style handler.

The fakes of upstream servers are written as ``handler(httpx.Request) -> httpx.Response`` (sync
or async); this serves them over a real socket, so the code under test uses its real HTTP client
and connection pool. A client that disconnects cancels the handler, as a real server would.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
from aiohttp import web
from aiohttp.test_utils import RawTestServer

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]
T = TypeVar("T")
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding"}


class FakeHttpServer:
    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._server = RawTestServer(self._handle, handler_cancellation=True)
        self.url = ""

    async def start(self) -> str:
        await self._server.start_server()
        self.url = str(self._server.make_url("")).rstrip("/")
        return self.url

    async def close(self) -> None:
        await self._server.close()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        content = await request.read()
        forwarded = httpx.Request(
            request.method, str(request.url), headers=dict(request.headers), content=content
        )
        answer = self._handler(forwarded)
        if inspect.isawaitable(answer):
            answer = await answer
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        return web.Response(status=answer.status_code, body=answer.content, headers=headers)


class Serving:
    """``await serve(handler)`` serves a fake and returns its base URL; ``serve.track(client)``
    closes a client (anything with ``aclose``) at the end, before the servers."""

    def __init__(self) -> None:
        self._servers: list[FakeHttpServer] = []
        self._clients: list[Any] = []

    async def __call__(self, handler: Handler) -> str:
        server = FakeHttpServer(handler)
        self._servers.append(server)
        return await server.start()

    def track(self, client: T) -> T:
        self._clients.append(client)
        return client

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
        for server in self._servers:
            await server.close()


Serve = Serving


async def serving() -> AsyncIterator[Serving]:
    """For a fixture: the ``Serving`` of one test, closed when it ends."""
    serve = Serving()
    try:
        yield serve
    finally:
        await serve.aclose()
