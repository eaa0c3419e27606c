"""The safetensors header reader agrees with safetensors itself, and refuses damaged files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from safetensors import safe_open

from skill_adapter.modelstore import ModelInfo, describe_model
from skill_adapter.modelstore.tensors import UnreadableTensors, model_tensor_specs, read_tensor_specs

pytestmark = pytest.mark.unit


def test_names_shapes_and_dtypes_match_safe_open(tiny_model: ModelInfo, adapters: dict[str, Path]) -> None:
    for path in (tiny_model.path / "model.safetensors", adapters["plain"] / "adapter_model.safetensors"):
        specs = read_tensor_specs(path)
        with safe_open(str(path), framework="numpy") as handle:
            assert set(specs) == set(handle.keys())
            for name in handle.keys():
                piece = handle.get_slice(name)
                assert specs[name].shape == tuple(piece.get_shape())
                assert specs[name].dtype == piece.get_dtype()


def test_sharded_weights_are_read_through_their_index(tiny_model: ModelInfo, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model.path)
    model.save_pretrained(tmp_path, max_shard_size="100KB")
    AutoTokenizer.from_pretrained(tiny_model.path).save_pretrained(tmp_path)
    assert len(list(tmp_path.glob("model-*-of-*.safetensors"))) > 1
    assert model_tensor_specs(tmp_path) == model_tensor_specs(tiny_model.path)
    info = describe_model(tmp_path, id="sharded", source="local")
    assert info.num_parameters == tiny_model.num_parameters


def test_the_dtype_comes_from_the_weights_when_config_has_none(tiny_model: ModelInfo, tmp_path: Path) -> None:
    import json
    import shutil

    shutil.copytree(tiny_model.path, tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config.pop("dtype", None)
    config.pop("torch_dtype", None)
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    assert describe_model(tmp_path / "m", id="m", source="local").dtype == "float32"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x01\x02", "too short"),
        (struct.pack("<Q", 10**12) + b"{}", "larger than allowed"),
        (struct.pack("<Q", 100) + b"{}", "truncated"),
        (struct.pack("<Q", 5) + b"nope!", "not JSON"),
        (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
        (struct.pack("<Q", 13) + b'{"w": {"a":1}', "not JSON"),
        (struct.pack("<Q", 14) + b'{"w": {"a":1}}', "bad entry"),
    ],
)
def test_damaged_files_are_refused(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(content)
    with pytest.raises(UnreadableTensors, match=reason):
        read_tensor_specs(path)
