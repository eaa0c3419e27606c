"""Loading a resolved model for generation and training."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from skill_adapter.modelstore import ModelInfo, describe_model, load_causal_lm

pytestmark = pytest.mark.unit


def test_a_model_in_eval_mode_with_a_left_padding_tokenizer(tiny_model: ModelInfo) -> None:
    import torch

    model, tokenizer = load_causal_lm(tiny_model)
    assert not model.training
    assert model.dtype == torch.float32
    assert model.device.type == "cpu"
    assert tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.padding_side == "left"
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id


def test_the_dtype_can_be_chosen(tiny_model: ModelInfo) -> None:
    import torch

    model, _ = load_causal_lm(tiny_model, dtype="bfloat16")
    assert model.dtype == torch.bfloat16
    model, _ = load_causal_lm(tiny_model, dtype=torch.float16)
    assert model.dtype == torch.float16


def test_a_tokenizer_without_pad_token_pads_with_eos(tiny_model: ModelInfo, tmp_path: Path) -> None:
    folder = shutil.copytree(tiny_model.path, tmp_path / "m")
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.pop("pad_token")
    config_path.write_text(json.dumps(config))
    generation_path = folder / "generation_config.json"
    generation = json.loads(generation_path.read_text())
    generation.pop("pad_token_id")
    generation_path.write_text(json.dumps(generation))

    model, tokenizer = load_causal_lm(describe_model(folder, id="m", source="local"))
    assert tokenizer.pad_token == tokenizer.eos_token == "<|im_end|>"
    assert model.generation_config.pad_token_id == tokenizer.eos_token_id


def test_batched_generation_with_left_padding(tiny_model: ModelInfo) -> None:
    model, tokenizer = load_causal_lm(tiny_model)
    prompts = ["hi", "a much longer prompt than the first one"]
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    together = model.generate(**batch, max_new_tokens=5, do_sample=False)[:, batch["input_ids"].shape[1] :]
    for row, prompt in enumerate(prompts):
        alone = tokenizer(prompt, return_tensors="pt")
        single = model.generate(**alone, max_new_tokens=5, do_sample=False)[:, alone["input_ids"].shape[1] :]
        assert together[row].tolist() == single[0].tolist()
