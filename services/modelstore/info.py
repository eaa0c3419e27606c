"""What the store knows about a resolved model, read from its folder without loading it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .errors import ModelNotFound
from .templates import read_chat_template, template_hash_or_none
from .tensors import DTYPE_NAMES, UnreadableTensors, model_tensor_specs

Source = Literal["embedded", "local", "hub-cache"]


class ModelInfo(BaseModel):
    """A base model ready to load: where it is, what it is, and the chat template it speaks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str  # what callers named it: a hub id, or the absolute path of a local folder
    path: Path  # a folder with config.json, weights and tokenizer files
    source: Source
    chat_template: str | None
    chat_template_sha256: str | None
    architecture: str | None  # e.g. "LlamaForCausalLM"
    num_parameters: int | None  # from the safetensors headers; None when the weights are not safetensors
    dtype: str | None  # the stored dtype, e.g. "float32" / "bfloat16"


def read_config(folder: Path) -> dict[str, object]:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelNotFound(f"{folder} is not a model folder: it has no config.json") from exc
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"{folder}/config.json cannot be read: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelNotFound(f"{folder}/config.json is not a JSON object")
    return config


def describe_model(folder: Path, *, id: str, source: Source) -> ModelInfo:
    """A ``ModelInfo`` from config.json, the safetensors headers and the tokenizer files (milliseconds)."""
    config = read_config(folder)
    architectures = config.get("architectures")
    architecture = (
        str(architectures[0])
        if isinstance(architectures, list) and architectures
        else (str(config["model_type"]) if config.get("model_type") else None)
    )
    try:
        specs = model_tensor_specs(folder)
    except UnreadableTensors:
        specs = {}
    num_parameters = sum(spec.numel for spec in specs.values()) or None
    dtype = config.get("dtype") or config.get("torch_dtype")
    if not isinstance(dtype, str) and specs:
        most_common = Counter(spec.dtype for spec in specs.values()).most_common(1)[0][0]
        dtype = DTYPE_NAMES.get(most_common)
    template = read_chat_template(folder)
    return ModelInfo(
        id=id,
        path=folder,
        source=source,
        chat_template=template,
        chat_template_sha256=template_hash_or_none(template),
        architecture=architecture,
        num_parameters=num_parameters,
        dtype=dtype if isinstance(dtype, str) else None,
    )
