"""Fakes for the local engine's unit tests: a noise "language model" with a real KV cache, the
PEFT surface the engine uses, and a decoder whose text is the token ids.

``NoiseLM``'s next-token logits for a row depend only on that row's position and last token
(seeded noise), whatever else shares the forward pass, so a reply generated in a batch must
equal the same reply generated alone: any mistake in row order, positions, padding or row
removal shows up as a different reply. It records the shape of every forward pass.
"""

from __future__ import annotations

import time
import zlib
from types import SimpleNamespace
from typing import Any

import torch
from transformers.cache_utils import DynamicSlidingWindowLayer

from skill_adapter.gateway.inference.grammar import GrammarCompiler
from skill_adapter.gateway.inference.local_model import LoadedModel
from skill_adapter.gateway.settings import ServedModel

EOS = 2


class NoiseLM(torch.nn.Module):
    def __init__(self, vocab: int, *, scale: float = 3.0, delay: float = 0.0, sliding: bool = False) -> None:
        super().__init__()
        self.sliding = sliding  # a sliding-window cache, which the engine cannot merge
        self.vocab = vocab
        self.scale = scale
        self.delay = delay  # seconds per forward pass: slow enough to act in the middle of a reply
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.calls: list[tuple[int, int]] = []  # (rows, tokens per row) of every forward pass
        self.fail_on: int | None = None  # a prompt holding this token fails its prefill

    def forward(
        self,
        input_ids: Any,
        cache: Any = None,
        use_cache: bool = True,
        attention_mask: Any = None,
        position_ids: Any = None,
        **_: Any,
    ) -> Any:
        rows, length = input_ids.shape
        if self.fail_on is not None and length > 1 and bool((input_ids == self.fail_on).any()):
            raise RuntimeError("this prompt breaks the model")
        self.calls.append((rows, length))
        time.sleep(self.delay)
        if position_ids is None:
            past = cache.get_seq_length() if cache is not None else 0
            position_ids = torch.arange(past, past + length).expand(rows, -1)
        if cache is not None:
            if self.sliding and not cache.layers:
                cache.layers.append(DynamicSlidingWindowLayer(sliding_window=4096))
            seen = position_ids.float()[:, None, :, None]
            cache.update(seen, seen, 0)
        logits = torch.zeros((rows, length, self.vocab))
        for row in range(rows):
            position, token = int(position_ids[row, -1]), int(input_ids[row, -1])
            noise = torch.Generator().manual_seed(position * 100_003 + token)
            logits[row, -1] = torch.randn(self.vocab, generator=noise) * self.scale
        return SimpleNamespace(logits=logits, cache=cache)


class FakePeft(torch.nn.Module):
    """What the engine uses of a ``PeftModel``: each adapter shifts the logits its own way."""

    def __init__(self, base: NoiseLM, names: list[str]) -> None:
        super().__init__()
        self.base = base
        self.peft_config = dict.fromkeys(names)
        self.active_adapter = names[0]
        self.disabled = False
        self.rows: list[list[str]] = []  # the adapter of every row of every forward pass
        self._shift = {
            name: torch.randn(base.vocab, generator=torch.Generator().manual_seed(zlib.crc32(name.encode())))
            * 3
            for name in names
        }

        self.base_model = _Layers(self)

    def set_adapter(self, name: str, inference_mode: bool = False) -> None:
        self.active_adapter = name

    def forward(self, input_ids: Any, adapter_names: list[str] | None = None, **kwargs: Any) -> Any:
        rows = input_ids.shape[0]
        names = adapter_names or ["__base__" if self.disabled else self.active_adapter] * rows
        self.rows.append(list(names))
        out = self.base(input_ids, **kwargs)
        for row, name in enumerate(names):
            if name != "__base__":
                out.logits[row, -1] += self._shift[name]
        return out


class _Layers:
    """``PeftModel.base_model``: switches the adapter layers off and on."""

    def __init__(self, peft: FakePeft) -> None:
        self._peft = peft

    def disable_adapter_layers(self) -> None:
        self._peft.disabled = True

    def enable_adapter_layers(self) -> None:
        self._peft.disabled = False


class IdsDecoder:
    """A "tokenizer" whose text is the token ids (``"5,17,"``): replies compare as ids."""

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(f"{token}," for token in ids)


def loaded_model(model: torch.nn.Module, vocab: int = 64) -> LoadedModel:
    decoder = IdsDecoder()
    return LoadedModel(
        served=ServedModel(id="fake"),
        info=None,
        model=model,
        tokenizer=decoder,
        context_length=4096,
        eos_ids=frozenset({EOS}),
        created=0,
        grammars=GrammarCompiler(decoder, vocab, frozenset({EOS})),
    )
