"""An HTTP proxy in front of the gateway that stops answering chat completions after ``answer``
of them: an inference backend that times out in the middle of a run."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from skill_adapter.runtime.nats_server import free_port


class StallingProxy:
    def __init__(self, upstream: str, answer: int) -> None:
        self.upstream = upstream.rstrip("/")
        self.answer = answer
        self.chats = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"].endswith("/chat/completions"):
            self.chats += 1
            if self.chats > self.answer:
                await asyncio.sleep(3600)  # never answers: the client's timeout fires
        headers = {
            k.decode(): v.decode()
            for k, v in scope["headers"]
            if k.lower() in (b"authorization", b"content-type")
        }
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.request(
                scope["method"], self.upstream + scope["path"], content=body, headers=headers
            )
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [
                    (b"content-type", response.headers.get("content-type", "application/json").encode())
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.content})


@contextmanager
def stalling_proxy(upstream: str, answer: int) -> Iterator[tuple[str, StallingProxy]]:
    """``(base_url, proxy)`` of a running proxy to ``upstream`` (the gateway's root URL)."""
    proxy = StallingProxy(upstream, answer)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(proxy, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name="stalling-proxy", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the proxy did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", proxy
    finally:
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=10)
