"""``run_training``: one job's phases (SFT, GRPO or SFT then GRPO) on one device, resumable.

Phases and resume points:

- ``sft``: a fresh LoRA (or QLoRA: the base loaded in 4-bit NF4 with bitsandbytes) on the base
  model, TRL's ``SFTTrainer`` on prompt/completion conversations, so the loss covers the
  assistant's reply only. Validation loss is computed at every checkpoint when the dataset has
  a validation split.
- ``grpo``: TRL's ``GRPOTrainer`` on the dataset's GRPO prompts (those whose sampled rewards
  varied), one reward function per deterministic rubric criterion weighted by the criterion's
  weight (normalised to sum to 1, so the total is a 0..1 rubric score). In ``sft+grpo`` it
  continues from the SFT adapter; held-out reward (the validation prompts) is evaluated every
  ``eval_every`` steps and GRPO stops when it has not improved for ``early_stopping_patience``
  evaluations.

A checkpoint is the Trainer's own folder (adapter, optimizer, scheduler, RNG states, trainer
state incl. where in the data order it was) plus ``skill_adapter_checkpoint.json``; resuming
from it reproduces the uninterrupted run (same data order, same dropout masks). Each phase
ends with a small "final" checkpoint (the adapter alone) so that a job that dies in GRPO does
not redo SFT.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skill_adapter.contracts import Rubric
from skill_adapter.modelstore import AdapterManifest, write_adapter_manifest

from ..core import Checkpoint, Hooks, Outcome, Phase, TrainingError, TrainingStopped, TrainSpec
from .callbacks import EarlyStopping, JobCallback, read_meta, write_meta
from .data import TrainingData, load_dataset
from .device import DeviceChoice, out_of_memory, resolve_device
from .hyperparams import Facts, resolve

TRAINING_META = "skill_adapter_training.json"
MAX_GRPO_EVAL_PROMPTS = 16


@dataclass
class ResumePoint:
    phase: Phase
    step: int
    path: Path
    final: bool


def phases_of(method: str) -> list[Phase]:
    return {"sft": ["sft"], "grpo": ["grpo"], "sft+grpo": ["sft", "grpo"]}[method]  # type: ignore[return-value]


def reward_functions(rubric: Rubric) -> tuple[list[Any], list[float]]:
    """One TRL reward function per deterministic criterion, and their weights (summing to 1)."""
    from skill_adapter.skillspec.rubric.rewards import reward_function

    criteria = [c for c in rubric.criteria if c.deterministic]
    total = sum(c.weight for c in criteria)
    return [reward_function(c) for c in criteria], [c.weight / total for c in criteria]


def stop_token_ids(generation_eos: int | list[int] | None, tokenizer_eos: int | None) -> set[int]:
    """The ids that end a GRPO completion: the model's end-of-turn ids and the tokenizer's EOS,
    as TRL's ``GRPOTrainer`` counts them."""
    ids = {generation_eos} if isinstance(generation_eos, int) else set(generation_eos or ())
    if tokenizer_eos is not None:
        ids.add(tokenizer_eos)
    return ids


def _resume_point(spec: TrainSpec) -> ResumePoint | None:
    if spec.resume_from is None:
        return None
    try:
        phase, step, _, final = read_meta(spec.resume_from)
    except (OSError, ValueError, KeyError) as exc:
        raise TrainingError(
            "checkpoint_invalid", f"the checkpoint to resume from cannot be read: {exc}"
        ) from exc
    return ResumePoint(phase=phase, step=step, path=spec.resume_from, final=final)


@contextlib.contextmanager
def _translated_errors(device: DeviceChoice, hyperparameters: dict[str, Any]) -> Iterator[None]:
    try:
        yield
    except (TrainingError, TrainingStopped):
        raise
    except Exception as exc:
        if out_of_memory(exc):
            raise TrainingError(
                "out_of_memory",
                f"out of memory on {device.name} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
                [
                    f"lower micro_batch_size (now {hyperparameters.get('micro_batch_size')}); batch_size stays "
                    "the same through gradient accumulation",
                    f"lower max_length (now {hyperparameters.get('max_length')})",
                    "set gradient_checkpointing to true",
                    "use adapter_type qlora (4-bit base weights)",
                ],
            ) from exc
        raise


def _quiet(trainer: Any) -> None:
    """No log dicts printed to stdout: progress goes through the job's events."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def _no_progress_bars() -> None:
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


class Run:
    """One call of ``run_training``: state shared by its phases."""

    def __init__(self, spec: TrainSpec, hooks: Hooks) -> None:
        _no_progress_bars()
        self.spec = spec
        self.hooks = hooks
        self.device = resolve_device(spec.device)
        self.data: TrainingData = load_dataset(spec.dataset_dir, spec.dataset_digest)
        self.phases = phases_of(spec.method)
        self.notes: dict[str, Any] = {}
        self.rewards: tuple[list[Any], list[float]] | None = None
        if "grpo" in self.phases:
            self._prepare_grpo()
        self.tokenizer = self._tokenizer()
        self.hp = resolve(spec.hyperparameters, self._facts(), phases=self.phases)
        self.metrics: dict[str, float] = {}
        self.tokens = 0

    # -- set-up -----------------------------------------------------------------------------
    def _prepare_grpo(self) -> None:
        rubric = self.spec.rubric
        if rubric is None or not any(c.deterministic for c in rubric.criteria):
            if self.spec.method == "grpo":
                raise TrainingError(
                    "no_reward",
                    "GRPO needs a rubric with at least one deterministic criterion; this skill's has none",
                    ["use method sft"],
                )
            self.phases = ["sft"]
            self.notes["grpo_skipped"] = "the rubric has no deterministic criterion to reward"
            return
        if not self.data.grpo:
            reason = (
                "the dataset has no GRPO prompts whose sampled rewards vary "
                f"({self.data.grpo_zero_variance_dropped} had zero variance)"
            )
            if self.spec.method == "grpo":
                raise TrainingError("no_grpo_prompts", reason, ["use method sft or sft+grpo"])
            self.phases = ["sft"]
            self.notes["grpo_skipped"] = reason
            return
        self.rewards = reward_functions(rubric)

    def _tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.spec.base.path, local_files_only=True)
        except Exception as exc:
            raise TrainingError(
                "base_model_unloadable", f"the base model's tokenizer does not load: {exc}"
            ) from exc
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if tokenizer.chat_template is None:
            raise TrainingError(
                "base_model_unusable",
                f"{self.spec.base.id} has no chat template: chat samples cannot be rendered",
            )
        return tokenizer

    def _facts(self) -> Facts:
        replies = [s["completion"][0]["content"] for s in self.data.train]
        longest = max(len(self.tokenizer(text, add_special_tokens=False).input_ids) for text in replies)
        return Facts(
            num_parameters=self.spec.base.num_parameters or 0,
            train_samples=len(self.data.train),
            grpo_prompts=len(self.data.grpo),
            cuda=self.device.cuda,
            max_length=self.data.max_length,
            longest_reply_tokens=longest,
        )

    def _base_model(self) -> Any:
        import torch
        from transformers import AutoModelForCausalLM

        kwargs: dict[str, Any] = {"local_files_only": True, "dtype": self.device.dtype}
        if self.spec.adapter_type == "qlora":
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=self.device.dtype,
            )
            kwargs["device_map"] = {"": self.device.name}
        try:
            model = AutoModelForCausalLM.from_pretrained(self.spec.base.path, **kwargs)
        except ImportError as exc:
            raise TrainingError(
                "qlora_unavailable", f"QLoRA needs bitsandbytes: {exc}", ["use adapter_type lora"]
            ) from exc
        except Exception as exc:
            if out_of_memory(exc):
                raise
            raise TrainingError("base_model_unloadable", f"{self.spec.base.id} does not load: {exc}") from exc
        if self.spec.adapter_type == "qlora":
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=bool(self.hp["gradient_checkpointing"])
            )
        else:
            model.to(torch.device(self.device.name))
        if model.generation_config.pad_token_id is None:
            model.generation_config.pad_token_id = self.tokenizer.pad_token_id
        return model

    def _lora_model(self, adapter: Path | None) -> Any:
        """The base with a fresh LoRA, or with the trainable adapter saved in ``adapter``."""
        from peft import LoraConfig, PeftModel, get_peft_model

        base = self._base_model()
        if adapter is not None:
            return PeftModel.from_pretrained(base, str(adapter), is_trainable=True)
        modules: Any = self.hp["target_modules"]
        config = LoraConfig(
            r=self.hp["lora_r"],
            lora_alpha=self.hp["lora_alpha"],
            lora_dropout=self.hp["lora_dropout"],
            target_modules="all-linear" if modules == "all-linear" else modules.split(","),
            task_type="CAUSAL_LM",
        )
        return get_peft_model(base, config)

    def _common_args(self, phase: Phase) -> dict[str, Any]:
        return {
            "output_dir": str(self.spec.work_dir / phase),
            "seed": self.spec.seed,
            "data_seed": self.spec.seed,
            "logging_steps": 1,
            "save_strategy": "steps",
            "save_steps": self.hp["checkpoint_every"],
            "save_total_limit": None,
            "report_to": "none",
            "disable_tqdm": True,
            "use_cpu": not self.device.cuda,
            "bf16": self.device.bf16,
            "activation_checkpointing": bool(self.hp["gradient_checkpointing"]),
            "dataloader_num_workers": 0,
            "include_num_input_tokens_seen": "non_padding",
            "weight_decay": self.hp["weight_decay"],
        }

    # -- phases -----------------------------------------------------------------------------
    def sft(self, resume: ResumePoint | None) -> Path:
        from datasets import Dataset
        from trl import SFTConfig, SFTTrainer

        hp = self.hp
        micro = hp["micro_batch_size"]
        steps = hp["max_steps"]
        args = SFTConfig(
            **self._common_args("sft"),
            per_device_train_batch_size=micro,
            per_device_eval_batch_size=micro,
            gradient_accumulation_steps=hp["batch_size"] // micro,
            learning_rate=hp["learning_rate"],
            lr_scheduler_type=hp["lr_scheduler"],
            warmup_steps=math.floor(hp["warmup_ratio"] * steps),
            num_train_epochs=hp["n_epochs"],
            max_steps=steps,
            max_length=hp["max_length"],
            completion_only_loss=True,
            eval_strategy="steps" if self.data.validation else "no",
            eval_steps=hp["checkpoint_every"],
            packing=False,
        )
        model = self._lora_model(None)
        callback = JobCallback(self.hooks, "sft")
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(self.data.train),
            eval_dataset=Dataset.from_list(self.data.validation) if self.data.validation else None,
            processing_class=self.tokenizer,
            callbacks=[callback],
        )
        _quiet(trainer)
        trainer.train(resume_from_checkpoint=str(resume.path) if resume else None)
        self._after_phase(callback, trainer)
        if self.data.validation and callback.stop is None:
            evaluation = trainer.evaluate()
            if (value := evaluation.get("eval_loss")) is not None:
                self.metrics["sft_eval_loss"] = float(value)
        return self._final("sft", trainer, callback)

    def grpo(self, start: Path | None, resume: ResumePoint | None) -> Path:
        from datasets import Dataset
        from trl import GRPOConfig, GRPOTrainer

        assert self.rewards is not None
        functions, weights = self.rewards
        hp = self.hp
        group = hp["grpo_num_generations"]
        evaluation = [
            {"prompt": sample["prompt"], "eval_id": sample.get("eval_id")}
            for sample in self.data.validation[:MAX_GRPO_EVAL_PROMPTS]
        ]
        common = self._common_args("grpo")
        common["include_num_input_tokens_seen"] = "no"  # GRPO logs the tokens it generated itself
        args = GRPOConfig(
            **common,
            per_device_train_batch_size=group * hp["grpo_prompts_per_step"],
            per_device_eval_batch_size=group,
            gradient_accumulation_steps=1,
            num_generations=group,
            max_completion_length=hp["grpo_max_completion_length"],
            temperature=hp["grpo_temperature"],
            beta=hp["grpo_beta"],
            learning_rate=hp["grpo_learning_rate"],
            lr_scheduler_type="constant",
            max_steps=hp["grpo_steps"],
            reward_weights=weights,
            eval_strategy="steps" if evaluation else "no",
            eval_steps=hp["eval_every"],
        )
        model = self._lora_model(resume.path if resume else start)
        if hp["grpo_zero_unfinished"]:
            from skill_adapter.skillspec.rubric.rewards import finished_only

            stops = stop_token_ids(model.generation_config.eos_token_id, self.tokenizer.eos_token_id)
            functions = [finished_only(function, stops) for function in functions]
        callback = JobCallback(self.hooks, "grpo")
        stopping = EarlyStopping("eval_reward", hp["early_stopping_patience"])
        if resume is not None:
            stopping.restore(resume.path)
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=functions,
            args=args,
            train_dataset=Dataset.from_list(self.data.grpo),
            eval_dataset=Dataset.from_list(evaluation) if evaluation else None,
            processing_class=self.tokenizer,
            callbacks=[stopping, callback],  # the best weights go into a checkpoint before it is handed over
        )
        _quiet(trainer)
        trainer.train(resume_from_checkpoint=str(resume.path) if resume else None)
        last = trainer.state.global_step
        if callback.stop is None and evaluation and stopping.evaluated_step != last:
            trainer.evaluate()  # the last step's held-out reward, to compare with the best
        self._after_phase(callback, trainer)
        if stopping.best is not None:
            self.metrics["grpo_best_eval_reward"] = stopping.best
        if stopping.stopped_at is not None:
            self.notes["grpo_stopped_early_at_step"] = stopping.stopped_at
        if stopping.load_best(trainer.model, last):
            # GRPO's last steps can undo what it gained: the adapter is the best evaluation's
            self.notes["grpo_kept_step"] = stopping.best_step
        return self._final("grpo", trainer, callback)

    def _after_phase(self, callback: JobCallback, trainer: Any) -> None:
        self.tokens += callback.tokens
        if callback.stop is not None:
            kind = "pause" if callback.stop == "pause" else "cancel"
            raise TrainingStopped(kind, callback.phase, trainer.state.global_step)
        for key, value in callback.metrics.items():
            self.metrics[f"{callback.phase}_{key}"] = value

    def _final(self, phase: Phase, trainer: Any, callback: JobCallback) -> Path:
        """The phase's adapter alone, handed over as its final checkpoint."""
        folder = self.spec.work_dir / f"{phase}-final"
        shutil.rmtree(folder, ignore_errors=True)
        trainer.model.save_pretrained(str(folder))
        step = trainer.state.global_step
        metrics = {k: v for k, v in self.metrics.items() if k.startswith(f"{phase}_")}
        write_meta(folder, phase, step, metrics, final=True)
        self.hooks.checkpoint(Checkpoint(phase=phase, step=step, path=folder, metrics=metrics, final=True))
        shutil.rmtree(self.spec.work_dir / phase, ignore_errors=True)  # its step checkpoints are stored
        return folder

    # -- the whole job ----------------------------------------------------------------------
    def run(self) -> Outcome:
        import torch

        resume = _resume_point(self.spec)
        if resume is not None and resume.phase not in self.phases:
            raise TrainingError(
                "checkpoint_invalid",
                f"the checkpoint is of phase {resume.phase}, which this job does not run",
            )
        self.hooks.started(self.device.name, self.hp, resume.step if resume else None)
        torch.manual_seed(self.spec.seed)
        started = time.monotonic()
        adapter: Path | None = None
        with _translated_errors(self.device, self.hp):
            for phase in self.phases:
                own = resume if resume is not None and resume.phase == phase else None
                if resume is not None and self.phases.index(phase) < self.phases.index(resume.phase):
                    continue  # finished before the checkpoint was written
                if own is not None and own.final:
                    adapter = own.path
                    continue
                adapter = self.sft(own) if phase == "sft" else self.grpo(adapter, own)
        assert adapter is not None
        self.metrics["train_seconds"] = round(time.monotonic() - started, 3)
        return self._outcome(adapter)

    def _outcome(self, final: Path) -> Outcome:
        out = self.spec.work_dir / "adapter"
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(final, out)
        (out / "skill_adapter_checkpoint.json").unlink(missing_ok=True)
        config_path = out / "adapter_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = self.spec.base.id  # not this machine's cache path
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        write_adapter_manifest(
            out,
            AdapterManifest.for_base(
                self.spec.base,
                rank=int(config.get("r") or self.hp["lora_r"]),
                skill_name=self.spec.skill_name,
                skill_version=self.spec.skill_version,
                job_id=self.spec.job_id,
            ),
        )
        record = {
            "job_id": self.spec.job_id,
            "base_model": self.spec.base.id,
            "chat_template_sha256": self.spec.base.chat_template_sha256,
            "skill_name": self.spec.skill_name,
            "skill_version": self.spec.skill_version,
            "dataset_digest": self.spec.dataset_digest,
            "dataset_id": self.data.manifest.get("dataset_id"),
            "method": self.spec.method,
            "phases": self.phases,
            "adapter_type": self.spec.adapter_type,
            "device": self.device.name,
            "seed": self.spec.seed,
            "hyperparameters": self.hp,
            "hyperparameters_requested": dict(self.spec.hyperparameters),
            "metrics": self.metrics,
            "trained_tokens": self.tokens,
            "notes": self.notes,
        }
        (out / TRAINING_META).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
        return Outcome(
            adapter_dir=out,
            device=self.device.name,
            hyperparameters=dict(self.hp),
            metrics=dict(self.metrics),
            trained_tokens=self.tokens,
        )


def run_training(spec: TrainSpec, hooks: Hooks) -> Outcome:
    """Train ``spec``'s adapter, reporting through ``hooks``; blocking (run it in a thread)."""
    spec.work_dir.mkdir(parents=True, exist_ok=True)
    return Run(spec, hooks).run()
