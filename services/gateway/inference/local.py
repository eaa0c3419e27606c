"""The ``local`` backend: transformers + PEFT in the gateway process.

Each base model is loaded once through the model store (in the background at start-up; a
request for a model still loading waits for it) and gets its own ``ModelEngine``: a thread
that decodes every request on that model in one continuously batched loop (``scheduler.py``),
rows of the base and of its adapters together, with a prefix cache of recent prompts; a
client that goes away leaves the batch at the next step. Promoted adapters are loaded onto
their base with PEFT (``load_adapter``) on the engine's thread between two steps, so adapters
come and go without reloading the base and without racing a forward pass. A request's output
constraint (structured outputs) is compiled in a worker thread before it is queued, so an
invalid schema or regex is a plain 400.

torch, transformers and peft are imported only inside the functions that use them (and by
the model store), so the gateway imports and runs without them; a local backend then reports
why it cannot load its models.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import anyio

from skill_adapter.contracts.api import BackendHealth
from skill_adapter.contracts.openai import (
    ChatCompletionRequest,
    CompletionRequest,
    Model,
    TokenizeRequest,
    TokenizeResponse,
)
from skill_adapter.runtime.log import get_logger

from ..errors import ModelNotFound, ModelUnavailable
from ..settings import GatewaySettings, LocalBackendConfig, ServedModel
from .backend import OWNED_BY, AdapterSpec, Cancellation, ChunkStream, Result
from .constraints import Constraint, constraint_of
from .engine import Delta, EngineStats, SamplingParams
from .grammar import Grammar
from .local_model import (
    LoadedAdapter,
    LoadedModel,
    attach_adapter,
    detach_adapter,
    load_base,
    preflight,
    prepare_in_subprocess,
    same_base,
)
from .prompts import (
    chat_prompt_ids,
    completion_budget,
    completion_prompt_ids,
    refuse_unsupported,
    sampling_params,
)
from .responses import Header, chat_chunks, completion_chunks, completion_id, whole_chat, whole_completion
from .scheduler import ModelEngine, Request

log = get_logger(__name__)

LOCAL_EXTRA = "install the local engine: pip install 'agent-skill-adapter[local]'"
ADAPTER_RETRY_SECONDS = (1.0, 5.0, 30.0, 60.0)


@dataclass
class BaseSlot:
    served: ServedModel
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    loaded: LoadedModel | None = None
    engine: ModelEngine | None = None
    error: str | None = None


@dataclass
class AdapterFailure:
    reason: str
    attempts: int
    retry_at: float


class LocalBackend:
    kind = "local"

    def __init__(self, config: LocalBackendConfig, settings: GatewaySettings, name: str) -> None:
        self.name = name
        self.config = config
        self.settings = settings
        self.stats = EngineStats()
        self._slots = {served.id: BaseSlot(served) for served in config.served(settings.default_model)}
        self._adapters: dict[str, tuple[str, LoadedAdapter]] = {}  # adapter id -> (base id, adapter)
        self._failures: dict[str, AdapterFailure] = {}
        self._gate = threading.Semaphore(settings.max_concurrent_generations)  # models computing at once
        self._loader: asyncio.Task[None] | None = None
        self._sync_lock = asyncio.Lock()

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        self._loader = asyncio.create_task(self._load_all(), name=f"{self.name}-load")

    async def _load_all(self) -> None:
        for slot in self._slots.values():
            started = time.monotonic()
            try:
                await prepare_in_subprocess(self.settings, slot.served.location)
                slot.loaded = await anyio.to_thread.run_sync(
                    load_base, self.settings, self.config, slot.served
                )
                slot.engine = ModelEngine(
                    slot.loaded,
                    self.stats,
                    max_rows=self.config.max_batch_rows,
                    gate=self._gate,
                    prefix_cache_tokens=self.config.prefix_cache_tokens,
                    prefix_min_tokens=self.config.prefix_min_tokens,
                )
            except ImportError as exc:
                slot.error = f"cannot load {slot.served.location}: {exc}; {LOCAL_EXTRA}"
            except Exception as exc:  # noqa: BLE001 - reported on the model's requests and in /health
                slot.error = f"cannot load {slot.served.location}: {exc}"
            if slot.error:
                log.error("local model failed to load", model=slot.served.id, error=slot.error)
            else:
                log.info(
                    "local model loaded", model=slot.served.id, seconds=round(time.monotonic() - started, 2)
                )
            slot.ready.set()

    async def aclose(self) -> None:
        if self._loader is not None and not self._loader.done():
            self._loader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loader
        engines = [slot.engine for slot in self._slots.values() if slot.engine is not None]
        for engine in engines:
            engine.stop()  # every request ends (cancelled) once the current step is done
        for engine in engines:
            await anyio.to_thread.run_sync(engine.join)
        for slot in self._slots.values():
            slot.loaded, slot.engine = None, None
        self._adapters.clear()

    # -- what is served -----------------------------------------------------------------
    def models(self) -> list[Model]:
        cards = []
        for slot in self._slots.values():
            if slot.loaded is None:
                continue
            loaded = slot.loaded
            cards.append(
                Model(
                    id=slot.served.id,
                    created=loaded.created,
                    owned_by=OWNED_BY,
                    root=slot.served.location,
                    max_model_len=loaded.context_length,
                    chat_template_sha256=getattr(loaded.info, "chat_template_sha256", None),
                )
            )
            for adapter in loaded.adapters.values():
                cards.append(
                    Model(
                        id=adapter.spec.adapter_id,
                        created=adapter.spec.created or loaded.created,
                        owned_by=OWNED_BY,
                        root=str(adapter.spec.path),
                        parent=slot.served.id,
                        max_model_len=loaded.context_length,
                        chat_template_sha256=getattr(loaded.info, "chat_template_sha256", None),
                    )
                )
        return cards

    def serves(self, model_id: str) -> bool:
        return model_id in self._slots or model_id in self._adapters

    async def _target(self, model_id: str) -> tuple[LoadedModel, LoadedAdapter | None]:
        """The loaded model (and adapter) for ``model_id``, waiting while it loads."""
        adapter: LoadedAdapter | None = None
        if model_id in self._adapters:
            base_id, adapter = self._adapters[model_id]
            slot = self._slots[base_id]
        elif model_id in self._slots:
            slot = self._slots[model_id]
        else:
            raise ModelNotFound(model_id)
        await slot.ready.wait()
        if slot.loaded is None:
            raise ModelUnavailable(f"The model `{model_id}` is not available: {slot.error}")
        return slot.loaded, adapter

    async def tokenize(self, request: TokenizeRequest) -> TokenizeResponse:
        """Tokens of a conversation (through the chat template) or of a raw prompt."""
        loaded, _ = await self._target(request.model)
        if request.messages is not None:
            messages = request.messages
            ids = await anyio.to_thread.run_sync(
                lambda: chat_prompt_ids(
                    loaded.tokenizer, messages, add_generation_prompt=request.add_generation_prompt
                )
            )
        else:
            prompt = request.prompt or ""
            ids = await anyio.to_thread.run_sync(
                lambda: list(
                    loaded.tokenizer(prompt, add_special_tokens=request.add_special_tokens)["input_ids"]
                )
            )
        return TokenizeResponse(
            count=len(ids), max_model_len=loaded.context_length, tokens=ids if request.return_tokens else []
        )

    # -- generation ---------------------------------------------------------------------
    async def chat(self, request: ChatCompletionRequest, cancel: Cancellation) -> Result | ChunkStream:
        refuse_unsupported(request)
        constraint = constraint_of(request)
        loaded, adapter = await self._target(request.model)
        prompt_ids = await anyio.to_thread.run_sync(chat_prompt_ids, loaded.tokenizer, request.messages)
        budget = completion_budget(
            loaded.context_length,
            len(prompt_ids),
            request.completion_limit(),
            request.limit_param(),
            "messages",
        )
        params = sampling_params(request, budget, self._vocab_size(loaded))
        grammar = await self._compile(loaded, constraint)
        deltas = self._submit(loaded, adapter, [prompt_ids], params, cancel, grammar)
        header = Header(id=completion_id("chatcmpl"), model=request.model)
        if request.stream:
            return chat_chunks(deltas, header, params.n, len(prompt_ids), request.include_usage())
        return await whole_chat(deltas, header, params.n, len(prompt_ids))

    async def complete(self, request: CompletionRequest, cancel: Cancellation) -> Result | ChunkStream:
        refuse_unsupported(request)
        constraint = constraint_of(request)
        loaded, adapter = await self._target(request.model)
        vocab = self._vocab_size(loaded)

        def tokenize() -> list[list[int]]:
            return [completion_prompt_ids(loaded.tokenizer, p, vocab) for p in request.prompts()]

        prompts = await anyio.to_thread.run_sync(tokenize)
        longest = max(len(ids) for ids in prompts)
        budget = completion_budget(loaded.context_length, longest, request.max_tokens, "max_tokens", "prompt")
        params = sampling_params(request, budget, vocab)
        echoes: list[str] = []
        if request.echo:
            for prompt, ids in zip(request.prompts(), prompts, strict=True):
                text = prompt if isinstance(prompt, str) else loaded.tokenizer.decode(ids)
                echoes.extend([text] * params.n)
        prompt_tokens = sum(len(ids) for ids in prompts)
        grammar = await self._compile(loaded, constraint)
        deltas = self._submit(loaded, adapter, prompts, params, cancel, grammar)
        header = Header(id=completion_id("cmpl"), model=request.model)
        if request.stream:
            return completion_chunks(deltas, header, prompt_tokens, request.include_usage(), echoes)
        return await whole_completion(deltas, header, len(prompts) * params.n, prompt_tokens, echoes)

    @staticmethod
    def _vocab_size(loaded: LoadedModel) -> int:
        return int(getattr(loaded.model.config, "vocab_size", 0) or len(loaded.tokenizer))

    @staticmethod
    async def _compile(loaded: LoadedModel, constraint: Constraint | None) -> Grammar | None:
        """The compiled grammar of the request's constraint (cached per model), off the event loop."""
        if constraint is None:
            return None
        return await anyio.to_thread.run_sync(loaded.grammars.compile, constraint)

    def _submit(
        self,
        loaded: LoadedModel,
        adapter: LoadedAdapter | None,
        prompts: list[list[int]],
        params: SamplingParams,
        cancel: Cancellation,
        grammar: Grammar | None = None,
    ) -> AsyncIterator[list[Delta]]:
        """Queue the request on its model's engine (503 when too many wait); its deltas."""
        engine = self._engine(loaded)
        request = Request(
            prompts,
            params,
            cancel,
            adapter=adapter.name if adapter else None,
            group="" if adapter is None or adapter.mixable else adapter.name,
            grammar=grammar,
        )
        elsewhere = sum(s.engine.queued for s in self._slots.values() if s.engine not in (None, engine))
        engine.submit(request, max_queued=self.settings.max_queued_generations, queued_elsewhere=elsewhere)
        return request.items()

    def _engine(self, loaded: LoadedModel) -> ModelEngine:
        engine = self._slots[loaded.served.id].engine
        if engine is None:
            raise ModelUnavailable(f"The model `{loaded.served.id}` is not available.")
        return engine

    # -- adapters -----------------------------------------------------------------------
    def _base_for(self, spec: AdapterSpec) -> BaseSlot | None:
        wanted = {name for name in (spec.base_model, *spec.aliases) if name}
        for slot in self._slots.values():
            names = slot.loaded.names() if slot.loaded else {slot.served.id, slot.served.location}
            if wanted & names or any(same_base(a, b) for a in wanted for b in names if b):
                return slot
        return None

    def claims(self, adapter: AdapterSpec) -> bool:
        return self._base_for(adapter) is not None

    async def sync_adapters(self, adapters: Sequence[AdapterSpec]) -> None:
        async with self._sync_lock:
            wanted = {spec.adapter_id: spec for spec in adapters if self._base_for(spec) is not None}
            for adapter_id in [a for a in self._adapters if a not in wanted]:
                await self._unload(adapter_id)
            for adapter_id in [a for a, (_, loaded) in self._adapters.items() if loaded.spec != wanted[a]]:
                await self._unload(adapter_id)  # same id, new artifact: load it again
            self._failures = {k: v for k, v in self._failures.items() if k in wanted}
            for adapter_id, spec in wanted.items():
                if adapter_id in self._adapters:
                    continue
                failure = self._failures.get(adapter_id)
                if failure is not None and time.monotonic() < failure.retry_at:
                    continue
                slot = self._base_for(spec)
                if slot is None or slot.loaded is None:
                    continue  # the base is still loading (or failed); try again next time
                await self._load(slot.loaded, spec)

    async def _load(self, loaded: LoadedModel, spec: AdapterSpec) -> None:
        adapter = LoadedAdapter(spec, "a" + hashlib.sha256(spec.adapter_id.encode()).hexdigest()[:16])
        try:
            problems = await anyio.to_thread.run_sync(preflight, spec, loaded)
            if problems:
                raise ValueError("; ".join(problems))
            engine = self._engine(loaded)

            def attach() -> None:
                attach_adapter(loaded, adapter)
                engine.prefixes.invalidate(adapter.name)  # the same id may come back with new weights

            await engine.call(attach)
            loaded.adapters[spec.adapter_id] = adapter
        except Exception as exc:  # noqa: BLE001 - retried with backoff, visible in /health
            previous = self._failures.get(spec.adapter_id)
            attempts = previous.attempts + 1 if previous else 1
            delay = ADAPTER_RETRY_SECONDS[min(attempts, len(ADAPTER_RETRY_SECONDS)) - 1]
            self._failures[spec.adapter_id] = AdapterFailure(str(exc), attempts, time.monotonic() + delay)
            log.error(
                "adapter failed to load",
                adapter=spec.adapter_id,
                base=loaded.served.id,
                error=str(exc),
                retry_in_s=delay,
            )
            return
        self._failures.pop(spec.adapter_id, None)
        self._adapters[spec.adapter_id] = (loaded.served.id, adapter)
        log.info("adapter loaded", adapter=spec.adapter_id, base=loaded.served.id)

    async def _unload(self, adapter_id: str) -> None:
        base_id, adapter = self._adapters.pop(adapter_id)
        loaded = self._slots[base_id].loaded
        if loaded is None:
            return
        await self._engine(loaded).retire(adapter.name, lambda: detach_adapter(loaded, adapter))
        loaded.adapters.pop(adapter_id, None)
        log.info("adapter unloaded", adapter=adapter_id, base=base_id)

    # -- health -------------------------------------------------------------------------
    async def health(self) -> BackendHealth:
        errors = [f"{s.served.id}: {s.error}" for s in self._slots.values() if s.error]
        loading = [s.served.id for s in self._slots.values() if not s.ready.is_set()]
        failed = [f"adapter {k}: {v.reason}" for k, v in self._failures.items()]
        details = [*errors, *(f"{m}: loading" for m in loading), *failed]
        return BackendHealth(
            name=self.name,
            kind="local",
            healthy=not errors,
            models=[card.id for card in self.models()],
            detail="; ".join(details) or None,
        )
