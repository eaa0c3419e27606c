"""The ``openai`` and ``vllm`` backends: proxy to an OpenAI-compatible server with httpx.

Requests go upstream as the client sent them (unknown fields included); answers come back
byte for byte, streams chunk by chunk, so the gateway adds routing and auth and little else.
An upstream error becomes our envelope: its own 4xx (message, param, code) when the request
was at fault, 502 when the upstream failed or refused the gateway's key, 504 on a timeout.
A client that disconnects closes the upstream request (streamed or not), which stops the upstream
generating (vLLM aborts a request whose connection closes).

A ``vllm`` upstream also gets the promoted adapters of its bases with
``POST /v1/load_lora_adapter`` and loses retired ones with ``/v1/unload_lora_adapter``;
``refresh`` (periodic) re-reads what it really has loaded, so a restarted vLLM is refilled, and
an adapter it still has from our adapters folder that is no longer promoted (retired while this
gateway was down) is unloaded. A retired adapter is hidden at once, even while its unload is
still being retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from pathlib import Path
from typing import Any, cast, get_args

import httpx
from pydantic import ValidationError

from skill_adapter.contracts.api import BackendHealth, ErrorType
from skill_adapter.contracts.openai import (
    ChatCompletionRequest,
    CompletionRequest,
    Model,
    ModelList,
    TokenizeRequest,
    TokenizeResponse,
)
from skill_adapter.runtime.log import get_logger

from ..errors import ModelNotFound, UpstreamError
from ..settings import OpenAIBackendConfig
from .backend import OWNED_BY, AdapterSpec, Cancellation, Chunk, ChunkStream, RawJson, Result

log = get_logger(__name__)

RETRY_SECONDS = (1.0, 5.0, 30.0, 60.0)
CANCEL_POLL_SECONDS = 0.1
"""How often a waiting non-streamed request checks whether its client is still there."""
_ERROR_TYPES = set(get_args(ErrorType))


def upstream_error(
    name: str, status: int, body: bytes, headers: httpx.Headers | None = None
) -> UpstreamError:
    """Our envelope for an upstream's error answer."""
    error: dict[str, Any] = {}
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict):
            candidate = parsed.get("error", parsed)
            error = candidate if isinstance(candidate, dict) else {"message": str(candidate)}
    except ValueError:
        pass
    message = str(error.get("message") or body[:500].decode(errors="replace") or f"HTTP {status}")
    param = error.get("param") if isinstance(error.get("param"), str) else None
    code = error.get("code") if isinstance(error.get("code"), str) else None
    kind = error.get("type") if error.get("type") in _ERROR_TYPES else "invalid_request_error"
    if status == 429:
        retry = {"Retry-After": headers["retry-after"]} if headers and "retry-after" in headers else {}
        return UpstreamError(message, status_code=429, type="rate_limit_error", code=code, headers=retry)
    if status in (401, 403):
        return UpstreamError(
            f"The upstream backend {name!r} refused the gateway's credentials (HTTP {status}).",
            status_code=502,
        )
    if 400 <= status < 500:
        return UpstreamError(message, status_code=status, type=cast(ErrorType, kind), param=param, code=code)
    return UpstreamError(f"The upstream backend {name!r} failed (HTTP {status}): {message}", status_code=502)


def transport_error(name: str, exc: httpx.HTTPError) -> UpstreamError:
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamError(
            f"The upstream backend {name!r} timed out.", status_code=504, code="upstream_timeout"
        )
    return UpstreamError(f"The upstream backend {name!r} cannot be reached: {exc!r}.", status_code=502)


class OpenAIBackend:
    def __init__(
        self,
        config: OpenAIBackendConfig,
        name: str,
        adapters_dir: Path,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.kind = "vllm" if config.is_vllm else "openai"
        self._adapters_dir = adapters_dir
        base_url = config.base_url.rstrip("/")
        self._origin = base_url.removesuffix("/v1")
        headers = {"Authorization": f"Bearer {config.api_key.get_secret_value()}"} if config.api_key else {}
        self._client = httpx.AsyncClient(
            base_url=base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
            transport=transport,
        )
        self._upstream: dict[str, Model] = {}
        self._loaded: dict[str, AdapterSpec] = {}
        self._unloading: set[str] = set()
        self._failures: dict[str, tuple[int, float, str]] = {}
        self._healthy = False
        self._detail: str | None = "not checked yet"

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        await self.refresh()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def refresh(self) -> None:
        """Probe the upstream and re-read its models (and, for vLLM, its loaded adapters)."""
        try:
            if self.config.is_vllm:
                health = await self._client.get(f"{self._origin}/health")
                if health.status_code != 200:
                    raise upstream_error(self.name, health.status_code, health.content)
            response = await self._client.get("models")
            if response.status_code != 200:
                raise upstream_error(self.name, response.status_code, response.content)
            listed = ModelList.model_validate_json(response.content)
        except (httpx.HTTPError, UpstreamError, ValidationError) as exc:
            message = exc.message if isinstance(exc, UpstreamError) else repr(exc)
            if self._healthy or self._detail == "not checked yet":
                log.warning("upstream backend unhealthy", backend=self.name, error=message)
            self._healthy, self._detail = False, message
            return
        if not self._healthy:
            log.info("upstream backend healthy", backend=self.name, models=[m.id for m in listed.data])
        self._healthy, self._detail = True, None
        self._upstream = {card.id: card for card in listed.data}
        if self.config.is_vllm:
            present = {card.id for card in listed.data if card.parent}
            self._loaded = {k: v for k, v in self._loaded.items() if k in present}

    # -- what is served -----------------------------------------------------------------
    def _bases(self) -> set[str]:
        if self.config.models:
            return set(self.config.models)
        return {card.id for card in self._upstream.values() if not card.parent}

    def models(self) -> list[Model]:
        bases = self._bases()
        cards = []
        for model_id in sorted(bases):
            card = self._upstream.get(model_id)
            cards.append(card or Model(id=model_id, created=0, owned_by=OWNED_BY))
        for card in self._upstream.values():
            if card.parent in bases and card.id not in bases and card.id not in self._unloading:
                cards.append(card)
        return cards

    def serves(self, model_id: str) -> bool:
        if model_id in self._bases():
            return True
        if model_id in self._unloading:
            return False
        card = self._upstream.get(model_id)
        return (card is not None and card.parent in self._bases()) or model_id in self._loaded

    # -- generation ---------------------------------------------------------------------
    async def chat(self, request: ChatCompletionRequest, cancel: Cancellation) -> Result | ChunkStream:
        return await self._forward("chat/completions", request, bool(request.stream), cancel)

    async def complete(self, request: CompletionRequest, cancel: Cancellation) -> Result | ChunkStream:
        return await self._forward("completions", request, bool(request.stream), cancel)

    async def _forward(
        self,
        path: str,
        request: ChatCompletionRequest | CompletionRequest,
        stream: bool,
        cancel: Cancellation,
    ) -> Result | ChunkStream:
        body = request.model_dump(mode="json", exclude_unset=True)
        try:
            if not stream:
                response = await self._unless_cancelled(self._client.post(path, json=body), cancel)
                if response.status_code != 200:
                    raise self._refused(request.model, response, response.content)
                return RawJson(response.content)
            streamed = self._client.send(self._client.build_request("POST", path, json=body), stream=True)
            upstream = await self._unless_cancelled(streamed, cancel)  # until its headers come
        except httpx.HTTPError as exc:
            raise transport_error(self.name, exc) from exc
        if upstream.status_code != 200:
            content = await upstream.aread()
            await upstream.aclose()
            raise self._refused(request.model, upstream, content)
        return self._relay(upstream)

    async def _unless_cancelled(
        self, call: Coroutine[Any, Any, httpx.Response], cancel: Cancellation
    ) -> httpx.Response:
        """``call``'s answer; if the client leaves first, the upstream request is closed."""
        task = asyncio.ensure_future(call)
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=CANCEL_POLL_SECONDS)
                if cancel.cancelled and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    raise UpstreamError(
                        "The client went away; the upstream request was closed.",
                        status_code=499,
                        code="client_closed_request",
                    )
            return task.result()
        finally:
            if not task.done():  # we were cancelled ourselves
                task.cancel()

    async def tokenize(self, request: TokenizeRequest) -> TokenizeResponse:
        """vLLM's ``/tokenize`` (at the server's root); an upstream without it answers 404."""
        body = request.model_dump(mode="json", exclude_unset=True)
        body.pop("return_tokens", None)
        try:
            response = await self._client.post(f"{self._origin}/tokenize", json=body)
        except httpx.HTTPError as exc:
            raise transport_error(self.name, exc) from exc
        if response.status_code != 200:
            if response.status_code == 404 and not self.config.is_vllm:
                raise UpstreamError(
                    f"The upstream backend {self.name!r} cannot count tokens (no /tokenize).",
                    status_code=400,
                    param="model",
                    code="unsupported",
                )
            raise self._refused(request.model, response, response.content)
        try:
            counted = TokenizeResponse.model_validate_json(response.content)
        except ValidationError as exc:
            raise UpstreamError(
                f"The upstream backend {self.name!r} answered a malformed /tokenize: {exc}"
            ) from exc
        return counted if request.return_tokens else counted.model_copy(update={"tokens": []})

    def _refused(self, model: str, response: httpx.Response, content: bytes) -> UpstreamError | ModelNotFound:
        if response.status_code == 404 and b"model" in content.lower():
            return ModelNotFound(model)
        return upstream_error(self.name, response.status_code, content, response.headers)

    async def _relay(self, upstream: httpx.Response) -> AsyncIterator[Chunk]:
        try:
            async for line in upstream.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                yield RawJson(data.encode())
        except httpx.HTTPError as exc:
            raise transport_error(self.name, exc) from exc
        finally:
            await upstream.aclose()
        raise UpstreamError(f"The upstream backend {self.name!r} ended the stream before [DONE].")

    # -- adapters (vLLM) ----------------------------------------------------------------
    def _serves_base_of(self, spec: AdapterSpec) -> bool:
        from skill_adapter.modelstore import same_model

        names = set(self._bases())
        names |= {card.root for card in self._upstream.values() if card.root and card.id in names}
        wanted = {n for n in (spec.base_model, *spec.aliases) if n}
        return bool(wanted & names) or any(same_model(a, b) for a in wanted for b in names)

    def claims(self, adapter: AdapterSpec) -> bool:
        return self.config.is_vllm and self._serves_base_of(adapter)

    def lora_path(self, spec: AdapterSpec) -> str:
        """Where the vLLM server finds ``spec``'s files: under ``lora_root`` when one is set.

        ``spec.path`` is resolved (symlinks followed), the configured adapters folder need not be.
        """
        if self.config.lora_root is None:
            return str(spec.path)
        for folder in (self._adapters_dir, self._adapters_dir.resolve()):
            if spec.path.is_relative_to(folder):
                return str(Path(self.config.lora_root) / spec.path.relative_to(folder))
        return str(spec.path)

    def _from_our_folder(self, card: Model) -> bool:
        """Whether vLLM loaded this adapter from our adapters folder (so the registry owns it)."""
        if not card.parent or not card.root:
            return False
        roots = [Path(self.config.lora_root)] if self.config.lora_root else []
        roots += [self._adapters_dir, self._adapters_dir.resolve()]
        return any(Path(card.root).is_relative_to(root) for root in roots)

    def _backing_off(self, adapter_id: str, now: float) -> bool:
        return self._failures.get(adapter_id, (0, 0.0, ""))[1] > now

    async def sync_adapters(self, adapters: Sequence[AdapterSpec]) -> None:
        if not self.config.is_vllm or not self._healthy:
            return
        wanted = {spec.adapter_id: spec for spec in adapters if self._serves_base_of(spec)}
        stale = {a for a, spec in self._loaded.items() if wanted.get(a) != spec}
        stale |= {  # loaded by an earlier run of a gateway, since retired
            card.id
            for card in self._upstream.values()
            if card.id not in wanted and card.id not in self._loaded and self._from_our_folder(card)
        }
        self._unloading = {a for a in stale if a not in wanted}  # hidden now, whatever the unload does
        self._failures = {a: f for a, f in self._failures.items() if a in wanted or a in stale}
        changed = False
        now = time.monotonic()
        for adapter_id in sorted(stale):
            if self._backing_off(adapter_id, now):
                continue
            payload = {"lora_name": adapter_id}
            if await self._post_adapter("unload_lora_adapter", payload, adapter_id, loading=False):
                self._loaded.pop(adapter_id, None)
                self._unloading.discard(adapter_id)
                changed = True
        for adapter_id, spec in wanted.items():
            if adapter_id in self._loaded or self._backing_off(adapter_id, now):
                continue
            payload = {"lora_name": adapter_id, "lora_path": self.lora_path(spec)}
            if await self._post_adapter("load_lora_adapter", payload, adapter_id, loading=True):
                self._loaded[adapter_id] = spec
                changed = True
        if changed:
            await self.refresh()  # list what the server now really serves

    async def _post_adapter(
        self, route: str, payload: dict[str, str], adapter_id: str, *, loading: bool
    ) -> bool:
        try:
            response = await self._client.post(route, json=payload)
        except httpx.HTTPError as exc:
            return self._adapter_failed(adapter_id, route, repr(exc))
        # vLLM answers 400 "has already been loaded" and 404 "cannot be found": the state we want
        text = response.text.lower()
        if response.status_code == 200 or ("already" in text if loading else response.status_code == 404):
            self._failures.pop(adapter_id, None)
            log.info(
                "upstream adapter " + ("loaded" if loading else "unloaded"),
                backend=self.name,
                adapter=adapter_id,
            )
            return True
        return self._adapter_failed(adapter_id, route, f"HTTP {response.status_code}: {response.text[:300]}")

    def _adapter_failed(self, adapter_id: str, route: str, reason: str) -> bool:
        attempts = self._failures.get(adapter_id, (0, 0.0, ""))[0] + 1
        delay = RETRY_SECONDS[min(attempts, len(RETRY_SECONDS)) - 1]
        self._failures[adapter_id] = (attempts, time.monotonic() + delay, reason)
        log.error(
            "upstream adapter call failed", backend=self.name, route=route, adapter=adapter_id, error=reason
        )
        return False

    # -- health -------------------------------------------------------------------------
    async def health(self) -> BackendHealth:
        failed = [f"adapter {k}: {reason}" for k, (_, _, reason) in self._failures.items()]
        detail = "; ".join([d for d in (self._detail, *failed) if d]) or None
        return BackendHealth(
            name=self.name,
            kind=cast(Any, self.kind),
            healthy=self._healthy,
            models=[card.id for card in self.models()],
            detail=detail,
        )
