"""Why an adapter cannot be served: a stable code per reason, and a message for a person.

The codes reach users (registry rejections, API errors, events): never rename one; add new ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class ProblemCode(StrEnum):
    NOT_PEFT_ADAPTER = "not_peft_adapter"  # no readable adapter_config.json
    NOT_LORA = "not_lora"  # another PEFT method (prefix tuning, IA3, ...)
    MANIFEST_INVALID = "manifest_invalid"  # skill_adapter_adapter.json unreadable or invalid
    WEIGHTS_MISSING = "weights_missing"  # no adapter_model.safetensors
    WEIGHTS_NOT_SAFETENSORS = "weights_not_safetensors"  # only a pickle (adapter_model.bin)
    WEIGHTS_UNREADABLE = "weights_unreadable"  # not a valid safetensors file
    NO_LORA_WEIGHTS = "no_lora_weights"  # the file holds no lora_A / lora_B tensors
    MODULES_TO_SAVE = "modules_to_save"  # fully trained modules vLLM cannot load
    LM_HEAD_WEIGHTS = "lm_head_weights"  # weights of the output layer in the adapter
    EMBEDDING_WEIGHTS = "embedding_weights"  # weights of the token embeddings in the adapter
    DORA_UNSUPPORTED = "dora_unsupported"
    BIAS_UNSUPPORTED = "bias_unsupported"
    INIT_UNSUPPORTED = "init_unsupported"  # PiSSA/OLoRA/CorDA/LoftQ change the base weights
    RANK_UNSUPPORTED = "rank_unsupported"  # not one of the ranks vLLM supports
    RANK_TOO_LARGE = "rank_too_large"  # above the server's --max-lora-rank
    RANK_MISMATCH = "rank_mismatch"  # tensors disagree with the rank in adapter_config.json
    BASE_UNKNOWN = "base_unknown"  # neither the config nor the manifest names a base
    BASE_MISMATCH = "base_mismatch"  # trained on another base model
    TARGET_MISSING = "target_missing"  # adapts modules the base does not have
    SHAPE_MISMATCH = "shape_mismatch"  # LoRA matrices that do not fit the base's layers
    CHAT_TEMPLATE_MISMATCH = "chat_template_mismatch"  # trained with another chat template


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: ProblemCode
    message: str


def examples(items: Iterable[str], limit: int = 3) -> str:
    """Up to ``limit`` of ``items``, sorted, and how many more there are."""
    ordered = sorted(set(items))
    shown = "; ".join(ordered[:limit])
    return shown + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")
