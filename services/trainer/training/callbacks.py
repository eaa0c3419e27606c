"""Trainer callbacks that connect TRL's loops to the job: progress, pause/cancel, checkpoints.

``JobCallback`` reports every logged step (the service throttles what it publishes), asks
``Hooks.control()`` after every optimizer step, and hands every checkpoint folder the
Trainer wrote to ``Hooks.checkpoint`` (which stores it before returning) with a
``skill_adapter_checkpoint.json`` that says which phase and step it holds. Local checkpoint
folders other than the newest are deleted once handed over: the service keeps the ledger.
``EarlyStopping`` ends GRPO when the held-out reward stopped improving, and keeps the weights
of the best evaluation so the phase can end with them rather than with the last step's.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ..core import CHECKPOINT_META, Checkpoint, Hooks, Phase, Progress

PREFIX = "checkpoint-"
KEPT_METRICS = ("loss", "eval_loss", "reward", "reward_std", "eval_reward", "learning_rate", "grad_norm")


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def write_meta(folder: Path, phase: Phase, step: int, metrics: dict[str, float], final: bool) -> None:
    meta = {"phase": phase, "step": step, "metrics": metrics, "final": final}
    (folder / CHECKPOINT_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def read_meta(folder: Path) -> tuple[Phase, int, dict[str, float], bool]:
    meta = json.loads((folder / CHECKPOINT_META).read_text(encoding="utf-8"))
    phase = meta["phase"]
    if phase not in ("sft", "grpo"):
        raise ValueError(f"unknown phase {phase!r}")
    return phase, int(meta["step"]), dict(meta.get("metrics") or {}), bool(meta.get("final", False))


class JobCallback(TrainerCallback):
    def __init__(self, hooks: Hooks, phase: Phase) -> None:
        self.hooks = hooks
        self.phase = phase
        self.stop: str | None = None
        self.metrics: dict[str, float] = {}
        self.tokens = 0
        self._started = time.monotonic()
        self._start_step = 0
        self._last_tokens: tuple[float, int] | None = None
        self._tokens_per_second: float | None = None

    # -- progress ---------------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._started = time.monotonic()
        self._start_step = state.global_step

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        logs = logs or {}
        for key in KEPT_METRICS:
            value = _finite(logs.get(key))
            if value is not None:
                self.metrics[key] = value
        tokens = logs.get("num_tokens", state.num_input_tokens_seen)
        now = time.monotonic()
        if isinstance(tokens, int | float) and tokens > 0:
            tokens = int(tokens)
            if self._last_tokens is not None and tokens > self._last_tokens[1] and now > self._last_tokens[0]:
                self._tokens_per_second = (tokens - self._last_tokens[1]) / (now - self._last_tokens[0])
            self._last_tokens = (now, tokens)
            self.tokens = tokens
        done = state.global_step - self._start_step
        left = max(0, state.max_steps - state.global_step)
        eta = (now - self._started) / done * left if done > 0 else None
        if "loss" not in logs and "reward" not in logs:
            return  # an evaluation or end-of-training summary, not a step
        self.hooks.progress(
            Progress(
                phase=self.phase,
                step=state.global_step,
                total_steps=state.max_steps,
                epoch=float(state.epoch or 0.0),
                loss=_finite(logs.get("loss")),
                reward_mean=_finite(logs.get("reward")),
                reward_std=_finite(logs.get("reward_std")),
                learning_rate=_finite(logs.get("learning_rate")),
                tokens_per_second=self._tokens_per_second,
                eta_seconds=eta,
            )
        )

    # -- pause / cancel ---------------------------------------------------------------------
    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        wanted = self.hooks.control()
        if wanted == "pause":
            self.stop = "pause"
            control.should_save = True  # the pause checkpoint is what resume starts from
            control.should_training_stop = True
        elif wanted == "cancel":
            self.stop = "cancel"
            control.should_save = False
            control.should_evaluate = False
            control.should_training_stop = True
        return control

    # -- checkpoints ------------------------------------------------------------------------
    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for key in ("eval_loss", "eval_reward"):
            value = _finite((metrics or {}).get(key))
            if value is not None:
                self.metrics[key] = value

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"{PREFIX}{state.global_step}"
        if not folder.is_dir():
            return
        metrics = dict(self.metrics)
        write_meta(folder, self.phase, state.global_step, metrics, final=False)
        self.hooks.checkpoint(
            Checkpoint(phase=self.phase, step=state.global_step, path=folder, metrics=metrics)
        )
        for other in Path(args.output_dir).glob(f"{PREFIX}*"):
            if other != folder and other.is_dir():
                shutil.rmtree(other, ignore_errors=True)


class EarlyStopping(TrainerCallback):
    """Stop when ``metric`` (higher is better) has not improved for ``patience`` evaluations.

    The trainable weights (the adapter's) of the best evaluation are kept in memory and written
    into every checkpoint after it (``BEST_STATE``, and ``BEST_WEIGHTS`` unless the checkpoint's
    own weights are the best), so a resumed run can still end with them: ``restore`` reads them
    back, ``load_best`` puts them into the model. Register it before ``JobCallback``, whose
    ``on_save`` hands the checkpoint folder over.
    """

    BEST_STATE = "skill_adapter_best.json"
    BEST_WEIGHTS = "skill_adapter_best_weights.safetensors"

    def __init__(self, metric: str, patience: int, min_delta: float = 1e-4) -> None:
        self.metric = metric
        self.patience = patience
        self.min_delta = min_delta
        self.best: float | None = None
        self.best_step: int | None = None
        self.evaluated_step: int | None = None
        self.waited = 0
        self.stopped_at: int | None = None
        self._weights: dict[str, Any] | None = None
        self._take_at_start = False

    @staticmethod
    def _trainable(model: Any) -> dict[str, Any]:
        return {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if self._take_at_start and model is not None:  # resumed from the best step's own checkpoint
            self._weights = self._trainable(model)
        self._take_at_start = False

    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: dict[str, Any] | None = None,
        model: Any = None,
        **kwargs: Any,
    ) -> None:
        value = _finite((metrics or {}).get(self.metric))
        if value is None:
            return
        self.evaluated_step = state.global_step
        if self.best is None or value > self.best + self.min_delta:
            self.best, self.best_step, self.waited = value, state.global_step, 0
            self._weights = self._trainable(model) if model is not None else None
            return
        self.waited += 1
        if self.waited >= self.patience:
            self.stopped_at = state.global_step
            control.should_training_stop = True

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"{PREFIX}{state.global_step}"
        if folder.is_dir() and self.best is not None:
            self.save(folder, state.global_step)

    def save(self, folder: Path, step: int) -> None:
        from safetensors.torch import save_file

        own = self.best_step == step
        if self._weights is not None and not own:
            save_file({n: t.contiguous() for n, t in self._weights.items()}, str(folder / self.BEST_WEIGHTS))
        state = {
            "best": self.best,
            "best_step": self.best_step,
            "waited": self.waited,
            "weights_are_own": own,
        }
        (folder / self.BEST_STATE).write_text(json.dumps(state), encoding="utf-8")

    def restore(self, folder: Path) -> None:
        """The best so far of the run that wrote checkpoint ``folder`` (nothing when it has none)."""
        path = folder / self.BEST_STATE
        if not path.is_file():
            return
        state = json.loads(path.read_text(encoding="utf-8"))
        self.best, self.best_step, self.waited = (
            float(state["best"]),
            int(state["best_step"]),
            int(state["waited"]),
        )
        weights = folder / self.BEST_WEIGHTS
        if state.get("weights_are_own"):
            self._take_at_start = True
        elif weights.is_file():
            from safetensors.torch import load_file

            self._weights = load_file(str(weights))

    def load_best(self, model: Any, step: int) -> bool:
        """Put the best evaluation's weights into ``model`` unless ``step`` (the last) is the best.

        True when it did: the weights changed."""
        if self._weights is None or self.best_step is None or self.best_step == step:
            return False
        import torch

        parameters = dict(model.named_parameters())
        missing = set(self._weights) - set(parameters)
        if missing:
            raise ValueError(
                f"the best weights name {len(missing)} parameters the model lacks, e.g. {min(missing)}"
            )
        with torch.no_grad():
            for name, tensor in self._weights.items():
                parameters[name].copy_(tensor.to(parameters[name].device, parameters[name].dtype))
        return True
