"""Several backends at once: a model id is served by the first backend that has it.

What a request may see depends on its ``Audience`` (``..visibility``): a candidate adapter is
served to evaluators only, and for anyone else it is an unknown model on every route.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence

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
from ..visibility import EVERYONE, AdapterStatuses, Audience
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
        self.adapters = AdapterStatuses()

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

    async def resolve(self, model_id: str, audience: Audience = EVERYONE) -> Backend:
        """The backend for ``model_id``; an unknown id first refreshes the upstreams' lists
        (an upstream may have gained the model since the last periodic refresh). An adapter
        ``audience`` may not see is unknown to it."""
        try:
            backend = self.backend_for(model_id)
        except ModelNotFound:
            if time.monotonic() - self._last_refresh < REFRESH_ON_MISS_SECONDS:
                raise
            await self.refresh()
            backend = self.backend_for(model_id)
        if not self._visible(model_id, audience, backend):
            raise ModelNotFound(model_id)
        return backend

    def _visible(self, model_id: str, audience: Audience, backend: Backend) -> bool:
        return self.adapters.visible(
            model_id,
            audience,
            adapter=lambda: any(card.id == model_id and card.parent for card in backend.models()),
        )

    def _card(self, card: Model) -> Model:
        """``card`` with its registry status, for an adapter of the registry."""
        status = self.adapters.status(card.id)
        return card if status is None or card.status == status else card.model_copy(update={"status": status})

    def models(self, audience: Audience = EVERYONE) -> ModelList:
        seen: dict[str, Model] = {}
        for backend in self.backends:
            for card in backend.models():
                if card.id not in seen and self.adapters.visible(
                    card.id, audience, adapter=lambda card=card: card.parent is not None
                ):
                    seen[card.id] = self._card(card)
        return ModelList(data=list(seen.values()))

    async def retrieve(self, model_id: str, audience: Audience = EVERYONE) -> Model:
        backend = await self.resolve(model_id, audience)
        for card in backend.models():
            if card.id == model_id:
                return self._card(card)
        raise ModelNotFound(model_id)

    async def chat(
        self, request: ChatCompletionRequest, cancel: Cancellation, audience: Audience = EVERYONE
    ) -> Result | ChunkStream:
        return await (await self.resolve(request.model, audience)).chat(request, cancel)

    async def complete(
        self, request: CompletionRequest, cancel: Cancellation, audience: Audience = EVERYONE
    ) -> Result | ChunkStream:
        return await (await self.resolve(request.model, audience)).complete(request, cancel)

    async def tokenize(self, request: TokenizeRequest, audience: Audience = EVERYONE) -> TokenizeResponse:
        backend = await self.resolve(request.model, audience)
        tokenize = getattr(backend, "tokenize", None)
        if tokenize is None:
            raise BadRequest(
                f"The backend serving `{request.model}` cannot count tokens.",
                param="model",
                code="unsupported",
            )
        return await tokenize(request)  # type: ignore[no-any-return]

    async def sync_adapters(
        self, adapters: Sequence[AdapterSpec], statuses: Mapping[str, str] | None = None
    ) -> None:
        """Serve exactly ``adapters``; ``statuses`` (adapter id -> ``candidate``/``promoted``, every
        adapter of the registry that is not retired) decides who sees them, and is applied first,
        so a candidate is never shown to everyone while it loads. Without it every adapter served
        counts as promoted."""
        self.adapters.update(
            statuses if statuses is not None else {spec.adapter_id: "promoted" for spec in adapters}
        )
        unserved = {spec.adapter_id for spec in adapters if not any(b.claims(spec) for b in self.backends)}
        for adapter_id in sorted(unserved - self._unserved):
            spec = next(spec for spec in adapters if spec.adapter_id == adapter_id)
            log.warning(
                "adapter not served: no backend serves its base model (or its files are missing)",
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
        """Every backend as it sees itself, less the adapters only evaluators see (``/health`` is
        public): they are left out of ``models``, and their failures in ``detail`` (``adapter
        <id>: why``) do not name them."""
        reports = await asyncio.gather(*(backend.health() for backend in self.backends))
        hidden = self.adapters.candidates() | {
            card.id
            for backend in self.backends
            for card in backend.models()
            if not self.adapters.visible(card.id, EVERYONE, adapter=lambda card=card: card.parent is not None)
        }
        if not hidden:
            return list(reports)
        masked = []
        for report in reports:
            detail = report.detail
            for adapter_id in hidden:
                detail = detail.replace(f"adapter {adapter_id}:", "adapter (hidden):") if detail else detail
            models = [model for model in report.models if model not in hidden]
            masked.append(report.model_copy(update={"models": models, "detail": detail}))
        return masked
