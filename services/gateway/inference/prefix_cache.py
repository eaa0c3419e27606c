"""Recent prompts' KV caches, so a prompt that starts like a recent one prefills only the rest.

The data generator sends hundreds of chats that share a long system prompt; prefilling it
again for each costs more than the whole reply on a CPU. After each prefill the engine keeps
the prompt's cache (one row: keys and values per layer) here, keyed by the adapter it was
computed with (``None``: the base model), in an LRU bounded by the tokens it holds. A new
prompt that shares at least ``min_tokens`` leading tokens with a kept one starts from a copy
of that prefix (views: the engine never writes into a cache in place, it only concatenates).
At least the prompt's last token is always computed, for its logits. Entries of an adapter
are dropped when that adapter is loaded or unloaded. Only the engine's thread touches it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .batch import cache_of, plain_layers


@dataclass
class _Entry:
    ids: Any  # the prompt's token ids (a 1-D tensor)
    tensors: list[tuple[Any, Any]]  # keys and values per layer, one row


def shared_prefix(a: Any, b: Any) -> int:
    """How many leading token ids two 1-D tensors have in common."""
    size = min(int(a.shape[0]), int(b.shape[0]))
    differ = (a[:size] != b[:size]).nonzero()
    return int(differ[0, 0]) if differ.numel() else size


class PrefixCache:
    def __init__(self, max_tokens: int, min_tokens: int) -> None:
        self.max_tokens = max_tokens
        self.min_tokens = max(1, min_tokens)
        self._entries: OrderedDict[tuple[str | None, tuple[int, ...]], _Entry] = OrderedDict()
        self.tokens = 0

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, adapter: str | None, prompt: Sequence[int]) -> tuple[Any, int]:
        """A cache holding the longest kept prefix of ``prompt`` (or ``None``) and its length."""
        if self.max_tokens <= 0 or len(prompt) <= self.min_tokens:
            return None, 0
        import torch

        ids = torch.tensor(list(prompt), dtype=torch.long)
        best, best_key = 0, None
        for key, entry in self._entries.items():
            if key[0] == adapter:
                common = shared_prefix(ids, entry.ids)
                if common > best:
                    best, best_key = common, key
        reused = min(best, len(prompt) - 1)
        if best_key is None or reused < self.min_tokens:
            return None, 0
        self._entries.move_to_end(best_key)
        entry = self._entries[best_key]
        return cache_of([(k[:, :, :reused], v[:, :, :reused]) for k, v in entry.tensors]), reused

    def store(self, adapter: str | None, prompt: Sequence[int], cache: Any) -> None:
        """Keep the cache of a prompt just prefilled (``cache``: one row, the whole prompt)."""
        if len(prompt) > self.max_tokens or len(prompt) < self.min_tokens or not plain_layers(cache):
            return
        import torch

        key = (adapter, tuple(prompt))
        if key in self._entries:
            self._entries.move_to_end(key)
            return
        ids = torch.tensor(list(prompt), dtype=torch.long)
        for other in [k for k, e in self._entries.items() if k[0] == adapter]:
            entry = self._entries[other]
            if len(other[1]) <= len(prompt) and shared_prefix(ids, entry.ids) == len(other[1]):
                self._drop(other)  # a prefix of this prompt: this entry serves everything it did
        self._entries[key] = _Entry(ids, [(layer.keys, layer.values) for layer in cache.layers])
        self.tokens += len(prompt)
        while self.tokens > self.max_tokens:
            self._drop(next(iter(self._entries)))

    def invalidate(self, adapter: str | None) -> None:
        """Forget every prompt computed with ``adapter`` (its weights changed or are gone)."""
        for key in [k for k in self._entries if k[0] == adapter]:
            self._drop(key)

    def _drop(self, key: tuple[str | None, tuple[int, ...]]) -> None:
        self._entries.pop(key)
        self.tokens -= len(key[1])
