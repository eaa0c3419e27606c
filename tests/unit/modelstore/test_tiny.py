"""The tiny random model: deterministic, generates, takes LoRA adapters."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from skill_adapter.modelstore import CHATML_TEMPLATE, ModelInfo, load_causal_lm, tiny_random_model

pytestmark = pytest.mark.unit


def digest(path: Path) -> str:
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()


def test_the_same_seed_writes_the_same_weights(tiny_model: ModelInfo, tmp_path: Path) -> None:
    again = tiny_random_model(tmp_path / "again")
    other = tiny_random_model(tmp_path / "other", seed=1)
    assert digest(again.path) == digest(tiny_model.path)
    assert digest(other.path) != digest(tiny_model.path)
    assert again.chat_template_sha256 == tiny_model.chat_template_sha256


def test_it_leaves_the_global_random_state_alone(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny_random_model(tmp_path / "m")
    assert torch.equal(torch.rand(3), expected)


def test_its_description(tiny_model: ModelInfo) -> None:
    config = json.loads((tiny_model.path / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"]) == (64, 2, 4)
    assert config["vocab_size"] == 259  # 3 special tokens and 256 bytes
    assert tiny_model.source == "local" and tiny_model.architecture == "LlamaForCausalLM"
    assert tiny_model.chat_template == CHATML_TEMPLATE
    assert tiny_model.num_parameters is not None and tiny_model.num_parameters < 200_000
    # readable by transformers 4.x too (some vLLM builds pin it)
    assert config["rope_theta"] == config["rope_parameters"]["rope_theta"]
    tokenizer_config = json.loads((tiny_model.path / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"


def test_sizes_are_configurable(tmp_path: Path) -> None:
    info = tiny_random_model(tmp_path / "m", hidden_size=32, layers=3, heads=2)
    config = json.loads((info.path / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"]) == (32, 3, 2)


def test_a_non_empty_folder_is_not_overwritten(tiny_model: ModelInfo) -> None:
    with pytest.raises(FileExistsError):
        tiny_random_model(tiny_model.path)


def test_the_tokenizer_round_trips_any_text(tiny_model: ModelInfo) -> None:
    _, tokenizer = load_causal_lm(tiny_model)
    text = "Ünïcødé, emoji 🙂, tabs\tand\nnewlines; <b>markup</b>"
    assert tokenizer.decode(tokenizer(text).input_ids) == text
    rendered = tokenizer.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert (
        rendered
        == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [0, 1, 2]


def test_it_generates(tiny_model: ModelInfo) -> None:
    model, tokenizer = load_causal_lm(tiny_model)
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Say something."}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    new = output[0, inputs["input_ids"].shape[1] :]
    assert 0 < len(new) <= 12
    assert isinstance(tokenizer.decode(new), str)
    again = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert again.tolist() == output.tolist()


def test_it_takes_a_lora_adapter(tiny_model: ModelInfo, adapters: dict[str, Path]) -> None:
    import torch
    from peft import PeftModel

    model, tokenizer = load_causal_lm(tiny_model)
    inputs = tokenizer("hello there", return_tensors="pt")
    with torch.inference_mode():
        base_logits = model(**inputs).logits
    adapted = PeftModel.from_pretrained(model, adapters["plain"]).eval()
    with torch.inference_mode():
        adapted_logits = adapted(**inputs).logits
    assert adapted_logits.shape == base_logits.shape
    assert not torch.allclose(adapted_logits, base_logits)  # the adapter's (random) weights take effect
    assert (
        adapted.generate(**inputs, max_new_tokens=4, do_sample=False).shape[1]
        == inputs["input_ids"].shape[1] + 4
    )


def test_the_vocabulary_of_another_model(tiny_model: ModelInfo, tmp_path: Path) -> None:
    info = tiny_random_model(tmp_path / "m", vocab_from=tiny_model, hidden_size=32, heads=2, seed=5)
    assert info.chat_template_sha256 == tiny_model.chat_template_sha256
    assert (info.path / "tokenizer.json").read_bytes() == (tiny_model.path / "tokenizer.json").read_bytes()
    assert digest(info.path) != digest(tiny_model.path)
