"""OpenAI responses and chunks from the engine's deltas.

The streamed and the whole forms are built from the same deltas: a chat stream opens each
choice with ``{"role": "assistant", "content": ""}``, sends text as it comes, closes each
choice with an empty delta and its ``finish_reason``, and (with ``include_usage``) ends with
one chunk whose ``choices`` is empty and whose ``usage`` is set; every other chunk has
``usage: null``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from skill_adapter.contracts.openai import (
    ChatCompletion,
    ChatCompletionChoice,
    ChatCompletionChunk,
    ChatCompletionChunkChoice,
    ChatCompletionMessage,
    ChoiceDelta,
    Completion,
    CompletionChoice,
    CompletionChunk,
    FinishReason,
    Usage,
)

from .engine import Delta


def completion_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


@dataclass
class Header:
    """What every chunk of one response repeats."""

    id: str
    model: str
    created: int = field(default_factory=lambda: int(time.time()))


@dataclass
class Tally:
    """The text and token counts of every choice, as the deltas arrive."""

    prompt_tokens: int
    texts: dict[int, list[str]] = field(default_factory=dict)
    tokens: dict[int, int] = field(default_factory=dict)
    finish: dict[int, str] = field(default_factory=dict)

    def add(self, delta: Delta) -> None:
        self.texts.setdefault(delta.index, []).append(delta.text)
        self.tokens[delta.index] = delta.tokens
        if delta.finish_reason is not None:
            self.finish[delta.index] = delta.finish_reason

    def text(self, index: int) -> str:
        return "".join(self.texts.get(index, []))

    def usage(self) -> Usage:
        completion = sum(self.tokens.values())
        return Usage(
            completion_tokens=completion,
            prompt_tokens=self.prompt_tokens,
            total_tokens=self.prompt_tokens + completion,
        )


async def whole_chat(
    deltas: AsyncIterator[list[Delta]], header: Header, n: int, prompt_tokens: int
) -> ChatCompletion:
    tally = Tally(prompt_tokens)
    async for step in deltas:
        for delta in step:
            tally.add(delta)
    return ChatCompletion(
        id=header.id,
        created=header.created,
        model=header.model,
        choices=[
            ChatCompletionChoice(
                index=index,
                finish_reason=cast(FinishReason, tally.finish.get(index, "stop")),
                message=ChatCompletionMessage(content=tally.text(index)),
            )
            for index in range(n)
        ],
        usage=tally.usage(),
    )


def _chat_chunk(
    header: Header, choices: list[ChatCompletionChunkChoice], usage: Usage | None = None
) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id=header.id, created=header.created, model=header.model, choices=choices, usage=usage
    )


async def chat_chunks(
    deltas: AsyncIterator[list[Delta]],
    header: Header,
    n: int,
    prompt_tokens: int,
    include_usage: bool,
) -> AsyncIterator[ChatCompletionChunk]:
    tally = Tally(prompt_tokens)
    for index in range(n):
        opening = ChoiceDelta(role="assistant", content="")
        yield _chat_chunk(header, [ChatCompletionChunkChoice(index=index, delta=opening)])
    async for step in deltas:
        for delta in step:
            tally.add(delta)
            if delta.text:
                content = ChoiceDelta(content=delta.text)
                yield _chat_chunk(header, [ChatCompletionChunkChoice(index=delta.index, delta=content)])
            if delta.finish_reason is not None:
                closing = ChatCompletionChunkChoice(
                    index=delta.index,
                    delta=ChoiceDelta(),
                    finish_reason=cast(FinishReason, delta.finish_reason),
                )
                yield _chat_chunk(header, [closing])
    if include_usage:
        yield _chat_chunk(header, [], tally.usage())


async def whole_completion(
    deltas: AsyncIterator[list[Delta]],
    header: Header,
    choices: int,
    prompt_tokens: int,
    echoes: Sequence[str] = (),
) -> Completion:
    tally = Tally(prompt_tokens)
    async for step in deltas:
        for delta in step:
            tally.add(delta)
    return Completion(
        id=header.id,
        created=header.created,
        model=header.model,
        choices=[
            CompletionChoice(
                index=index,
                finish_reason=cast(Any, tally.finish.get(index, "stop")),
                text=(echoes[index] if echoes else "") + tally.text(index),
            )
            for index in range(choices)
        ],
        usage=tally.usage(),
    )


def _completion_chunk(
    header: Header, choices: list[CompletionChoice], usage: Usage | None = None
) -> CompletionChunk:
    return CompletionChunk(
        id=header.id, created=header.created, model=header.model, choices=choices, usage=usage
    )


async def completion_chunks(
    deltas: AsyncIterator[list[Delta]],
    header: Header,
    prompt_tokens: int,
    include_usage: bool,
    echoes: Sequence[str] = (),
) -> AsyncIterator[CompletionChunk]:
    tally = Tally(prompt_tokens)
    for index, echo in enumerate(echoes):
        yield _completion_chunk(header, [CompletionChoice(index=index, text=echo, finish_reason=None)])
    async for step in deltas:
        for delta in step:
            tally.add(delta)
            if delta.text or delta.finish_reason is not None:
                choice = CompletionChoice(
                    index=delta.index, text=delta.text, finish_reason=cast(Any, delta.finish_reason)
                )
                yield _completion_chunk(header, [choice])
    if include_usage:
        yield _completion_chunk(header, [], tally.usage())
