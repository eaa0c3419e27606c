"""Serving preflight: each rule against real PEFT adapters saved from a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skill_adapter.modelstore import (
    DEFAULT_MODEL,
    AdapterManifest,
    ModelInfo,
    ProblemCode,
    describe_model,
    preflight_adapter,
    tiny_random_model,
    write_adapter_manifest,
)

from .builders import copy_adapter, edit_config, make_adapter

pytestmark = pytest.mark.unit


def codes(adapter: Path, base: ModelInfo, **kwargs: object) -> set[str]:
    return {problem.code.value for problem in preflight_adapter(adapter, base, **kwargs)}  # type: ignore[arg-type]


def test_problem_codes_are_stable() -> None:
    # codes are part of the registry's API (they reach users and events): never rename one
    assert {code.value for code in ProblemCode} == {
        "not_peft_adapter",
        "not_lora",
        "manifest_invalid",
        "weights_missing",
        "weights_not_safetensors",
        "weights_unreadable",
        "no_lora_weights",
        "modules_to_save",
        "lm_head_weights",
        "embedding_weights",
        "dora_unsupported",
        "bias_unsupported",
        "init_unsupported",
        "rank_unsupported",
        "rank_too_large",
        "rank_mismatch",
        "base_unknown",
        "base_mismatch",
        "target_missing",
        "shape_mismatch",
        "chat_template_mismatch",
    }


def test_a_plain_lora_adapter_passes(adapters: dict[str, Path], tiny_model: ModelInfo) -> None:
    assert preflight_adapter(adapters["plain"], tiny_model) == []
    assert preflight_adapter(adapters["rank16"], tiny_model, max_rank=16) == []


def test_a_plain_adapter_with_its_manifest_passes(
    adapters: dict[str, Path], tiny_model: ModelInfo, tmp_path: Path
) -> None:
    adapter = copy_adapter(adapters["plain"], tmp_path / "a")
    write_adapter_manifest(adapter, AdapterManifest.for_base(tiny_model, rank=8, skill_name="json-reply"))
    assert preflight_adapter(adapter, tiny_model) == []


def test_a_folder_without_adapter_config_is_not_an_adapter(tiny_model: ModelInfo, tmp_path: Path) -> None:
    problems = preflight_adapter(tmp_path, tiny_model)
    assert [p.code for p in problems] == [ProblemCode.NOT_PEFT_ADAPTER]
    assert "adapter_config.json" in problems[0].message
    (tmp_path / "adapter_config.json").write_text("{not json")
    assert [p.code for p in preflight_adapter(tmp_path, tiny_model)] == [ProblemCode.NOT_PEFT_ADAPTER]


def test_other_peft_methods_are_refused(tiny_model: ModelInfo, tmp_path: Path) -> None:
    adapter = make_adapter(
        tiny_model,
        tmp_path / "ia3",
        peft="ia3",
        target_modules=["k_proj", "down_proj"],
        feedforward_modules=["down_proj"],
    )
    problems = preflight_adapter(adapter, tiny_model)
    assert [p.code for p in problems] == [ProblemCode.NOT_LORA]
    assert "IA3" in problems[0].message


def test_modules_to_save_is_refused(adapters: dict[str, Path], tiny_model: ModelInfo) -> None:
    problems = {p.code: p.message for p in preflight_adapter(adapters["modules_to_save"], tiny_model)}
    assert ProblemCode.MODULES_TO_SAVE in problems
    assert "lm_head" in problems[ProblemCode.MODULES_TO_SAVE]
    # PEFT saved the whole trained lm_head into the file as well
    assert ProblemCode.LM_HEAD_WEIGHTS in problems


def test_lora_on_lm_head_is_refused(adapters: dict[str, Path], tiny_model: ModelInfo) -> None:
    problems = {p.code: p.message for p in preflight_adapter(adapters["lm_head"], tiny_model)}
    assert set(problems) == {ProblemCode.LM_HEAD_WEIGHTS}
    assert "base_model.model.lm_head" in problems[ProblemCode.LM_HEAD_WEIGHTS]


def test_lora_on_embeddings_is_refused(adapters: dict[str, Path], tiny_model: ModelInfo) -> None:
    problems = {p.code: p.message for p in preflight_adapter(adapters["embed_tokens"], tiny_model)}
    assert set(problems) == {ProblemCode.EMBEDDING_WEIGHTS}
    assert "embed_tokens" in problems[ProblemCode.EMBEDDING_WEIGHTS]


def test_ranks_outside_the_supported_set_are_refused(
    adapters: dict[str, Path], tiny_model: ModelInfo
) -> None:
    problems = preflight_adapter(adapters["rank12"], tiny_model)
    assert [p.code for p in problems] == [ProblemCode.RANK_UNSUPPORTED]
    assert "rank 12" in problems[0].message and "16" in problems[0].message
    assert preflight_adapter(adapters["rank12"], tiny_model, supported_ranks=range(1, 65)) == []


def test_ranks_above_the_servers_maximum_are_refused(
    adapters: dict[str, Path], tiny_model: ModelInfo
) -> None:
    problems = preflight_adapter(adapters["rank16"], tiny_model, max_rank=8)
    assert [p.code for p in problems] == [ProblemCode.RANK_TOO_LARGE]
    assert "max LoRA rank 8" in problems[0].message


def test_rank_pattern_ranks_are_checked_too(tiny_model: ModelInfo, tmp_path: Path) -> None:
    adapter = make_adapter(
        tiny_model, tmp_path / "a", r=8, target_modules=["q_proj", "v_proj"], rank_pattern={"q_proj": 48}
    )
    problems = preflight_adapter(adapter, tiny_model)
    assert [p.code for p in problems] == [ProblemCode.RANK_UNSUPPORTED]
    assert "rank 48" in problems[0].message
    adapter = make_adapter(
        tiny_model, tmp_path / "b", r=8, target_modules=["q_proj", "v_proj"], rank_pattern={"q_proj": 32}
    )
    assert codes(adapter, tiny_model, max_rank=16) == {ProblemCode.RANK_TOO_LARGE.value}


def test_weights_that_disagree_with_the_declared_rank_are_refused(
    adapters: dict[str, Path], tiny_model: ModelInfo, tmp_path: Path
) -> None:
    adapter = copy_adapter(adapters["rank16"], tmp_path / "a")
    edit_config(adapter, r=8)
    problems = preflight_adapter(adapter, tiny_model)
    assert [p.code for p in problems] == [ProblemCode.RANK_MISMATCH]
    assert "[16]" in problems[0].message


def test_a_non_positive_rank_is_refused(
    adapters: dict[str, Path], tiny_model: ModelInfo, tmp_path: Path
) -> None:
    adapter = copy_adapter(adapters["plain"], tmp_path / "a")
    edit_config(adapter, r=0)
    assert ProblemCode.RANK_UNSUPPORTED.value in codes(adapter, tiny_model)


def test_dora_bias_and_base_changing_inits_are_refused(
    adapters: dict[str, Path], tiny_model: ModelInfo, tmp_path: Path
) -> None:
    assert codes(adapters["dora"], tiny_model) == {ProblemCode.DORA_UNSUPPORTED.value}
    assert codes(adapters["bias"], tiny_model) == {ProblemCode.BIAS_UNSUPPORTED.value}
    adapter = copy_adapter(adapters["plain"], tmp_path / "pissa")
    edit_config(adapter, init_lora_weights="pissa_niter_4")
    assert codes(adapter, tiny_model) == {ProblemCode.INIT_UNSUPPORTED.value}


def test_missing_pickled_and_corrupt_weights(
    adapters: dict[str, Path], tiny_model: ModelInfo, tmp_path: Path
) -> None:
    missing = copy_adapter(adapters["plain"], tmp_path / "missing")
    (missing / "adapter_model.safetensors").unlink()
    assert codes(missing, tiny_model) == {ProblemCode.WEIGHTS_MISSING.value}

    pickled = copy_adapter(adapters["plain"], tmp_path / "pickled")
    (pickled / "adapter_model.safetensors").rename(pickled / "adapter_model.bin")
    problems = preflight_adapter(pickled, tiny_model)
    assert [p.code for p in problems] == [ProblemCode.WEIGHTS_NOT_SAFETENSORS]
    assert "adapter_model.bin" in problems[0].message

    corrupt = copy_adapter(adapters["plain"], tmp_path / "corrupt")
    (corrupt / "adapter_model.safetensors").write_bytes(b"\xff" * 8 + b"{}")
    assert codes(corrupt, tiny_model) == {ProblemCode.WEIGHTS_UNREADABLE.value}


def test_a_weights_file_without_lora_matrices(
    adapters: dict[str, Path], tiny_model: ModelInfo, tmp_path: Path
) -> None:
    from safetensors.numpy import save_file

    adapter = copy_adapter(adapters["plain"], tmp_path / "a")
    save_file({}, str(adapter / "adapter_model.safetensors"))
    assert codes(adapter, tiny_model) == {ProblemCode.NO_LORA_WEIGHTS.value}


def test_an_adapter_of_another_base_is_refused(adapters: dict[str, Path], tmp_path: Path) -> None:
    # same architecture and sizes, another model: only the recorded base tells them apart
    twin = tiny_random_model(tmp_path / "twin", seed=1)
    problems = preflight_adapter(adapters["plain"], twin)
    assert [p.code for p in problems] == [ProblemCode.BASE_MISMATCH]
    assert str(twin.path) in problems[0].message


def test_an_adapter_of_a_differently_sized_base_does_not_fit(
    adapters: dict[str, Path], tmp_path: Path
) -> None:
    wider = tiny_random_model(tmp_path / "wider", hidden_size=32, heads=2)
    assert codes(adapters["plain"], wider) == {
        ProblemCode.BASE_MISMATCH.value,
        ProblemCode.SHAPE_MISMATCH.value,
    }
    shallower = tiny_random_model(tmp_path / "shallower", layers=1)
    problems = {p.code: p.message for p in preflight_adapter(adapters["plain"], shallower)}
    assert set(problems) == {ProblemCode.BASE_MISMATCH, ProblemCode.TARGET_MISSING}
    assert "model.layers.1." in problems[ProblemCode.TARGET_MISSING]


@pytest.mark.parametrize(
    "recorded",
    [
        DEFAULT_MODEL,
        "smollm2",
        "huggingfacetb/smollm2-135m-instruct",
        "/home/someone/.local/state/skill-adapter/models/HuggingFaceTB--SmolLM2-135M-Instruct",
        "/data/hf/hub/models--HuggingFaceTB--SmolLM2-135M-Instruct/snapshots/12fd25f77366fa6b3b4b768ec3050bf629380bac",
    ],
)
def test_every_name_of_the_base_matches(
    adapters: dict[str, Path], tiny_model: ModelInfo, tmp_path: Path, recorded: str
) -> None:
    # the tiny model's files, described as the embedded default: adapters may name it many ways
    base = describe_model(tiny_model.path, id=DEFAULT_MODEL, source="embedded")
    adapter = copy_adapter(adapters["plain"], tmp_path / "a")
    edit_config(adapter, base_model_name_or_path=recorded)
    assert preflight_adapter(adapter, base) == []


def test_a_manifest_naming_another_base_is_refused(
    adapters: dict[str, Path], tiny_model: ModelInfo, tmp_path: Path
) -> None:
    adapter = copy_adapter(adapters["plain"], tmp_path / "a")
    write_adapter_manifest(
        adapter, AdapterManifest(base_model="Qwen/Qwen2.5-0.5B-Instruct", chat_template_sha256=None, rank=8)
    )
    problems = preflight_adapter(adapter, tiny_model)
    assert [p.code for p in problems] == [ProblemCode.BASE_MISMATCH]
    assert (
        "skill_adapter_adapter.json" in problems[0].message
        and "Qwen/Qwen2.5-0.5B-Instruct" in problems[0].message
    )


def test_an_adapter_that_names_no_base(
    adapters: dict[str, Path], tiny_model: ModelInfo, tmp_path: Path
) -> None:
    adapter = copy_adapter(adapters["plain"], tmp_path / "a")
    edit_config(adapter, base_model_name_or_path=None)
    assert codes(adapter, tiny_model) == {ProblemCode.BASE_UNKNOWN.value}
    write_adapter_manifest(adapter, AdapterManifest.for_base(tiny_model, rank=8))
    assert preflight_adapter(adapter, tiny_model) == []


def test_a_chat_template_recorded_in_the_manifest_must_match(
    adapters: dict[str, Path], tiny_model: ModelInfo, tmp_path: Path
) -> None:
    adapter = copy_adapter(adapters["plain"], tmp_path / "a")
    other = AdapterManifest(base_model=tiny_model.id, chat_template_sha256="0" * 64, rank=8)
    write_adapter_manifest(adapter, other)
    problems = preflight_adapter(adapter, tiny_model)
    assert [p.code for p in problems] == [ProblemCode.CHAT_TEMPLATE_MISMATCH]
    assert (
        "000000000000" in problems[0].message and tiny_model.chat_template_sha256[:12] in problems[0].message
    )  # type: ignore[index]


def test_a_tokenizer_saved_with_the_adapter_must_have_the_same_template(
    adapters: dict[str, Path], tiny_model: ModelInfo, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model.path)
    same = copy_adapter(adapters["plain"], tmp_path / "same")
    tokenizer.save_pretrained(same)
    assert preflight_adapter(same, tiny_model) == []

    tokenizer.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    changed = copy_adapter(adapters["plain"], tmp_path / "changed")
    tokenizer.save_pretrained(changed)
    problems = preflight_adapter(changed, tiny_model)
    assert [p.code for p in problems] == [ProblemCode.CHAT_TEMPLATE_MISMATCH]
    assert "tokenizer saved with the adapter" in problems[0].message


def test_an_invalid_manifest_is_reported(
    adapters: dict[str, Path], tiny_model: ModelInfo, tmp_path: Path
) -> None:
    adapter = copy_adapter(adapters["plain"], tmp_path / "a")
    (adapter / "skill_adapter_adapter.json").write_text(json.dumps({"base_model": tiny_model.id, "rank": -1}))
    assert codes(adapter, tiny_model) == {ProblemCode.MANIFEST_INVALID.value}


def test_problems_accumulate(adapters: dict[str, Path], tiny_model: ModelInfo, tmp_path: Path) -> None:
    adapter = copy_adapter(adapters["modules_to_save"], tmp_path / "a")
    edit_config(adapter, r=12, use_dora=True, base_model_name_or_path="Qwen/Qwen2.5-0.5B-Instruct")
    assert {
        ProblemCode.MODULES_TO_SAVE.value,
        ProblemCode.LM_HEAD_WEIGHTS.value,
        ProblemCode.RANK_UNSUPPORTED.value,
        ProblemCode.RANK_MISMATCH.value,
        ProblemCode.DORA_UNSUPPORTED.value,
        ProblemCode.BASE_MISMATCH.value,
    } <= codes(adapter, tiny_model)
