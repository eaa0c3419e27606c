"""Serving preflight: will vLLM (and our local engine) load this adapter on this base?

Every rule mirrors a way vLLM refuses or silently mis-serves a PEFT adapter (its
``PEFTHelper`` checks and its LoRA weight loader), so an adapter is rejected here, with the
reason, before it is registered rather than when a request first needs it. Nothing is
loaded: the adapter's config and manifest are JSON, and tensor names and shapes come from the
safetensors headers, so this runs without torch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .adapters import (
    ADAPTER_CONFIG,
    ADAPTER_MANIFEST,
    ADAPTER_WEIGHTS,
    AdapterManifest,
    read_adapter_manifest,
)
from .info import ModelInfo
from .problems import Problem, ProblemCode, examples
from .refs import same_model
from .templates import chat_template_hash, read_chat_template
from .tensors import TensorSpec, UnreadableTensors, model_tensor_specs, read_tensor_specs

VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vLLM's --max-lora-rank choices
HEAD_MODULES = frozenset({"lm_head", "embed_out"})
EMBEDDING_MODULES = frozenset({"embed_tokens", "wte", "word_embeddings", "tok_embeddings"})
# initialisations that rewrite the base weights: the adapter only works with the modified base
BASE_CHANGING_INITS = ("pissa", "olora", "corda", "loftq")
PEFT_PREFIX = "base_model.model."
LORA_SUFFIXES = {".lora_A.weight": "A", ".lora_B.weight": "B"}


def _module_parts(tensor_name: str) -> set[str]:
    return set(tensor_name.removeprefix(PEFT_PREFIX).split("."))


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set):
        return [str(item) for item in value]
    return []


def _read_config(adapter_dir: Path) -> tuple[dict[str, Any] | None, Problem | None]:
    path = adapter_dir / ADAPTER_CONFIG
    if not path.is_file():
        return None, Problem(
            code=ProblemCode.NOT_PEFT_ADAPTER,
            message=f"{adapter_dir} has no {ADAPTER_CONFIG}: not a PEFT adapter folder",
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, Problem(
            code=ProblemCode.NOT_PEFT_ADAPTER, message=f"{ADAPTER_CONFIG} cannot be read: {exc}"
        )
    if not isinstance(config, dict):
        return None, Problem(
            code=ProblemCode.NOT_PEFT_ADAPTER, message=f"{ADAPTER_CONFIG} is not a JSON object"
        )
    return config, None


def _read_weights(adapter_dir: Path) -> tuple[dict[str, TensorSpec] | None, Problem | None]:
    path = adapter_dir / ADAPTER_WEIGHTS
    if not path.is_file():
        pickles = sorted(p.name for p in adapter_dir.glob("adapter_model.*") if p.suffix in {".bin", ".pt"})
        if pickles:
            return None, Problem(
                code=ProblemCode.WEIGHTS_NOT_SAFETENSORS,
                message=f"the weights are a pickle ({', '.join(pickles)}), which can run code when loaded; "
                "save the adapter with safe_serialization=True",
            )
        return None, Problem(
            code=ProblemCode.WEIGHTS_MISSING, message=f"{adapter_dir} has no {ADAPTER_WEIGHTS}"
        )
    try:
        return read_tensor_specs(path), None
    except UnreadableTensors as exc:
        return None, Problem(code=ProblemCode.WEIGHTS_UNREADABLE, message=str(exc))


def _feature_problems(config: Mapping[str, Any]) -> list[Problem]:
    problems = []
    if modules := _as_list(config.get("modules_to_save")):
        problems.append(
            Problem(
                code=ProblemCode.MODULES_TO_SAVE,
                message=f"modules_to_save is set ({examples(modules)}): vLLM only loads LoRA matrices; "
                "train without modules_to_save",
            )
        )
    if config.get("use_dora"):
        problems.append(
            Problem(code=ProblemCode.DORA_UNSUPPORTED, message="DoRA (use_dora) is not supported by vLLM")
        )
    bias = config.get("bias", "none")
    if (bias not in (None, "none")) or config.get("lora_bias"):
        what = f"bias={bias!r}" if bias not in (None, "none") else "lora_bias=true"
        problems.append(
            Problem(
                code=ProblemCode.BIAS_UNSUPPORTED,
                message=f"adapter biases ({what}) are not supported by vLLM",
            )
        )
    init = config.get("init_lora_weights")
    if isinstance(init, str) and init.lower().startswith(BASE_CHANGING_INITS):
        problems.append(
            Problem(
                code=ProblemCode.INIT_UNSUPPORTED,
                message=f"init_lora_weights={init!r} modifies the base weights, so the adapter does not "
                "fit the unmodified base; convert it to a plain LoRA or train with the default init",
            )
        )
    return problems


def _head_and_embedding_problems(
    config: Mapping[str, Any], tensors: Mapping[str, TensorSpec] | None
) -> list[Problem]:
    targets = set(_as_list(config.get("target_modules"))) | set(
        _as_list(config.get("trainable_token_indices"))
    )
    names = list(tensors or {})
    problems = []
    for code, modules, what in (
        (ProblemCode.LM_HEAD_WEIGHTS, HEAD_MODULES, "the output layer"),
        (ProblemCode.EMBEDDING_WEIGHTS, EMBEDDING_MODULES, "the token embeddings"),
    ):
        found = [name for name in names if _module_parts(name) & modules]
        found += [f"target_modules: {target}" for target in targets if target.split(".")[-1] in modules]
        if found:
            problems.append(
                Problem(
                    code=code,
                    message=f"the adapter changes {what} ({examples(found)}): vLLM cannot load that; "
                    "target only the attention and MLP projections",
                )
            )
    return problems


def _rank_problems(
    config: Mapping[str, Any],
    tensors: Mapping[str, TensorSpec] | None,
    supported: Iterable[int],
    max_rank: int | None,
) -> list[Problem]:
    declared: set[int] = set()
    for value in [config.get("r"), *dict(config.get("rank_pattern") or {}).values()]:
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            return [
                Problem(
                    code=ProblemCode.RANK_UNSUPPORTED, message=f"rank {value!r} is not a positive integer"
                )
            ]
        declared.add(value)
    observed: set[int] = set()
    for name, spec in (tensors or {}).items():
        if len(spec.shape) == 2 and name.endswith(".lora_A.weight"):
            observed.add(spec.shape[0])
        elif len(spec.shape) == 2 and name.endswith(".lora_B.weight"):
            observed.add(spec.shape[1])
    problems = []
    if undeclared := observed - declared:
        problems.append(
            Problem(
                code=ProblemCode.RANK_MISMATCH,
                message=f"the weights have rank {sorted(undeclared)} but {ADAPTER_CONFIG} declares "
                f"{sorted(declared)}",
            )
        )
    ranks = declared | observed
    allowed = tuple(sorted(set(supported)))
    if bad := sorted(rank for rank in ranks if rank not in allowed):
        problems.append(
            Problem(
                code=ProblemCode.RANK_UNSUPPORTED,
                message=f"rank {', '.join(map(str, bad))} is not one vLLM supports "
                f"({', '.join(map(str, allowed))}); retrain with one of those",
            )
        )
    if max_rank is not None and (large := sorted(rank for rank in ranks if rank > max_rank)):
        problems.append(
            Problem(
                code=ProblemCode.RANK_TOO_LARGE,
                message=f"rank {', '.join(map(str, large))} is above the server's max LoRA rank {max_rank}",
            )
        )
    return problems


def _base_problems(
    config: Mapping[str, Any], manifest: AdapterManifest | None, base: ModelInfo
) -> list[Problem]:
    recorded = []
    if manifest is not None:
        recorded.append((ADAPTER_MANIFEST, manifest.base_model))
    if isinstance(config.get("base_model_name_or_path"), str) and config["base_model_name_or_path"].strip():
        recorded.append((ADAPTER_CONFIG, config["base_model_name_or_path"]))
    if not recorded:
        return [
            Problem(
                code=ProblemCode.BASE_UNKNOWN,
                message=f"neither {ADAPTER_CONFIG} nor {ADAPTER_MANIFEST} says which base model it was trained on",
            )
        ]
    return [
        Problem(
            code=ProblemCode.BASE_MISMATCH,
            message=f"{source} says the adapter was trained on {ref!r}, not on {base.id!r}",
        )
        for source, ref in recorded
        if not (same_model(ref, base.id) or same_model(ref, str(base.path)))
    ]


def _shape_problems(
    config: Mapping[str, Any], tensors: Mapping[str, TensorSpec] | None, base: ModelInfo
) -> list[Problem]:
    if not tensors:
        return []
    try:
        base_specs = model_tensor_specs(base.path)
    except UnreadableTensors:
        return []
    missing: set[str] = set()
    mismatched: list[str] = []
    transposed = bool(config.get("fan_in_fan_out"))  # Conv1D layers (GPT-2) store weights as (in, out)
    for name, spec in tensors.items():
        key = name.removeprefix(PEFT_PREFIX)
        suffix = next((s for s in LORA_SUFFIXES if key.endswith(s)), None)
        if suffix is None or _module_parts(name) & (HEAD_MODULES | EMBEDDING_MODULES):
            continue
        module = key[: -len(suffix)]
        if not base_specs:
            continue
        weight = base_specs.get(f"{module}.weight")
        if weight is None or len(weight.shape) != 2:
            missing.add(module)
            continue
        out_features, in_features = reversed(weight.shape) if transposed else weight.shape
        if len(spec.shape) != 2:
            mismatched.append(f"{module} ({'x'.join(map(str, spec.shape))})")
        elif LORA_SUFFIXES[suffix] == "A" and spec.shape[1] != in_features:
            mismatched.append(f"{module}.lora_A has {spec.shape[1]} inputs, the base layer {in_features}")
        elif LORA_SUFFIXES[suffix] == "B" and spec.shape[0] != out_features:
            mismatched.append(f"{module}.lora_B has {spec.shape[0]} outputs, the base layer {out_features}")
    problems = []
    if missing:
        problems.append(
            Problem(
                code=ProblemCode.TARGET_MISSING,
                message=f"the adapter adapts modules {base.id} does not have: {examples(missing)}",
            )
        )
    if mismatched:
        problems.append(
            Problem(
                code=ProblemCode.SHAPE_MISMATCH,
                message=f"LoRA matrices do not fit {base.id}: {examples(mismatched)}",
            )
        )
    return problems


def _template_problems(adapter_dir: Path, manifest: AdapterManifest | None, base: ModelInfo) -> list[Problem]:
    recorded: list[tuple[str, str]] = []
    if manifest is not None and manifest.chat_template_sha256 is not None:
        recorded.append((ADAPTER_MANIFEST, manifest.chat_template_sha256))
    if (saved := read_chat_template(adapter_dir)) is not None:
        recorded.append(("the tokenizer saved with the adapter", chat_template_hash(saved)))
    problems = []
    for source, digest in recorded:
        if digest != base.chat_template_sha256:
            has = f"sha256 {base.chat_template_sha256[:12]}…" if base.chat_template_sha256 else "none"
            problems.append(
                Problem(
                    code=ProblemCode.CHAT_TEMPLATE_MISMATCH,
                    message=f"{source} records chat template sha256 {digest[:12]}…, but {base.id} has {has}: "
                    "prompts would be rendered differently than in training",
                )
            )
    return problems


def preflight_adapter(
    adapter_dir: Path,
    base: ModelInfo,
    *,
    supported_ranks: Iterable[int] = VLLM_LORA_RANKS,
    max_rank: int | None = None,
) -> list[Problem]:
    """Every reason the adapter in ``adapter_dir`` cannot be served on ``base``; empty when it can."""
    adapter_dir = Path(adapter_dir)
    config, problem = _read_config(adapter_dir)
    if config is None:
        return [problem] if problem else []
    peft_type = str(config.get("peft_type", "")).upper()
    if peft_type != "LORA":
        return [
            Problem(
                code=ProblemCode.NOT_LORA,
                message=f"peft_type is {config.get('peft_type')!r}; only LoRA adapters can be served",
            )
        ]
    problems: list[Problem] = []
    manifest = None
    try:
        manifest = read_adapter_manifest(adapter_dir)
    except (OSError, ValidationError) as exc:
        problems.append(Problem(code=ProblemCode.MANIFEST_INVALID, message=f"{ADAPTER_MANIFEST}: {exc}"))
    tensors, problem = _read_weights(adapter_dir)
    if problem is not None:
        problems.append(problem)
    elif tensors is not None and not any(".lora_" in name for name in tensors):
        problems.append(
            Problem(code=ProblemCode.NO_LORA_WEIGHTS, message=f"{ADAPTER_WEIGHTS} holds no LoRA matrices")
        )
    problems += _feature_problems(config)
    problems += _head_and_embedding_problems(config, tensors)
    problems += _rank_problems(config, tensors, supported_ranks, max_rank)
    problems += _base_problems(config, manifest, base)
    problems += _shape_problems(config, tensors, base)
    problems += _template_problems(adapter_dir, manifest, base)
    return problems
