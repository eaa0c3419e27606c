"""``POST /v1/chat/completions`` and ``POST /v1/completions`` (JSON, or SSE with ``stream``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from skill_adapter.contracts.openai import (
    ChatCompletion,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
)

from ..auth import requires
from ..errors import error_responses
from ..serving import InferencePlane
from ..streaming import answer
from ..visibility import Audience

STREAM_NOTE = (
    " With `stream: true` the answer is `text/event-stream`: `data: <chunk>` events, then `data: [DONE]`."
)


def _ok(model: type, what: str) -> dict[int, ResponseSpec]:
    return {
        200: ResponseSpec(data_container=model, description=what + STREAM_NOTE, generate_examples=False),
        **error_responses(404, 413, 429, 502, 503),
    }


class ChatCompletionController(Controller):
    path = "/v1/chat/completions"
    tags = ["chat"]
    guards = [requires("models:use")]

    @post(
        "/",
        operation_id="createChatCompletion",
        summary="Generate the assistant's reply to a conversation",
        status_code=200,
        responses=_ok(ChatCompletion, "The reply."),
    )
    async def create_chat_completion(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChatCompletionRequest],
        inference: NamedDependency[InferencePlane],
        audience: NamedDependency[Audience],
    ) -> Response[ChatCompletion]:
        return await answer(request, lambda cancel: inference.router.chat(data, cancel, audience))


class CompletionController(Controller):
    path = "/v1/completions"
    tags = ["completions"]
    guards = [requires("models:use")]

    @post(
        "/",
        operation_id="createCompletion",
        summary="Continue a prompt (no chat template)",
        status_code=200,
        responses=_ok(Completion, "The continuation."),
    )
    async def create_completion(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CompletionRequest],
        inference: NamedDependency[InferencePlane],
        audience: NamedDependency[Audience],
    ) -> Response[Completion]:
        return await answer(request, lambda cancel: inference.router.complete(data, cancel, audience))
