"""Real PEFT adapters on tiny models, and ways to damage them, for the preflight tests."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

from skill_adapter.modelstore import ModelInfo

ADAPTER_RECIPES: dict[str, dict[str, Any]] = {
    "plain": {
        "r": 8,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    },
    "rank16": {"r": 16, "target_modules": ["q_proj", "v_proj"]},
    "rank12": {"r": 12, "target_modules": ["q_proj", "v_proj"]},
    "modules_to_save": {"r": 8, "target_modules": ["q_proj"], "modules_to_save": ["lm_head"]},
    "lm_head": {"r": 8, "target_modules": ["q_proj", "lm_head"]},
    "embed_tokens": {"r": 8, "target_modules": ["q_proj", "embed_tokens"]},
    "dora": {"r": 8, "target_modules": ["q_proj"], "use_dora": True},
    "bias": {"r": 8, "target_modules": ["q_proj"], "bias": "lora_only"},
}


def make_adapter(base: ModelInfo, out: Path, *, peft: str = "lora", **settings: Any) -> Path:
    """Save a freshly initialised PEFT adapter for ``base`` into ``out`` (LoRA unless ``peft="ia3"``)."""
    from peft import IA3Config, LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base.path, local_files_only=True)
    if peft == "ia3":
        config: Any = IA3Config(task_type="CAUSAL_LM", **settings)
    else:
        # random A and B, so the adapter changes the output (PEFT's default starts B at zero)
        config = LoraConfig(task_type="CAUSAL_LM", init_lora_weights=False, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # PEFT warns about tied lm_head / saving embeddings: that is the point
        peft_model = get_peft_model(model, config)
        peft_model.save_pretrained(out)
    return out


def copy_adapter(adapter: Path, out: Path) -> Path:
    shutil.copytree(adapter, out)
    return out


def edit_config(adapter: Path, **changes: Any) -> None:
    path = adapter / "adapter_config.json"
    config = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path.write_text(json.dumps(config))
