"""Models and adapters on local disk: resolve a base model (the embedded SmolLM2 GGUF converted
once, a local folder, or the HuggingFace cache), record its chat template, build tiny test
models, check adapters before serving, and load models for generation or training.

Importing this package is cheap and needs neither torch nor transformers: they are imported
inside the functions that load or convert models (the ``local`` extra).
"""

from .adapters import (
    ADAPTER_CONFIG,
    ADAPTER_MANIFEST,
    ADAPTER_WEIGHTS,
    AdapterManifest,
    read_adapter_manifest,
    write_adapter_manifest,
)
from .archive import UnsafeArchive, pack_folder, unpack_archive
from .embedded import ALIASES, DEFAULT_MODEL, MODEL_MANIFEST, ModelManifest, find_embedded_gguf, read_manifest
from .errors import ConversionFailed, ModelNotFound, ModelStoreError
from .info import ModelInfo, Source, describe_model
from .loading import load_causal_lm
from .preflight import VLLM_LORA_RANKS, preflight_adapter
from .problems import Problem, ProblemCode
from .refs import canonical_model_ref, same_model
from .store import ModelStore
from .templates import chat_template_hash, read_chat_template
from .tiny import CHATML_TEMPLATE, tiny_random_model

__all__ = [
    "ADAPTER_CONFIG",
    "ADAPTER_MANIFEST",
    "ADAPTER_WEIGHTS",
    "ALIASES",
    "CHATML_TEMPLATE",
    "DEFAULT_MODEL",
    "MODEL_MANIFEST",
    "VLLM_LORA_RANKS",
    "AdapterManifest",
    "ConversionFailed",
    "ModelInfo",
    "ModelManifest",
    "ModelNotFound",
    "ModelStore",
    "ModelStoreError",
    "Problem",
    "ProblemCode",
    "Source",
    "UnsafeArchive",
    "canonical_model_ref",
    "chat_template_hash",
    "describe_model",
    "find_embedded_gguf",
    "load_causal_lm",
    "pack_folder",
    "preflight_adapter",
    "read_adapter_manifest",
    "read_chat_template",
    "read_manifest",
    "same_model",
    "tiny_random_model",
    "unpack_archive",
    "write_adapter_manifest",
]
