"""Continuous batching: one engine thread per loaded model; requests join and leave between steps.

A ``ModelEngine`` owns its model's batch (``batch.py``). Every step it runs what must happen
between two forward passes (adapter attach/detach, ``call``), drops the rows of requests whose
client went away, admits waiting prompts (each prefilled alone, one row, starting from the
prefix cache when a recent prompt shares its beginning, then copied to one row per choice and
merged into the batch), and decodes one token for every row at once. A prompt's rows leave as
soon as its choices finish. ``max_rows`` bounds the rows of a batch, and ``max_queued``
(across a backend's engines) how many requests may wait for room before ``submit`` answers
503; a request that can join at once never counts as waiting.

Rows of the base model and of LoRA adapters share one batch (PEFT's mixed-adapter forward, see
``local_model.forward_with``). An adapter that cannot be mixed forms its own group: a batch
holds one group, and while another group waits the current one admits nobody new, so the batch
drains and the oldest waiting group goes next (no group starves). A semaphore shared by the
engines of one backend bounds how many models compute at once. Output crosses back to the
event loop through each request's ``asyncio.Queue``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from skill_adapter.runtime.log import get_logger

from ..errors import EngineOverloaded, ModelUnavailable
from .backend import Cancellation
from .batch import Batch, new_cache, plain_layers, prefill
from .engine import Delta, EngineStats, PromptRun, SamplingParams
from .local_model import LoadedModel, forward_with
from .prefix_cache import PrefixCache

if TYPE_CHECKING:
    from .grammar import Grammar

log = get_logger(__name__)

PREFILL_TOKENS_PER_STEP = 256
"""Prompt tokens prefilled between two decode steps (at least one prompt): bounds how long
the rows already decoding wait when many prompts arrive at once."""

_DONE = object()


class Request:
    """One API request on one model: its prompts (``n`` choices each) and where deltas go.

    Created on the event loop; the engine thread emits into ``queue`` through that loop.
    ``group``: requests of different groups never share a batch ("" for the base model and
    mixable adapters).
    """

    def __init__(
        self,
        prompts: Sequence[list[int]],
        params: SamplingParams,
        cancel: Cancellation,
        *,
        adapter: str | None = None,
        group: str = "",
        grammar: Grammar | None = None,
    ) -> None:
        self.prompts = [list(prompt) for prompt in prompts]
        self.params = params
        self.cancel = cancel
        self.adapter = adapter
        self.group = group
        self.grammar = grammar
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.error: BaseException | None = None
        self.started = False  # a prompt of it has been prefilled
        self.finished = False
        self.open = len(self.prompts)  # prompts whose choices are not all finished

    @property
    def rows(self) -> int:
        return len(self.prompts) * self.params.n

    def _put(self, item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is gone: nobody reads any more
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def emit(self, deltas: list[Delta]) -> None:
        self._put(deltas)

    def close(self, error: BaseException | None = None) -> None:
        self.error = error
        self._put(_DONE)  # after the last emit: call_soon_threadsafe keeps the order

    async def items(self) -> AsyncIterator[list[Delta]]:
        """The deltas of each step, in order; the generation's exception at the end, if any.

        Leaving early (the client went away) cancels the request: its rows leave the batch at
        the next step.
        """
        try:
            while True:
                item = await self.queue.get()
                if item is _DONE:
                    break
                yield item
        finally:
            if not self.finished:
                self.cancel.cancel()
        if self.error is not None:
            raise self.error


@dataclass(eq=False)
class _Run:
    """One prompt of a request on its way through the engine."""

    request: Request
    prompt: list[int]
    index_offset: int
    state: PromptRun | None = None

    @property
    def rows(self) -> int:
        return len(self.state.live) if self.state is not None else self.request.params.n


@dataclass(eq=False)
class _Command:
    work: Callable[[], Any]
    ready: Callable[[], bool]
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)


class ModelEngine:
    """The batch of one loaded model and the thread that steps it."""

    def __init__(
        self,
        loaded: LoadedModel,
        stats: EngineStats,
        *,
        max_rows: int,
        gate: threading.Semaphore,
        prefix_cache_tokens: int = 0,
        prefix_min_tokens: int = 32,
    ) -> None:
        self.loaded = loaded
        self.stats = stats
        self.max_rows = max_rows
        self.prefixes = PrefixCache(prefix_cache_tokens, prefix_min_tokens)
        self._gate = gate
        self._device = next(loaded.model.parameters()).device
        self._cond = threading.Condition()
        self._waiting: deque[_Run] = deque()
        self._admitted: deque[_Run] = deque()  # chosen for the batch, prefill pending
        self._active: list[_Run] = []  # in the batch, in the order of their rows
        self._group = ""
        self._rows = 0  # rows in the batch plus rows admitted
        self._mergeable: bool | None = None  # whether this model's caches can be merged (once known)
        self._commands: list[_Command] = []
        self._retiring: set[str] = set()
        self._stopping = False
        self._batch = Batch()
        self._thread = threading.Thread(target=self._loop, name=f"engine-{loaded.served.id}", daemon=True)
        self._thread.start()

    # -- the event loop's side ----------------------------------------------------------
    @property
    def queued(self) -> int:
        """Requests waiting for room in the batch."""
        with self._cond:
            return len({run.request for run in self._waiting})

    def submit(self, request: Request, *, max_queued: int, queued_elsewhere: int = 0) -> None:
        """Queue ``request``; 503 when it would wait while ``max_queued`` requests already do."""
        runs = [_Run(request, p, number * request.params.n) for number, p in enumerate(request.prompts)]
        with self._cond:
            if self._stopping:
                raise ModelUnavailable(f"The model `{self.loaded.served.id}` is shutting down.")
            if request.adapter in self._retiring:
                raise ModelUnavailable("The adapter is being unloaded.")
            busy = self._rows > 0
            room = self._mergeable is not False and self._rows + request.rows <= self.max_rows
            fits = not self._waiting and (not busy or (request.group == self._group and room))
            waiting = len({run.request for run in self._waiting})
            if not fits and queued_elsewhere + waiting >= max_queued:
                raise EngineOverloaded()
            self._waiting.extend(runs)
            self._cond.notify()

    def call(
        self, work: Callable[[], Any], *, ready: Callable[[], bool] | None = None
    ) -> asyncio.Future[Any]:
        """Run ``work`` on the engine's thread between two steps (once ``ready()``); its result."""
        command = _Command(work, ready or (lambda: True))
        with self._cond:
            if self._stopping:
                raise ModelUnavailable(f"The model `{self.loaded.served.id}` is shutting down.")
            self._commands.append(command)
            self._cond.notify()
        return asyncio.wrap_future(command.future)

    def retire(self, adapter: str, work: Callable[[], Any]) -> asyncio.Future[Any]:
        """Run ``work`` (detaching ``adapter``) once no row uses it; requests still waiting for
        it fail, those already decoding finish first. Its prefix-cache entries are dropped."""

        def unused() -> bool:
            return not any(run.request.adapter == adapter for run in (*self._admitted, *self._active))

        def detach() -> Any:
            try:
                return work()
            finally:
                self.prefixes.invalidate(adapter)
                self._retiring.discard(adapter)

        with self._cond:
            self._retiring.add(adapter)
        return self.call(detach, ready=unused)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # -- the engine's thread ------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._has_work():
                    self._cond.wait()
                if self._stopping:
                    break
                commands = [c for c in self._commands if c.ready()]
                self._commands = [c for c in self._commands if c not in commands]
            try:
                self._step(commands)
            except Exception as exc:  # a bug: what is in flight fails rather than hangs
                log.exception("engine step failed", model=self.loaded.served.id)
                with self._cond:
                    requests = {run.request for run in (*self._waiting, *self._admitted, *self._active)}
                for request in requests:
                    self._end(request, error=exc, evict=False)
                self._active = []
                self._batch.clear()
                self._recount()
        self._shutdown()

    def _step(self, commands: list[_Command]) -> None:
        import torch

        for command in commands:
            try:
                command.future.set_result(command.work())
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                command.future.set_exception(exc)
        self._drop_gone()
        with self._cond:
            self._select()
        if self._admitted or self._active:
            with self._gate, torch.inference_mode():
                self._prefill_some()
                if self._active:
                    self._decode()

    def _has_work(self) -> bool:
        return bool(self._waiting or self._admitted or self._active or any(c.ready() for c in self._commands))

    def _drop_gone(self) -> None:
        """End the requests whose client went away, and those waiting for a retiring adapter."""
        with self._cond:
            runs = (*self._waiting, *self._admitted, *self._active)
            cancelled = {run.request for run in runs if run.request.cancel.cancelled}
            orphans = {run.request for run in self._waiting if run.request.adapter in self._retiring}
        for request in cancelled:
            self._end(request, cancelled=True)
        for request in orphans - cancelled:
            self._end(request, error=ModelUnavailable("The adapter was unloaded."))

    def _select(self) -> None:
        """Move waiting prompts that may join the batch now to ``_admitted`` (lock held)."""
        if not self._waiting:
            return
        busy = self._rows > 0
        if busy:
            if self._mergeable is False or any(r.request.group != self._group for r in self._waiting):
                return  # the batch cannot grow, or another group waits: let this one drain
        else:
            self._group = self._waiting[0].request.group
        for run in [r for r in self._waiting if r.request.group == self._group]:
            if busy and (self._rows + run.rows > self.max_rows or self._mergeable is False):
                break
            self._waiting.remove(run)
            self._admitted.append(run)
            self._rows += run.rows
            busy = True

    def _prefill_some(self) -> None:
        budget = PREFILL_TOKENS_PER_STEP
        while self._admitted and budget > 0:
            if self._batch.rows and self._mergeable is False:
                with self._cond:  # learnt from the first prompt: the rest wait for an empty batch
                    while self._admitted:
                        run = self._admitted.pop()
                        self._rows -= run.rows
                        self._waiting.appendleft(run)
                return
            with self._cond:
                run = self._admitted.popleft()
            if not run.request.finished:
                try:
                    budget -= self._prefill(run)
                except Exception as exc:
                    log.exception("prefill failed", model=self.loaded.served.id)
                    self._end(run.request, error=exc)
            self._recount()

    def _prefill(self, run: _Run) -> int:
        """Prefill one prompt, sample its first tokens, merge its rows; prompt tokens computed."""
        request, loaded = run.request, self.loaded
        adapter = request.adapter
        if adapter is not None and (loaded.peft is None or adapter not in loaded.peft.peft_config):
            raise ModelUnavailable("The adapter was unloaded.")
        if not request.started:
            request.started = True
            self.stats.started()
        run.state = PromptRun(
            run.prompt,
            request.params,
            loaded.tokenizer,
            loaded.eos_ids,
            self._device,
            index_offset=run.index_offset,
            grammar=request.grammar,
        )
        cache, reused = self.prefixes.lookup(adapter, run.prompt)
        if cache is None:
            cache = new_cache(loaded.model)
        with forward_with(loaded, [adapter]) as forward:
            logits = prefill(forward, run.prompt, self._device, cache)
        computed = len(run.prompt) - reused
        self.stats.prefilled(computed, reused)
        self._mergeable = plain_layers(cache)
        self.prefixes.store(adapter, run.prompt, cache)
        tokens, deltas = run.state.first(logits)
        self.stats.add_tokens(len(deltas))
        request.emit(deltas)
        if run.state.done:
            self._finished(run)
        else:
            self._batch.join(cache, tokens, self._device)
            self._active.append(run)
        return computed

    def _decode(self) -> None:
        """One token for every row of the batch."""
        adapters = [run.request.adapter for run in self._active for _ in range(run.rows)]
        try:
            with forward_with(self.loaded, adapters) as forward:
                logits = self._batch.step(forward)
        except Exception as exc:
            log.exception("decode step failed", model=self.loaded.served.id, rows=len(adapters))
            for request in {run.request for run in self._active}:
                self._end(request, error=exc, evict=False)
            self._active = []
            self._batch.clear()
            self._recount()
            return
        self.stats.stepped(len(adapters))
        steps: list[tuple[_Run, int, list[int], list[int]]] = []
        emitted: dict[Request, list[Delta]] = {}
        failed: dict[Request, Exception] = {}
        offset = 0
        for run in self._active:
            rows, request = run.rows, run.request
            assert run.state is not None
            if request not in failed:
                try:
                    going_on, tokens, deltas = run.state.sample(logits[offset : offset + rows])
                except Exception as exc:  # noqa: BLE001 - e.g. its grammar failed: that request ends
                    failed[request] = exc
                else:
                    steps.append((run, offset, going_on, tokens))
                    emitted.setdefault(request, []).extend(deltas)
                    self.stats.add_tokens(len(deltas))
            offset += rows
        for request, deltas in emitted.items():
            if request not in failed:
                request.emit(deltas)
        keep: list[int] = []
        pending: list[int] = []
        active: list[_Run] = []
        done: list[_Run] = []
        for run, start, going_on, tokens in steps:
            if run.request in failed:
                continue
            keep.extend(start + position for position in going_on)
            pending.extend(tokens)
            (done if run.state is not None and run.state.done else active).append(run)
        self._active = active
        self._batch.advance(pending, keep)
        self._recount()
        for run in done:
            self._finished(run)
        for request, exc in failed.items():
            self._end(request, error=exc, evict=False)

    def _recount(self) -> None:
        with self._cond:
            self._rows = self._batch.rows + sum(run.rows for run in self._admitted)

    def _finished(self, run: _Run) -> None:
        run.request.open -= 1
        if run.request.open == 0:
            self._end(run.request)

    def _end(
        self,
        request: Request,
        *,
        error: BaseException | None = None,
        cancelled: bool = False,
        evict: bool = True,
    ) -> None:
        """Finish ``request``: its runs leave the queue and (``evict``) the batch; close its output."""
        if request.finished:
            return
        request.finished = True
        with self._cond:
            for queue in (self._waiting, self._admitted):
                for run in [r for r in queue if r.request is request]:
                    queue.remove(run)
        if evict and any(run.request is request for run in self._active):
            keep, offset, active = [], 0, []
            for run in self._active:
                if run.request is not request:
                    keep.extend(range(offset, offset + run.rows))
                    active.append(run)
                offset += run.rows
            self._batch.advance(None, keep)
            self._active = active
        self._recount()
        if request.started:
            self.stats.ended(cancelled=cancelled)
        if cancelled:
            log.info("generation cancelled: the client went away", model=self.loaded.served.id)
        request.close(error)

    def _shutdown(self) -> None:
        with self._cond:
            requests = {run.request for run in (*self._waiting, *self._admitted, *self._active)}
            commands, self._commands = self._commands, []
        for request in requests:
            self._end(request, cancelled=True, evict=False)
        self._active = []
        self._batch.clear()
        for command in commands:
            command.future.set_exception(ModelUnavailable(f"The model `{self.loaded.served.id}` stopped."))
