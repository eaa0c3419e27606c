"""What the local engine does for one prompt: sample its ``n`` choices step by step, as text.

``PromptRun`` is one prompt's choices wherever their rows are computed: it takes the next-token
logits of its live rows, samples with the request's own ``torch.Generator`` (a seed reproduces a
reply whatever else shares the batch), applies penalties, ``logit_bias`` and the grammar per
choice (structured outputs: disallowed tokens are masked before sampling, a choice whose
grammar is complete stops), applies stop sequences and ``max_tokens``, and returns the new text
as ``Delta`` s. The scheduler (``scheduler.py``) batches the rows of many runs into one forward
pass per step (``batch.py``); ``generate`` runs one prompt alone, synchronously. torch is
imported inside the functions: the gateway imports without it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .batch import Batch, new_cache, prefill
from .decoding import ChoiceText, Decoder

if TYPE_CHECKING:
    from .grammar import Grammar


# Below this temperature sampling is greedy (as in vLLM): logits divided by, say, 1e-40 overflow
# float32 and leave no distribution to sample from, and the limit of softmax(l / t) is argmax.
GREEDY_BELOW = 1e-5


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    logit_bias: dict[int, float] = field(default_factory=dict)
    ignore_eos: bool = False


@dataclass(frozen=True)
class Delta:
    """New text of one choice; ``finish_reason`` once it is done."""

    index: int
    text: str
    finish_reason: str | None
    tokens: int


@dataclass
class EngineStats:
    """Counters of one local backend, for tests, logs and benchmarks."""

    generated_tokens: int = 0
    generations: int = 0
    cancelled: int = 0
    running: int = 0
    steps: int = 0  # decode forward passes (each over every row of a batch)
    prefills: int = 0
    prefill_tokens: int = 0  # prompt tokens computed (not those reused from the prefix cache)
    peak_batch_rows: int = 0  # the most rows one decode step computed
    prefix_hits: int = 0
    prefix_reused_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_tokens(self, count: int) -> None:
        with self._lock:
            self.generated_tokens += count

    def started(self) -> None:
        with self._lock:
            self.running += 1

    def ended(self, *, cancelled: bool) -> None:
        with self._lock:
            self.running -= 1
            if cancelled:
                self.cancelled += 1
            else:
                self.generations += 1

    def stepped(self, rows: int) -> None:
        with self._lock:
            self.steps += 1
            self.peak_batch_rows = max(self.peak_batch_rows, rows)

    def prefilled(self, computed: int, reused: int) -> None:
        with self._lock:
            self.prefills += 1
            self.prefill_tokens += computed
            if reused:
                self.prefix_hits += 1
                self.prefix_reused_tokens += reused


class Cancelled(Exception):
    """The caller went away; generation stopped early."""


def sample_next(logits: Any, params: SamplingParams, generator: Any, counts: Any | None) -> Any:
    """Pick the next token of each row of ``logits`` (rows x vocab); greedy at temperature ~0."""
    import torch

    logits = logits.float()
    if params.logit_bias:
        ids = torch.tensor(list(params.logit_bias), device=logits.device)
        bias = torch.tensor(list(params.logit_bias.values()), device=logits.device, dtype=logits.dtype)
        valid = ids < logits.shape[-1]
        logits[:, ids[valid]] += bias[valid]
    if counts is not None:
        logits = logits - params.frequency_penalty * counts - params.presence_penalty * (counts > 0).float()
    if params.temperature < GREEDY_BELOW:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / params.temperature, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True, dim=-1)
        before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
        drop = before >= params.top_p
        # The most likely token always stays: a top_p below float32's smallest positive value
        # (1e-192 is valid JSON and valid for the API) compares equal to the 0.0 before it.
        drop[..., 0] = False
        sorted_probs[drop] = 0.0
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


class PromptRun:
    """One prompt's ``n`` choices: logits of the live ones in, sampled tokens and text out.

    ``live`` lists the choices still generating, in the order of their rows. Every step samples
    all ``n`` rows (a finished choice gets neutral logits and its token is dropped), so the
    generator's draws, and with them a seeded reply, do not depend on when choices finish.
    """

    def __init__(
        self,
        prompt_ids: Sequence[int],
        params: SamplingParams,
        tokenizer: Decoder,
        eos_ids: frozenset[int],
        device: Any,
        *,
        index_offset: int = 0,
        grammar: Grammar | None = None,
    ) -> None:
        import torch

        self.prompt_ids = list(prompt_ids)
        self.params = params
        self.eos_ids = eos_ids
        self.index_offset = index_offset
        self.generator = torch.Generator(device=device)
        if params.seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(params.seed % 2**64)
        self.choices = [ChoiceText(tokenizer, params.stop) for _ in range(params.n)]
        self.rows = grammar.rows(params.n) if grammar is not None else None
        self.penalize = params.frequency_penalty != 0 or params.presence_penalty != 0
        self.counts: Any | None = None
        self.live = list(range(params.n))

    @property
    def done(self) -> bool:
        return not self.live

    def first(self, logits: Any) -> tuple[list[int], list[Delta]]:
        """Sample the first token of every choice from the prompt's logits (one row)."""
        return self.sample(logits.expand(self.params.n, -1).clone() if self.params.n > 1 else logits)[1:]

    def sample(self, logits: Any) -> tuple[list[int], list[int], list[Delta]]:
        """Sample the next token of each live choice from its row of ``logits``.

        Returns the positions (in ``live`` before the call) of the choices that go on, their
        tokens, and the deltas of this step.
        """
        import torch

        params, n = self.params, self.params.n
        if len(self.live) < n:
            full = torch.zeros((n, logits.shape[-1]), dtype=torch.float32, device=logits.device)
            full[self.live] = logits.float()
            logits = full
        else:
            logits = logits.float()
        if self.rows is not None:
            self.rows.mask(
                logits, [not choice.finished for choice in self.choices], ignore_eos=params.ignore_eos
            )
        if self.penalize and self.counts is None:
            self.counts = torch.zeros(logits.shape, device=logits.device)
        tokens = sample_next(logits, params, self.generator, self.counts)
        if self.counts is not None:
            self.counts.scatter_add_(1, tokens[:, None], torch.ones((n, 1), device=logits.device))
        sampled = tokens.tolist()
        deltas, going_on, next_tokens = [], [], []
        for position, row in enumerate(self.live):
            choice, token = self.choices[row], sampled[row]
            if token in self.eos_ids and (not params.ignore_eos or self.rows is not None):
                choice.tokens += 1
                text = choice.finish("stop")
            else:
                text = choice.push(token)
                if self.rows is not None and not choice.finished and self.rows.accept(row, token):
                    text += choice.finish("stop")
                if not choice.finished and choice.tokens >= params.max_tokens:
                    text += choice.finish("length")
            deltas.append(Delta(self.index_offset + row, text, choice.finish_reason, choice.tokens))
            if not choice.finished:
                going_on.append(position)
                next_tokens.append(token)
        self.live = [self.live[position] for position in going_on]
        return going_on, next_tokens, deltas


def generate(
    model: Any,
    tokenizer: Decoder,
    prompt_ids: Sequence[int],
    params: SamplingParams,
    *,
    eos_ids: frozenset[int],
    emit: Callable[[list[Delta]], None],
    cancel: Callable[[], bool],
    stats: EngineStats,
    index_offset: int = 0,
    grammar: Grammar | None = None,
) -> list[ChoiceText]:
    """Generate ``params.n`` choices for one prompt alone, emitting deltas after every step.

    The same prefill, batch and sampling code as the scheduler's, for one prompt and no other:
    what a request produces when nothing shares its batch. With a ``grammar`` every choice
    follows it. Raises ``Cancelled`` when ``cancel()`` turns true between two steps.
    """
    import torch

    device = next(model.parameters()).device
    run = PromptRun(
        prompt_ids, params, tokenizer, eos_ids, device, index_offset=index_offset, grammar=grammar
    )
    batch = Batch()
    with torch.inference_mode():
        if cancel():
            raise Cancelled
        cache = new_cache(model)
        logits = prefill(model, prompt_ids, device, cache)
        stats.prefilled(len(prompt_ids), 0)
        tokens, deltas = run.first(logits)
        stats.add_tokens(len(deltas))
        emit(deltas)
        if not run.done:
            batch.join(cache, tokens, device)
        while not run.done:
            if cancel():
                raise Cancelled
            logits = batch.step(model)
            stats.stepped(batch.rows)
            going_on, tokens, deltas = run.sample(logits)
            stats.add_tokens(len(deltas))
            emit(deltas)
            batch.advance(tokens, going_on)
    return run.choices
