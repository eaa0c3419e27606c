"""The local engine's decode loop: runs in a worker thread, one token per step for n choices.

A manual loop over the model's forward pass (KV cache, no padding: the n rows share one
prompt) rather than ``model.generate``, so that each step can: sample with the request's own
``torch.Generator`` (a seed reproduces a reply whatever else runs), check the cancel flag,
apply stop sequences per choice, follow a grammar per choice (structured outputs: disallowed
tokens are masked before sampling, a choice whose grammar is complete stops), and hand the new
text to the event loop. torch is imported inside the functions: the gateway imports without it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .decoding import ChoiceText, Decoder

if TYPE_CHECKING:
    from .grammar import Grammar


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
    """Counters of one local backend, for tests, logs and /health."""

    generated_tokens: int = 0
    generations: int = 0
    cancelled: int = 0
    running: int = 0
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


class Cancelled(Exception):
    """The caller went away; generation stopped early."""


def sample_next(logits: Any, params: SamplingParams, generator: Any, counts: Any | None) -> Any:
    """Pick the next token of each row of ``logits`` (rows x vocab); greedy at temperature 0."""
    import torch

    logits = logits.float()
    if params.logit_bias:
        ids = torch.tensor(list(params.logit_bias), device=logits.device)
        bias = torch.tensor(list(params.logit_bias.values()), device=logits.device, dtype=logits.dtype)
        valid = ids < logits.shape[-1]
        logits[:, ids[valid]] += bias[valid]
    if counts is not None:
        logits = logits - params.frequency_penalty * counts - params.presence_penalty * (counts > 0).float()
    if params.temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / params.temperature, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True, dim=-1)
        before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
        sorted_probs[before >= params.top_p] = 0.0  # keeps at least the most likely token
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


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
    """Generate ``params.n`` choices for one prompt, emitting deltas after every step.

    With a ``grammar`` every choice follows it: end-of-sequence only where the grammar is
    complete (even with ``ignore_eos``), and a choice stops as soon as nothing else may follow.
    Raises ``Cancelled`` when ``cancel()`` turns true between two steps.
    """
    import torch

    device = next(model.parameters()).device
    generator = torch.Generator(device=device)
    if params.seed is None:
        generator.seed()
    else:
        generator.manual_seed(params.seed % 2**64)
    choices = [ChoiceText(tokenizer, params.stop) for _ in range(params.n)]
    rows = grammar.rows(params.n) if grammar is not None else None
    penalize = params.frequency_penalty != 0 or params.presence_penalty != 0
    counts: Any | None = None
    step_input = torch.tensor([list(prompt_ids)] * params.n, dtype=torch.long, device=device)
    past: Any = None
    with torch.inference_mode():
        while True:
            if cancel():
                raise Cancelled
            out = model(input_ids=step_input, past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits = out.logits[:, -1, :].float()
            if rows is not None:
                rows.mask(logits, [not choice.finished for choice in choices], ignore_eos=params.ignore_eos)
            if penalize and counts is None:
                counts = torch.zeros(logits.shape, device=device)
            tokens = sample_next(logits, params, generator, counts)
            if counts is not None:
                counts.scatter_add_(1, tokens[:, None], torch.ones((params.n, 1), device=device))
            deltas = []
            produced = 0
            for row, token in enumerate(tokens.tolist()):
                choice = choices[row]
                if choice.finished:
                    continue
                produced += 1
                if token in eos_ids and (not params.ignore_eos or rows is not None):
                    choice.tokens += 1
                    text = choice.finish("stop")
                else:
                    text = choice.push(token)
                    if rows is not None and not choice.finished and rows.accept(row, token):
                        text += choice.finish("stop")
                    if not choice.finished and choice.tokens >= params.max_tokens:
                        text += choice.finish("length")
                deltas.append(Delta(index_offset + row, text, choice.finish_reason, choice.tokens))
            stats.add_tokens(produced)
            emit(deltas)
            if all(choice.finished for choice in choices):
                return choices
            step_input = tokens[:, None]
