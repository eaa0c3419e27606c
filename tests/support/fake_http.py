"""A real HTTP server on loopback, in the test's event loop, answering with an httpx-style handler.

The fakes of upstream servers are written as ``handler(httpx.Request) -> httpx.Response`` (sync
or async); this serves them over a real socket, so the code under test uses its real HTTP client
and connection pool. A client that disconnects cancels the handler, as a real server would.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
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


class ThreadedFakeServer:
    """A ``FakeHttpServer`` on its own event loop in a thread: for code under test whose event
    loop blocks the test's (the gateway's test client starts its app synchronously)."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fake-http", daemon=True)
        self.url = ""

    def _run(self) -> None:
        async def main() -> None:
            server = FakeHttpServer(self._handler)
            self.url = await server.start()
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            await self._stop.wait()
            await server.close()

        asyncio.run(main())

    def __enter__(self) -> str:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake HTTP server did not start")
        return self.url

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
