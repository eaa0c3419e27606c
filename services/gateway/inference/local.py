"""The ``local`` backend: transformers + PEFT in the gateway process.

Each base model is loaded once through the model store (in the background at start-up; a
request for a model still loading waits for it). Promoted adapters are loaded onto their base
with PEFT (``load_adapter``) and chosen per request with ``set_adapter``, or switched off with
``disable_adapter()`` for the base itself, so adapters come and go without reloading the base.
Generation runs in worker threads through the ``Scheduler`` (one generation per model at a
time, bounded concurrency and queue), and stops when the client goes away. A request's output
constraint (structured outputs) is compiled in a worker thread before its generation is queued,
so an invalid schema or regex is a plain 400.

torch, transformers and peft are imported only inside the functions that use them (and by
the model store), so the gateway imports and runs without them; a local backend then reports
why it cannot load its models.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
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
from .engine import Cancelled, Delta, EngineStats, SamplingParams, generate
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
from .scheduler import Scheduler

log = get_logger(__name__)

LOCAL_EXTRA = "install the local engine: pip install 'agent-skill-adapter[local]'"
ADAPTER_RETRY_SECONDS = (1.0, 5.0, 30.0, 60.0)


@dataclass
class BaseSlot:
    served: ServedModel
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    loaded: LoadedModel | None = None
    error: str | None = None


@dataclass
class AdapterFailure:
    reason: str
    attempts: int
    retry_at: float


def run_generation(
    loaded: LoadedModel,
    adapter: str | None,
    prompts: Sequence[list[int]],
    params: SamplingParams,
    stats: EngineStats,
    emit: Callable[[list[Delta]], None],
    cancel: Cancellation,
    grammar: Grammar | None = None,
) -> None:
    """The job a worker thread runs: every prompt in turn, n choices each."""
    if adapter is not None:
        loaded.peft.set_adapter(adapter)
        target, scope = loaded.peft, contextlib.nullcontext()
    elif loaded.peft is not None:
        target, scope = loaded.peft, loaded.peft.disable_adapter()
    else:
        target, scope = loaded.model, contextlib.nullcontext()
    stats.started()
    cancelled = False
    try:
        with scope:
            for number, prompt_ids in enumerate(prompts):
                generate(
                    target,
                    loaded.tokenizer,
                    prompt_ids,
                    params,
                    eos_ids=loaded.eos_ids,
                    emit=emit,
                    cancel=lambda: cancel.cancelled,
                    stats=stats,
                    index_offset=number * params.n,
                    grammar=grammar,
                )
    except Cancelled:
        cancelled = True
        log.info("generation cancelled: the client went away", model=loaded.served.id, adapter=adapter)
    finally:
        stats.ended(cancelled=cancelled)


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
        self._scheduler = Scheduler(settings.max_concurrent_generations, settings.max_queued_generations)
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
        await self._scheduler.aclose()
        for slot in self._slots.values():
            slot.loaded = None
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

    async def _target(self, model_id: str) -> tuple[LoadedModel, str | None]:
        """The loaded model (and PEFT adapter name) for ``model_id``, waiting while it loads."""
        if model_id in self._adapters:
            base_id, adapter = self._adapters[model_id]
            slot, adapter_name = self._slots[base_id], adapter.name
        elif model_id in self._slots:
            slot, adapter_name = self._slots[model_id], None
        else:
            raise ModelNotFound(model_id)
        await slot.ready.wait()
        if slot.loaded is None:
            raise ModelUnavailable(f"The model `{model_id}` is not available: {slot.error}")
        return slot.loaded, adapter_name

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
        adapter: str | None,
        prompts: list[list[int]],
        params: SamplingParams,
        cancel: Cancellation,
        grammar: Grammar | None = None,
    ) -> AsyncIterator[list[Delta]]:
        def work(emit: Callable[[list[Delta]], None], cancel: Cancellation) -> None:
            run_generation(loaded, adapter, prompts, params, self.stats, emit, cancel, grammar)

        job = self._scheduler.submit(loaded.lock, work, cancel)
        return job.items()

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
            async with loaded.lock:
                await anyio.to_thread.run_sync(attach_adapter, loaded, adapter)
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
        async with loaded.lock:
            await anyio.to_thread.run_sync(detach_adapter, loaded, adapter)
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
