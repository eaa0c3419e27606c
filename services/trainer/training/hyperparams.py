"""Hyperparameters: what a job may set, their ranges, and what ``auto`` picks.

Every key accepts ``"auto"`` (or is absent, which means the same). ``resolve`` turns a job's
request into concrete values from the model's size, the dataset's size and the device, and
the trainer records every value it used. An unknown key or a value out of range fails the
job before anything is loaded, naming the key and what it accepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from skill_adapter.modelstore import VLLM_LORA_RANKS

from ..core import TrainingError

AUTO = "auto"
SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup")


@dataclass(frozen=True)
class Facts:
    """What ``auto`` looks at."""

    num_parameters: int
    train_samples: int
    grpo_prompts: int
    cuda: bool
    max_length: int
    """The dataset's own limit on sample length (its manifest's ``max_length``)."""
    longest_reply_tokens: int
    """The longest assistant reply in the training set, in tokens: GRPO's completion budget."""


def _int(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise ValueError(f"an integer from {low} to {high}")
        if not low <= int(value) <= high:
            raise ValueError(f"an integer from {low} to {high}")
        return int(value)

    return check


def _float(low: float, high: float, *, open_low: bool = False) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(
                f"a number {'above' if open_low else 'from'} {low} {'up ' if open_low else ''}to {high}"
            )
        if (value <= low if open_low else value < low) or value > high:
            raise ValueError(
                f"a number {'above' if open_low else 'from'} {low} {'up ' if open_low else ''}to {high}"
            )
        return float(value)

    return check


def _rank(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in VLLM_LORA_RANKS:
        raise ValueError(f"one of the ranks vLLM serves: {', '.join(map(str, VLLM_LORA_RANKS))}")
    return value


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError(f"one of {', '.join(options)}")
        return str(value)

    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _modules(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("'all-linear' or a comma-separated list of module names, e.g. 'q_proj,v_proj'")
    names = [part.strip() for part in value.split(",") if part.strip()]
    forbidden = {"lm_head", "embed_tokens"} & set(names)
    if forbidden:
        raise ValueError(f"LoRA on {', '.join(sorted(forbidden))} cannot be served by vLLM; leave them out")
    return ",".join(names)


SPEC: dict[str, tuple[Callable[[Any], Any], str]] = {
    "lora_r": (_rank, "LoRA rank"),
    "lora_alpha": (_int(1, 4096), "LoRA scaling numerator (alpha / r scales the update)"),
    "lora_dropout": (_float(0.0, 0.5), "dropout on the LoRA input"),
    "target_modules": (_modules, "modules that get LoRA matrices"),
    "learning_rate": (_float(0.0, 1.0, open_low=True), "peak learning rate of SFT"),
    "n_epochs": (_int(1, 100), "passes over the training set (SFT)"),
    "batch_size": (_int(1, 1024), "samples per optimizer step (SFT), split into micro-batches"),
    "micro_batch_size": (_int(1, 1024), "samples per forward pass"),
    "max_length": (_int(16, 131072), "longest sample in tokens (longer ones are truncated)"),
    "warmup_ratio": (_float(0.0, 0.5), "share of steps warming the learning rate up"),
    "weight_decay": (_float(0.0, 1.0), "AdamW weight decay"),
    "lr_scheduler": (_choice(*SCHEDULERS), "learning-rate schedule"),
    "max_steps": (_int(1, 10_000_000), "stop SFT after this many optimizer steps"),
    "checkpoint_every": (_int(1, 10_000_000), "optimizer steps between checkpoints"),
    "gradient_checkpointing": (_bool, "recompute activations to save memory"),
    "grpo_steps": (_int(1, 10_000_000), "GRPO optimizer steps (at most)"),
    "grpo_learning_rate": (_float(0.0, 1.0, open_low=True), "peak learning rate of GRPO"),
    "grpo_num_generations": (_int(2, 64), "completions sampled per prompt (the group)"),
    "grpo_prompts_per_step": (_int(1, 256), "prompts per GRPO step"),
    "grpo_max_completion_length": (_int(8, 32768), "longest completion sampled in GRPO, in tokens"),
    "grpo_temperature": (_float(0.0, 2.0, open_low=True), "sampling temperature of GRPO"),
    "grpo_beta": (_float(0.0, 1.0), "KL coefficient against the starting policy (0: no reference model)"),
    "grpo_zero_unfinished": (
        _bool,
        "a completion cut off at grpo_max_completion_length (no end-of-turn token) is rewarded 0",
    ),
    "eval_every": (_int(1, 10_000_000), "GRPO steps between held-out reward evaluations"),
    "early_stopping_patience": (_int(1, 1000), "evaluations without improvement before GRPO stops"),
}


def validate(requested: Mapping[str, Any]) -> dict[str, Any]:
    """The explicitly set values, checked; ``TrainingError`` naming every bad key."""
    problems: list[str] = []
    chosen: dict[str, Any] = {}
    for key, value in requested.items():
        if key not in SPEC:
            problems.append(f"unknown hyperparameter {key!r} (known: {', '.join(sorted(SPEC))})")
            continue
        if value == AUTO:
            continue
        check, meaning = SPEC[key]
        try:
            chosen[key] = check(value)
        except ValueError as exc:
            problems.append(f"{key}={value!r}: must be {exc} ({meaning})")
    if problems:
        raise TrainingError(
            "invalid_hyperparameters",
            "; ".join(problems),
            ["set the value to 'auto' to let the trainer choose"],
        )
    return chosen


GRPO_ONLY = frozenset({"eval_every", "early_stopping_patience"})
SFT_ONLY = frozenset(
    {
        "learning_rate",
        "n_epochs",
        "batch_size",
        "micro_batch_size",
        "warmup_ratio",
        "lr_scheduler",
        "max_steps",
    }
)


def resolve(
    requested: Mapping[str, Any], facts: Facts, phases: Sequence[str] = ("sft", "grpo")
) -> dict[str, Any]:
    """Every hyperparameter's value: the job's where it set one, ``auto``'s choice elsewhere.

    Only the values the job's ``phases`` use are returned (GRPO's when it runs GRPO, ...).
    """
    chosen = validate(requested)
    small = facts.num_parameters <= 400_000_000
    values: dict[str, Any] = {}

    def pick(key: str, auto: Any) -> Any:
        values[key] = chosen[key] if key in chosen else auto
        return values[key]

    rank = pick("lora_r", 16)
    pick("lora_alpha", 2 * rank)
    pick("lora_dropout", 0.05)
    pick("target_modules", "all-linear")
    pick("learning_rate", 5e-4 if small else 2e-4 if facts.num_parameters <= 4_000_000_000 else 1e-4)
    batch = pick("batch_size", 8)
    pick("micro_batch_size", min(batch, 8 if facts.cuda else 4))
    if batch % values["micro_batch_size"]:
        raise TrainingError(
            "invalid_hyperparameters",
            f"batch_size {batch} is not a multiple of micro_batch_size {values['micro_batch_size']}",
        )
    steps_per_epoch = max(1, math.ceil(facts.train_samples / batch))
    # Enough passes for ~100 optimizer steps on small sets, one pass on large ones (at most 5).
    epochs = pick("n_epochs", max(1, min(5, math.ceil(100 / steps_per_epoch))))
    pick("max_length", facts.max_length)
    pick("warmup_ratio", 0.03)
    pick("weight_decay", 0.0)
    pick("lr_scheduler", "cosine")
    sft_steps = pick("max_steps", steps_per_epoch * epochs)
    pick("gradient_checkpointing", False)
    grpo_steps = pick("grpo_steps", max(1, min(60, 2 * facts.grpo_prompts)))
    pick("checkpoint_every", max(5, math.ceil(max(sft_steps, grpo_steps) / 5)))
    pick("grpo_learning_rate", 5e-5)
    pick("grpo_num_generations", 4)
    pick("grpo_prompts_per_step", 2)
    pick("grpo_max_completion_length", max(16, min(256, math.ceil(facts.longest_reply_tokens * 1.25))))
    pick("grpo_temperature", 1.0)
    pick("grpo_beta", 0.0)
    pick("grpo_zero_unfinished", True)
    pick("eval_every", max(2, math.ceil(grpo_steps / 6)))
    pick("early_stopping_patience", 2)
    if "grpo" not in phases:
        values = {k: v for k, v in values.items() if not k.startswith("grpo_") and k not in GRPO_ONLY}
    if "sft" not in phases:
        values = {k: v for k, v in values.items() if k not in SFT_ONLY}
    return values
