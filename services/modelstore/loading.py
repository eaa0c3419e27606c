"""Load a resolved model for generation or training (torch, transformers: imported here only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ModelStoreError
from .info import ModelInfo

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def load_causal_lm(
    info: ModelInfo, *, device: str = "cpu", dtype: str | torch.dtype | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The model (in ``eval()`` mode, on ``device``) and its tokenizer, from local files only.

    ``dtype`` defaults to the dtype the weights are stored in. The tokenizer always has a pad
    token (its eos token when it defines none) and pads on the left, as batched generation
    needs; trainers that pad on the right set that themselves. Remote code is never run.
    """
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ModelStoreError(
            "loading a model needs torch and transformers: pip install 'agent-skill-adapter[local]'"
        ) from exc

    tokenizer: Any = AutoTokenizer.from_pretrained(info.path, local_files_only=True)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ModelStoreError(f"{info.id}: the tokenizer has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"

    model: Any = AutoModelForCausalLM.from_pretrained(
        info.path, dtype=dtype if dtype is not None else "auto", local_files_only=True
    )
    model.to(device)
    model.eval()
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
