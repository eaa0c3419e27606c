"""The interface every inference backend implements, and what flows through it.

A backend serves some model ids (base models and the adapters loaded on them). ``chat`` and
``complete`` return either a whole response or, for ``stream=true``, an async iterator of
chunks; anything wrong with the request is raised *before* the first chunk, so it still
becomes a plain HTTP error. A chunk is a wire model, or ``RawJson`` when an upstream's bytes
are passed through unchanged. ``Cancellation`` is how the route tells a backend that nobody is
listening any more (the client disconnected): it stops generating.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from skill_adapter.contracts.api import BackendHealth
from skill_adapter.contracts.openai import ChatCompletionRequest, CompletionRequest, Model

OWNED_BY = "skill-adapter"


@dataclass(frozen=True)
class RawJson:
    """A JSON document an upstream sent, passed on byte for byte."""

    data: bytes


Chunk = BaseModel | RawJson
ChunkStream = AsyncIterator[Chunk]
Result = BaseModel | RawJson


class Cancellation:
    """Set once the caller stops listening; generation checks it between tokens."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class AdapterSpec:
    """An adapter to serve (promoted, or a candidate): every backend that serves its base loads it.

    Its status is not part of it: a promotion changes who sees the adapter (the router's
    business), not what a backend has loaded.
    """

    adapter_id: str
    path: Path
    created: int = 0
    skill_name: str = field(default="", compare=False)
    base_model: str | None = field(default=None, compare=False)
    aliases: tuple[str, ...] = field(default=(), compare=False)
    """Other names of the base (e.g. the path in the adapter's own config)."""


@runtime_checkable
class Backend(Protocol):
    name: str
    kind: str

    async def start(self) -> None:
        """Begin serving (loading may go on in the background)."""

    async def aclose(self) -> None:
        """Stop generating and release models and connections."""

    def models(self) -> list[Model]:
        """The model ids servable right now, bases and adapters."""

    def serves(self, model_id: str) -> bool:
        """Whether ``model_id`` belongs here (even while it is still loading)."""

    async def chat(self, request: ChatCompletionRequest, cancel: Cancellation) -> Result | ChunkStream: ...

    async def complete(self, request: CompletionRequest, cancel: Cancellation) -> Result | ChunkStream: ...

    def claims(self, adapter: AdapterSpec) -> bool:
        """Whether this backend serves ``adapter``'s base (and so should serve the adapter)."""

    async def sync_adapters(self, adapters: Sequence[AdapterSpec]) -> None:
        """Make the loaded adapters those of ``adapters`` whose base this backend serves."""

    async def health(self) -> BackendHealth: ...
