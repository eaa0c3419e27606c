"""The rows the local engine decodes together: one KV cache, left padding, a position per row.

A prompt is prefilled alone (one row, ``prefill``); its cache then ``join``s the batch, copied
to one row per choice. Rows of different lengths are right-aligned: a shorter row is padded
on the left, a 2-D attention mask hides the padding, and every row gets its own
``position_ids`` (its own length), so rotary embeddings see each row as if it were alone.
Rows leave with ``advance(tokens, keep)``; columns that are padding in every remaining row
are trimmed. While all rows are equally long (a lone request, or requests whose prompts have
the same length) there is no mask and no explicit positions: the forward pass is the very
call a lone request makes, with no overhead.

Merging needs plain full-attention cache layers (``DynamicLayer``: keys and values of shape
rows x heads x tokens x head size). A model whose cache holds anything else (sliding windows,
linear attention) decodes one prompt at a time: ``Batch.mergeable`` tells the scheduler.
torch and transformers are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Forward = Callable[..., Any]


def new_cache(model: Any) -> Any:
    """An empty cache, as the model's own forward would create it."""
    from transformers import DynamicCache

    return DynamicCache(config=getattr(model, "config", None))


def plain_layers(cache: Any) -> bool:
    """Whether every layer of ``cache`` is a plain growing full-attention layer."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def cache_of(tensors: Sequence[tuple[Any, Any]]) -> Any:
    """A cache holding these (keys, values) per layer, without copying them."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    layers = []
    for keys, values in tensors:
        layer = DynamicLayer()
        layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values
        layers.append(layer)
    cache = DynamicCache()
    cache.layers = layers
    return cache


def prefill(forward: Forward, prompt: Sequence[int], device: Any, cache: Any) -> Any:
    """Run the prompt tokens not yet in ``cache`` (one row); the logits of its last position.

    ``cache`` holds a prefix of the prompt already (a prefix-cache hit) or nothing.
    """
    import torch

    done = cache.get_seq_length()
    input_ids = torch.tensor([list(prompt[done:])], dtype=torch.long, device=device)
    out = forward(input_ids=input_ids, cache=cache, use_cache=True)
    return out.logits[:, -1, :]


def _pad_left(tensor: Any, columns: int, dim: int) -> Any:
    import torch

    if columns == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = columns
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


class Batch:
    """Rows decoded together, one forward pass per step; each row's next token is pending.

    The cache holds, for every row, the tokens before its pending one. ``mask`` (rows x
    columns, 1 for a real token) is ``None`` while no row is padded.
    """

    def __init__(self) -> None:
        self.cache: Any = None
        self.mask: Any = None
        self.lengths: Any = None  # real tokens per row: the next position
        self.pending: Any = None  # the next input token of each row
        self.mergeable = True  # whether another prompt may join the rows already here

    @property
    def rows(self) -> int:
        return 0 if self.pending is None else int(self.pending.shape[0])

    @property
    def width(self) -> int:
        return 0 if self.cache is None else int(self.cache.get_seq_length())

    def clear(self) -> None:
        self.cache = self.mask = self.lengths = self.pending = None
        self.mergeable = True

    def join(self, cache: Any, tokens: Sequence[int], device: Any) -> None:
        """Add one prefilled prompt (``cache``: one row) as ``len(tokens)`` rows, one per choice
        that goes on, with those choices' first tokens pending."""
        import torch

        copies = len(tokens)
        pending = torch.tensor(list(tokens), dtype=torch.long, device=device)
        length = int(cache.get_seq_length())
        if self.rows == 0:
            if copies > 1:
                cache.batch_repeat_interleave(copies)
            self.cache, self.mask, self.pending = cache, None, pending
            self.lengths = torch.full((copies,), length, dtype=torch.long, device=device)
            self.mergeable = plain_layers(cache)
            return
        if not (self.mergeable and plain_layers(cache)):
            raise ValueError("this model's cache cannot be merged into a batch")
        width = self.width
        total = max(width, length)
        ones = torch.ones((1, 1), dtype=torch.long, device=device)
        old_mask = self.mask if self.mask is not None else ones.expand(self.rows, width)
        new_mask = ones.expand(copies, length)
        if self.mask is not None or width != length:
            self.mask = torch.cat(
                [_pad_left(old_mask, total - width, 1), _pad_left(new_mask, total - length, 1)]
            )
        for mine, theirs in zip(self.cache.layers, cache.layers, strict=True):
            keys = theirs.keys.expand(copies, -1, -1, -1)
            values = theirs.values.expand(copies, -1, -1, -1)
            mine.keys = torch.cat(
                [_pad_left(mine.keys, total - width, 2), _pad_left(keys, total - length, 2)]
            )
            mine.values = torch.cat(
                [_pad_left(mine.values, total - width, 2), _pad_left(values, total - length, 2)]
            )
        self.lengths = torch.cat([self.lengths, torch.full_like(pending, length)])
        self.pending = torch.cat([self.pending, pending])

    def step(self, forward: Forward) -> Any:
        """One forward pass over every row's pending token: the next-token logits (rows x vocab)."""
        import torch

        extra: dict[str, Any] = {}
        mask = None
        if self.mask is not None:
            mask = torch.cat([self.mask, self.mask.new_ones((self.rows, 1))], dim=1)
            extra = {"attention_mask": mask, "position_ids": self.lengths[:, None]}
        out = forward(input_ids=self.pending[:, None], cache=self.cache, use_cache=True, **extra)
        self.mask = mask
        self.lengths = self.lengths + 1
        return out.logits[:, -1, :]

    def advance(self, tokens: Sequence[int] | None, keep: Sequence[int]) -> None:
        """Keep the rows ``keep`` (in order), with ``tokens`` as their pending tokens (``None``:
        the ones they have)."""
        import torch

        if not keep:
            self.clear()
            return
        device = self.pending.device
        if len(keep) < self.rows:
            index = torch.tensor(list(keep), dtype=torch.long, device=device)
            self.cache.batch_select_indices(index)
            self.lengths = self.lengths[index]
            self.pending = self.pending[index]
            if self.mask is not None:
                self.mask = self.mask[index]
                self._trim()
        if tokens is not None:
            self.pending = torch.tensor(list(tokens), dtype=torch.long, device=device)

    def _trim(self) -> None:
        """Drop the leading columns that are padding in every row."""
        used = self.mask.any(dim=0)
        first = int(used.int().argmax())
        if first > 0:
            self.mask = self.mask[:, first:]
            for layer in self.cache.layers:
                layer.keys = layer.keys[:, :, first:]
                layer.values = layer.values[:, :, first:]
        if bool(self.mask.all()):
            self.mask = None
