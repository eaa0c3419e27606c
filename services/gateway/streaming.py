"""Answering an inference request: JSON, or server-sent events, and noticing the client leave.

A stream is ``data: <chunk>\\n\\n`` per chunk and ``data: [DONE]\\n\\n`` at the end. An error after
the first chunk can no longer change the status code, so it is sent in the stream as
``data: {"error": {...}}`` (OpenAI's envelope), then ``[DONE]``. When the client disconnects
(Litestar cancels the stream; for a plain request a watcher sees ``http.disconnect``) the
``Cancellation`` is set, and the backend stops generating.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from litestar import MediaType, Request, Response
from litestar.response import Stream
from litestar.types import Receive
from pydantic import BaseModel

from skill_adapter.contracts.api import ErrorDetail, ErrorResponse
from skill_adapter.runtime.log import get_logger

from .errors import ApiError
from .inference.backend import Cancellation, Chunk, ChunkStream, RawJson, Result

log = get_logger(__name__)

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def encode(chunk: Chunk) -> bytes:
    return chunk.data if isinstance(chunk, RawJson) else chunk.model_dump_json().encode()


def error_event(exc: BaseException) -> bytes:
    if isinstance(exc, ApiError):
        detail = exc.detail()
    else:
        error_id = uuid.uuid4().hex[:12]
        log.error("stream failed", error_id=error_id, exc_info=exc)
        detail = ErrorDetail(
            message=f"The server had an error while processing your request (error id {error_id}).",
            type="server_error",
            code="internal_error",
        )
    body = ErrorResponse(error=detail).model_dump_json(exclude={"error": {"errors"}})
    return b"data: " + body.encode() + b"\n\n"


async def server_sent_events(chunks: ChunkStream, cancel: Cancellation) -> AsyncIterator[bytes]:
    try:
        try:
            async for chunk in chunks:
                yield b"data: " + encode(chunk) + b"\n\n"
        except Exception as exc:  # noqa: BLE001 - too late for a status code: tell the client in-stream
            yield error_event(exc)
        yield DONE
    finally:
        cancel.cancel()
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await aclose()


async def _until_disconnected(receive: Receive, cancel: Cancellation) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            cancel.cancel()
            return


async def answer(
    request: Request[Any, Any, Any], call: Callable[[Cancellation], Awaitable[Result | ChunkStream]]
) -> Response[Any]:
    """Run ``call`` and answer with its JSON or its stream; a client leaving cancels it."""
    cancel = Cancellation()
    watcher = asyncio.create_task(_until_disconnected(request.receive, cancel))
    try:
        outcome = await call(cancel)
    except BaseException:
        cancel.cancel()
        raise
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
    if isinstance(outcome, RawJson):
        return Response(outcome.data, media_type=MediaType.JSON)
    if isinstance(outcome, BaseModel):
        return Response(outcome.model_dump_json().encode(), media_type=MediaType.JSON)
    return Stream(server_sent_events(outcome, cancel), media_type="text/event-stream", headers=SSE_HEADERS)
