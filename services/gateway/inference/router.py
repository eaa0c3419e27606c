"""Several backends at once: a model id is served by the first backend that has it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from skill_adapter.contracts.api import BackendHealth
from skill_adapter.contracts.openai import (
    ChatCompletionRequest,
    CompletionRequest,
    Model,
    ModelList,
    TokenizeRequest,
    TokenizeResponse,
)
from skill_adapter.runtime.log import get_logger

from ..errors import BadRequest, ModelNotFound
from ..settings import GatewaySettings, LocalBackendConfig
from .backend import AdapterSpec, Backend, Cancellation, ChunkStream, Result

log = get_logger(__name__)


def build_backends(settings: GatewaySettings) -> list[Backend]:
    """The backends ``settings.backends`` describes, in order."""
    from .local import LocalBackend
    from .upstream import OpenAIBackend

    backends: list[Backend] = []
    for index, config in enumerate(settings.backends):
        name = config.name or f"{config.kind}-{index}"
        if isinstance(config, LocalBackendConfig):
            backends.append(LocalBackend(config, settings, name))
        else:
            backends.append(OpenAIBackend(config, name, settings.resolved_adapters_dir()))
    return backends


REFRESH_ON_MISS_SECONDS = 1.0
"""At most this often, a request for an unknown model re-reads the upstreams' model lists first."""


class Router:
    def __init__(self, backends: Sequence[Backend]) -> None:
        self.backends = list(backends)
        self._last_refresh = 0.0
        self._unserved: set[str] = set()

    async def start(self) -> None:
        await asyncio.gather(*(backend.start() for backend in self.backends))

    async def aclose(self) -> None:
        for backend in self.backends:
            with contextlib.suppress(Exception):
                await backend.aclose()

    def backend_for(self, model_id: str) -> Backend:
        for backend in self.backends:
            if backend.serves(model_id):
                return backend
        raise ModelNotFound(model_id)

    async def resolve(self, model_id: str) -> Backend:
        """The backend for ``model_id``; an unknown id first refreshes the upstreams' lists
        (an upstream may have gained the model since the last periodic refresh)."""
        try:
            return self.backend_for(model_id)
        except ModelNotFound:
            if time.monotonic() - self._last_refresh < REFRESH_ON_MISS_SECONDS:
                raise
        await self.refresh()
        return self.backend_for(model_id)

    def models(self) -> ModelList:
        seen: dict[str, Model] = {}
        for backend in self.backends:
            for card in backend.models():
                seen.setdefault(card.id, card)
        return ModelList(data=list(seen.values()))

    async def retrieve(self, model_id: str) -> Model:
        backend = await self.resolve(model_id)
        for card in backend.models():
            if card.id == model_id:
                return card
        raise ModelNotFound(model_id)

    async def chat(self, request: ChatCompletionRequest, cancel: Cancellation) -> Result | ChunkStream:
        return await (await self.resolve(request.model)).chat(request, cancel)

    async def complete(self, request: CompletionRequest, cancel: Cancellation) -> Result | ChunkStream:
        return await (await self.resolve(request.model)).complete(request, cancel)

    async def tokenize(self, request: TokenizeRequest) -> TokenizeResponse:
        backend = await self.resolve(request.model)
        tokenize = getattr(backend, "tokenize", None)
        if tokenize is None:
            raise BadRequest(
                f"The backend serving `{request.model}` cannot count tokens.",
                param="model",
                code="unsupported",
            )
        return await tokenize(request)  # type: ignore[no-any-return]

    async def sync_adapters(self, adapters: Sequence[AdapterSpec]) -> None:
        unserved = {spec.adapter_id for spec in adapters if not any(b.claims(spec) for b in self.backends)}
        for adapter_id in sorted(unserved - self._unserved):
            spec = next(spec for spec in adapters if spec.adapter_id == adapter_id)
            log.warning(
                "promoted adapter not served: no backend serves its base model (or its files are missing)",
                adapter=adapter_id,
                base=spec.base_model,
                path=str(spec.path),
            )
        self._unserved = unserved
        for backend in self.backends:
            try:
                await backend.sync_adapters(adapters)
            except Exception as exc:  # noqa: BLE001 - one backend's trouble must not stop the others
                log.error("adapter sync failed", backend=backend.name, error=repr(exc))

    async def refresh(self) -> None:
        """Re-probe the backends that talk to upstreams."""
        self._last_refresh = time.monotonic()
        for backend in self.backends:
            refresh = getattr(backend, "refresh", None)
            if refresh is not None:
                await refresh()

    async def health(self) -> list[BackendHealth]:
        return list(await asyncio.gather(*(backend.health() for backend in self.backends)))
