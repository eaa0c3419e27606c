"""Tensor names, shapes and dtypes of safetensors files, read from their headers alone.

A safetensors file starts with an 8-byte little-endian header length and a JSON header that
lists every tensor; reading it takes milliseconds and needs neither torch nor the weights, so
the adapter preflight and the model descriptions can run where torch is not installed (the
gateway). ``tests/unit/modelstore`` checks this reader against ``safetensors.safe_open``.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

MAX_HEADER_BYTES = 100_000_000  # the limit safetensors itself enforces
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"

# safetensors dtype codes -> the names torch and config.json use
DTYPE_NAMES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
}


class UnreadableTensors(ValueError):
    """The file is not a readable safetensors file."""


@dataclass(frozen=True)
class TensorSpec:
    dtype: str  # the safetensors code, e.g. "F32"
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def read_tensor_specs(path: Path) -> dict[str, TensorSpec]:
    """Every tensor of a safetensors file by name, from its header (no tensor data is read)."""
    try:
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) != 8:
                raise UnreadableTensors(f"{path.name}: too short to be a safetensors file")
            (length,) = struct.unpack("<Q", prefix)
            if length > MAX_HEADER_BYTES:
                raise UnreadableTensors(f"{path.name}: header of {length} bytes is larger than allowed")
            raw = handle.read(length)
    except OSError as exc:
        raise UnreadableTensors(f"{path.name}: {exc.strerror or exc}") from exc
    if len(raw) != length:
        raise UnreadableTensors(f"{path.name}: header truncated")
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UnreadableTensors(f"{path.name}: header is not JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise UnreadableTensors(f"{path.name}: header is not a JSON object")
    specs: dict[str, TensorSpec] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            specs[name] = TensorSpec(dtype=str(entry["dtype"]), shape=tuple(int(n) for n in entry["shape"]))
        except (TypeError, KeyError, ValueError) as exc:
            raise UnreadableTensors(f"{path.name}: bad entry for tensor {name!r}") from exc
    return specs


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a model folder: the shards of its index, or ``model.safetensors``."""
    index = folder / WEIGHTS_INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UnreadableTensors(f"{WEIGHTS_INDEX}: {exc}") from exc
        return [folder / name for name in sorted(set(weight_map.values()))]
    single = folder / WEIGHTS_FILE
    return [single] if single.is_file() else []


def model_tensor_specs(folder: Path) -> dict[str, TensorSpec]:
    """Every tensor of a model folder (all shards); empty when it has no safetensors weights."""
    specs: dict[str, TensorSpec] = {}
    for file in weight_files(folder):
        specs.update(read_tensor_specs(file))
    return specs
