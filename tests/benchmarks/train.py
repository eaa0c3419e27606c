"""Training benchmark: our trainer against a plain TRL script, GRPO step time, and a full run.

    python -m tests.benchmarks.train [--steps 20] [--rounds 3] [--grpo-steps 12] [--sft-steps N] [--output ...]

Needs the JSON-reply dataset that ``python -m tests.benchmarks.datagen`` keeps in
``~/.cache/skill-adapter-bench/datasets/json-reply`` (or ``--dataset DIR``) and the embedded
SmolLM2 (converted once into the benchmark's model cache). On this machine everything runs on
the CPU in fp32. Side by side in one run:

(a) SFT throughput: ``--rounds`` interleaved runs of each arm, ``--steps`` optimizer steps each,
    every run in a fresh subprocess (so its peak memory is its own): ``ours`` is
    ``run_training`` exactly as the trainer service calls it (checkpoint every step count
    included, progress hooks, final adapter with manifests); ``trl`` is the script a user would
    write: the same model, LoRA, data (prompt/completion), batch, learning rate and seed, with
    ``SFTTrainer`` and ``save_model`` at the end. Tokens/s = non-padding tokens seen / wall time
    from the call to the saved adapter (model loading included in both). Medians and the ratio.
(b) GRPO: seconds per step (``--grpo-steps-timed`` steps after SFT, median).
(c) A full ``sft+grpo`` run on the dataset with ``auto`` hyperparameters (GRPO capped at
    ``--grpo-steps``), its loss and reward curves, and the rubric pass rate on the held-out
    prompts (greedy, no system prompt) of the base model and of the trained adapter.

Writes the JSON file and a PNG chart (loss and reward curves, pass rates) next to it, and keeps
(c)'s adapter in ``~/.cache/skill-adapter-bench/adapters/json-reply`` (with its recipe) for the
evaluation benchmark.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skill_adapter.modelstore import DEFAULT_MODEL, ModelStore

from .serve import CACHE_DIR, machine

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = ROOT / "tests" / "benchmarks" / "results" / "train.json"
DEFAULT_DATASET = CACHE_DIR.parent / "datasets" / "json-reply"
ADAPTERS_DIR = CACHE_DIR.parent / "adapters"
"""Each skill's trained adapter is kept here (``<skill>/adapter/``, a PEFT folder, and
``<skill>/recipe.json``: the dataset digest and how it was trained) for the evaluation benchmark
(``python -m tests.benchmarks.eval``), which reuses it while the dataset digest matches."""
ADAPTER_RECIPE = "recipe.json"
EXAMPLES = ROOT / "services" / "cli" / "example_skills"
TARGET_RATIO = 0.95

SFT_SETTINGS = {
    "batch_size": 8,
    "micro_batch_size": 4,
    "learning_rate": 5e-4,
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "max_length": 1024,
    "lr_scheduler": "cosine",
    "warmup_ratio": 0.0,
}


# -- the arms, each in its own process -------------------------------------------------------


def arm_ours(dataset: Path, digest: str, steps: int, work: Path) -> dict[str, Any]:
    from skill_adapter.trainer.core import TrainSpec
    from skill_adapter.trainer.training import run_training
    from tests.support.training import RecordingHooks

    info = ModelStore(CACHE_DIR).resolve(DEFAULT_MODEL)
    hooks = RecordingHooks()
    spec = TrainSpec(
        job_id="bench",
        base=info,
        dataset_dir=dataset,
        dataset_digest=digest,
        rubric=None,
        method="sft",
        adapter_type="lora",
        hyperparameters={**SFT_SETTINGS, "max_steps": steps, "checkpoint_every": max(1, steps // 2)},
        seed=0,
        device="cpu",
        work_dir=work,
    )
    started = time.perf_counter()
    outcome = run_training(spec, hooks)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "tokens": outcome.trained_tokens,
        "losses": [r.loss for r in hooks.reports if r.loss is not None],
        "checkpoints": len(hooks.checkpoints),
    }


def arm_trl(dataset: Path, steps: int, work: Path) -> dict[str, Any]:
    """What a user would write with TRL: same model, LoRA, data, batch, learning rate, seed."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    info = ModelStore(CACHE_DIR).resolve(DEFAULT_MODEL)

    def rows(name: str) -> list[dict[str, Any]]:
        pairs = []
        for line in (dataset / name).read_text().splitlines():
            messages = json.loads(line)["messages"]
            pairs.append({"prompt": messages[:-1], "completion": messages[-1:]})
        return pairs

    train, validation = rows("train.jsonl"), rows("validation.jsonl")

    losses: list[float] = []

    class Losses(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(info.path)
    model = AutoModelForCausalLM.from_pretrained(info.path, dtype=torch.float32)
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(
            output_dir=str(work),
            per_device_train_batch_size=SFT_SETTINGS["micro_batch_size"],
            gradient_accumulation_steps=SFT_SETTINGS["batch_size"] // SFT_SETTINGS["micro_batch_size"],
            learning_rate=SFT_SETTINGS["learning_rate"],
            lr_scheduler_type=SFT_SETTINGS["lr_scheduler"],
            max_steps=steps,
            max_length=SFT_SETTINGS["max_length"],
            logging_steps=1,
            save_strategy="steps",
            save_steps=max(1, steps // 2),
            seed=0,
            data_seed=0,
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
            include_num_input_tokens_seen="non_padding",
            eval_strategy="steps" if validation else "no",  # as our trainer does
            eval_steps=max(1, steps // 2),
            per_device_eval_batch_size=SFT_SETTINGS["micro_batch_size"],
        ),
        train_dataset=Dataset.from_list(train),
        eval_dataset=Dataset.from_list(validation) if validation else None,
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=SFT_SETTINGS["lora_r"],
            lora_alpha=SFT_SETTINGS["lora_alpha"],
            lora_dropout=SFT_SETTINGS["lora_dropout"],
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        ),
        callbacks=[Losses()],
    )
    trainer.train()
    if validation:
        trainer.evaluate()
    trainer.save_model(str(work / "adapter"))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "tokens": int(trainer.state.num_input_tokens_seen), "losses": losses}


def run_arm(arm: str, dataset: Path, digest: str, steps: int) -> dict[str, Any]:
    """One arm in a fresh Python process; its result and its peak resident memory."""
    with tempfile.TemporaryDirectory(prefix=f"train-bench-{arm}-") as work:
        out = Path(work) / "result.json"
        command = [
            sys.executable,
            "-m",
            "tests.benchmarks.train",
            "--arm",
            arm,
            "--dataset",
            str(dataset),
            "--steps",
            str(steps),
            "--arm-output",
            str(out),
            "--arm-work",
            str(Path(work) / "run"),
        ]
        completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"arm {arm} failed:\n{completed.stderr[-4000:]}")
        result = json.loads(out.read_text())
        result["peak_rss_mib"] = round(result.pop("own_peak_rss_kib") / 1024, 1)
        return result


def arm_main(args: argparse.Namespace) -> int:
    digest = (args.dataset / "manifest.sha256").read_text().strip()
    work = Path(args.arm_work)
    result = (
        arm_ours(args.dataset, digest, args.steps, work)
        if args.arm == "ours"
        else arm_trl(args.dataset, args.steps, work)
    )
    result["own_peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(args.arm_output).write_text(json.dumps(result))
    return 0


# -- (b) and (c): GRPO step time and the full run ---------------------------------------------


def skill_rubric(name: str) -> Any:
    from skill_adapter.skillspec.analysis import analyze
    from skill_adapter.skillspec.bundle import from_directory, to_zip

    data = to_zip(from_directory(EXAMPLES / name), name)
    analysis = analyze(data, f"{name}.zip")
    assert analysis.ok and analysis.rubric is not None, analysis.reason()
    return analysis.rubric


class TimedHooks:
    def __init__(self) -> None:
        from tests.support.training import RecordingHooks

        self.inner = RecordingHooks()
        self.times: list[tuple[str, int, float]] = []

    def started(self, *args: Any) -> None:
        self.inner.started(*args)

    def progress(self, report: Any) -> None:
        self.times.append((report.phase, report.step, time.perf_counter()))
        self.inner.progress(report)
        if report.step % 5 == 0 or report.step == report.total_steps:
            loss = f"loss {report.loss:.3f}" if report.loss is not None else ""
            reward = f"reward {report.reward_mean:.3f}" if report.reward_mean is not None else ""
            figures = " ".join(f for f in (loss, reward) if f)
            print(f"  {report.phase} step {report.step}/{report.total_steps} {figures}", flush=True)

    def checkpoint(self, checkpoint: Any) -> None:
        self.inner.checkpoint(checkpoint)

    def control(self) -> str:
        return "run"


def full_run(
    dataset: Path, digest: str, grpo_steps: int, work: Path, sft_steps: int | None = None
) -> tuple[dict[str, Any], Path]:
    from skill_adapter.trainer.core import TrainSpec
    from skill_adapter.trainer.training import run_training

    info = ModelStore(CACHE_DIR).resolve(DEFAULT_MODEL)
    hooks = TimedHooks()
    spec = TrainSpec(
        job_id="bench-full",
        base=info,
        dataset_dir=dataset,
        dataset_digest=digest,
        rubric=skill_rubric("json-reply"),
        method="sft+grpo",
        adapter_type="lora",
        hyperparameters={"grpo_steps": grpo_steps, **({"max_steps": sft_steps} if sft_steps else {})},
        seed=0,
        device="cpu",
        work_dir=work,
        skill_name="json-reply",
    )
    started = time.perf_counter()
    outcome = run_training(spec, hooks)
    seconds = time.perf_counter() - started
    reports = hooks.inner.reports
    grpo_times = [t for phase, _, t in hooks.times if phase == "grpo"]
    step_seconds = [b - a for a, b in itertools.pairwise(grpo_times)]
    return (
        {
            "seconds": round(seconds, 1),
            "device": outcome.device,
            "hyperparameters": outcome.hyperparameters,
            "metrics": outcome.metrics,
            "trained_tokens": outcome.trained_tokens,
            "sft_loss": [(r.step, r.loss) for r in reports if r.phase == "sft" and r.loss is not None],
            "grpo_reward": [
                (r.step, r.reward_mean, r.reward_std)
                for r in reports
                if r.phase == "grpo" and r.reward_mean is not None
            ],
            "grpo_step_seconds": {
                "n": len(step_seconds),
                "median": round(statistics.median(step_seconds), 2) if step_seconds else None,
                "max": round(max(step_seconds), 2) if step_seconds else None,
            },
        },
        outcome.adapter_dir,
    )


def pass_rates(dataset: Path, adapter: Path, limit: int) -> dict[str, Any]:
    """Greedy replies to held-out prompts (no system prompt) from the base and the adapter, graded."""
    import torch
    from peft import PeftModel

    from skill_adapter.modelstore import load_causal_lm
    from skill_adapter.skillspec.rubric.grading import grade

    rubric = skill_rubric("json-reply")
    heldout = [
        json.loads(line) for line in (dataset / "heldout.jsonl").read_text().splitlines() if line.strip()
    ]
    heldout = [h for h in heldout if not h.get("near_miss")][:limit]
    info = ModelStore(CACHE_DIR).resolve(DEFAULT_MODEL)
    model, tokenizer = load_causal_lm(info)
    peft = PeftModel.from_pretrained(model, str(adapter))
    arms: dict[str, Any] = {}
    for arm in ("base", "adapter"):
        passed, examples = 0, []
        for item in heldout:
            ids = tokenizer.apply_chat_template(
                [{"role": "user", "content": item["prompt"]}], add_generation_prompt=True, return_tensors="pt"
            )
            ids = ids["input_ids"] if hasattr(ids, "keys") else ids
            with torch.inference_mode():
                if arm == "base":
                    with peft.disable_adapter():
                        out = peft.generate(input_ids=ids, max_new_tokens=160, do_sample=False)
                else:
                    out = peft.generate(input_ids=ids, max_new_tokens=160, do_sample=False)
            text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
            graded = grade(rubric, text, eval_id=item.get("eval_id"))
            ok = all(r.passed for r in graded.results if r.deterministic)
            passed += ok
            if len(examples) < 3:
                examples.append({"prompt": item["prompt"], "reply": text, "passed": ok})
        arms[arm] = {
            "prompts": len(heldout),
            "passed": passed,
            "pass_rate": round(passed / len(heldout), 4) if heldout else None,
            "examples": examples,
        }
        print(f"  held-out pass rate, {arm}: {passed}/{len(heldout)}", flush=True)
    return arms


def keep_adapter(adapter_dir: Path, folder: Path, recipe: dict[str, Any]) -> Path:
    """Copy a trained adapter to ``folder/adapter`` with ``recipe`` beside it, replacing what was there."""
    import shutil

    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(adapter_dir, staging / "adapter")
    (staging / ADAPTER_RECIPE).write_text(json.dumps(recipe, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    print(f"kept the adapter in {folder}", flush=True)
    return folder


def adapter_recipe(
    *,
    skill: str,
    dataset: Path,
    digest: str,
    method: str,
    requested: dict[str, Any],
    device: str,
    hyperparameters: dict[str, Any],
    seconds: float,
    trained_tokens: int,
    metrics: dict[str, Any],
    by: str,
) -> dict[str, Any]:
    """The sidecar of a kept adapter: what it was trained on and how."""
    info = ModelStore(CACHE_DIR).resolve(DEFAULT_MODEL)
    return {
        "skill": skill,
        "dataset": str(dataset),
        "dataset_digest": digest,
        "base_model": DEFAULT_MODEL,
        "chat_template_sha256": info.chat_template_sha256,
        "method": method,
        "adapter_type": "lora",
        "seed": 0,
        "requested_hyperparameters": requested,
        "default_recipe": method == "sft+grpo" and not requested,
        "device": device,
        "hyperparameters": hyperparameters,
        "training_seconds": round(seconds, 1),
        "trained_tokens": trained_tokens,
        "metrics": metrics,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "trained_by": by,
    }


# -- report ------------------------------------------------------------------------------------


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    full = report.get("full_run") or {}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    loss = full.get("sft_loss") or []
    if loss:
        axes[0].plot([s for s, _ in loss], [v for _, v in loss], color="tab:blue")
    axes[0].set(title="SFT loss (JSON-reply, SmolLM2-135M, CPU)", xlabel="optimizer step", ylabel="loss")
    reward = full.get("grpo_reward") or []
    if reward:
        steps = [s for s, _, _ in reward]
        means = [m for _, m, _ in reward]
        stds = [sd or 0.0 for _, _, sd in reward]
        axes[1].plot(steps, means, color="tab:green")
        axes[1].fill_between(
            steps,
            [m - s for m, s in zip(means, stds, strict=True)],
            [m + s for m, s in zip(means, stds, strict=True)],
            color="tab:green",
            alpha=0.2,
        )
    axes[1].set(
        title="GRPO rubric reward (mean ± std of the group)",
        xlabel="GRPO step",
        ylabel="reward",
        ylim=(0, 1.05),
    )
    rates = report.get("heldout_pass_rate") or {}
    names = [n for n in ("base", "adapter") if n in rates]
    values = [rates[n]["pass_rate"] or 0.0 for n in names]
    axes[2].bar(names, values, color=["tab:gray", "tab:orange"][: len(names)])
    for i, v in enumerate(values):
        axes[2].text(i, v + 0.02, f"{v:.0%}", ha="center")
    axes[2].set(title="Held-out rubric pass rate (greedy, no skill in prompt)", ylim=(0, 1.1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--steps", type=int, default=20, help="SFT optimizer steps per throughput run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per arm")
    parser.add_argument("--grpo-steps", type=int, default=12, help="GRPO steps in the full run")
    parser.add_argument(
        "--sft-steps",
        type=int,
        default=None,
        help="cap the full run's SFT steps (default: auto, ~100 on 200 samples)",
    )
    parser.add_argument("--heldout", type=int, default=24, help="held-out prompts graded per arm")
    parser.add_argument(
        "--skip-full",
        action="store_true",
        help="only the throughput comparison (the file keeps its last full run on the same dataset)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--arm", choices=("ours", "trl"), help=argparse.SUPPRESS)
    parser.add_argument("--arm-output", help=argparse.SUPPRESS)
    parser.add_argument("--arm-work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.arm:
        return arm_main(args)

    if not (args.dataset / "manifest.sha256").is_file():
        print(f"no dataset in {args.dataset}: run python -m tests.benchmarks.datagen first", file=sys.stderr)
        return 2
    digest = (args.dataset / "manifest.sha256").read_text().strip()
    info = ModelStore(CACHE_DIR).resolve(DEFAULT_MODEL)
    train_samples = sum(1 for line in (args.dataset / "train.jsonl").read_text().splitlines() if line.strip())
    started = time.monotonic()
    report: dict[str, Any] = {
        "benchmark": "train",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "device": "cpu (fp32)",
        "model": {"id": DEFAULT_MODEL, "chat_template_sha256": info.chat_template_sha256},
        "dataset": {"path": str(args.dataset), "digest": digest, "train_samples": train_samples},
    }

    earlier: dict[str, Any] = {}
    if args.skip_full and args.output.is_file():  # keep the last full run's figures
        previous = json.loads(args.output.read_text())
        if previous.get("dataset", {}).get("digest") == digest:
            earlier = {
                k: previous[k]
                for k in ("full_run", "grpo_step_seconds", "heldout_pass_rate")
                if k in previous
            }
            if earlier:
                earlier["full_run_measured_at"] = previous.get("full_run_measured_at") or previous.get(
                    "measured_at"
                )

    def write() -> None:
        report.update({k: v for k, v in earlier.items() if k not in report})
        report["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
        report["total_seconds"] = round(time.monotonic() - started, 1)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
        chart(report, args.output.with_suffix(".png"))
        print(f"wrote {args.output} and {args.output.with_suffix('.png')}", flush=True)

    print(f"(a) SFT throughput: {args.rounds} rounds x 2 arms, {args.steps} steps each", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "trl": []}
    for round_number in range(args.rounds):
        for arm in ("ours", "trl") if round_number % 2 == 0 else ("trl", "ours"):
            result = run_arm(arm, args.dataset, digest, args.steps)
            result["tokens_per_second"] = result["tokens"] / result["seconds"]
            runs[arm].append(result)
            print(
                f"  {arm}: {result['tokens_per_second']:.1f} tok/s, {result['seconds']:.1f} s, "
                f"peak {result['peak_rss_mib']} MiB",
                flush=True,
            )
    ours = [r["tokens_per_second"] for r in runs["ours"]]
    trl = [r["tokens_per_second"] for r in runs["trl"]]
    ratio = statistics.median(ours) / statistics.median(trl)
    report["sft_throughput"] = {
        "settings": {
            **SFT_SETTINGS,
            "max_steps": args.steps,
            "checkpoints": "every steps/2, as in both arms",
        },
        "ours_tokens_per_second": summary(ours),
        "trl_tokens_per_second": summary(trl),
        "ratio_ours_over_trl": round(ratio, 4),
        "ours_peak_rss_mib": summary([r["peak_rss_mib"] for r in runs["ours"]]),
        "trl_peak_rss_mib": summary([r["peak_rss_mib"] for r in runs["trl"]]),
        "tokens_per_run": {"ours": runs["ours"][0]["tokens"], "trl": runs["trl"][0]["tokens"]},
        "final_loss": {"ours": runs["ours"][0]["losses"][-1], "trl": runs["trl"][0]["losses"][-1]},
        "note": "tokens: non-padding tokens seen; wall time from the call to the saved adapter, model load included",
    }
    report["targets"] = {
        "sft_tokens_per_second_ratio": {
            "target": f">= {TARGET_RATIO}",
            "measured": round(ratio, 4),
            "pass": ratio >= TARGET_RATIO,
        }
    }
    write()

    if not args.skip_full:
        print(
            f"(b, c) full sft+grpo run on {args.dataset.name} (auto hyperparameters, GRPO <= {args.grpo_steps} steps)",
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="train-bench-full-") as work:
            full, adapter = full_run(args.dataset, digest, args.grpo_steps, Path(work), args.sft_steps)
            report["full_run"] = full
            report["full_run_measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            requested = {
                "grpo_steps": args.grpo_steps,
                **({"max_steps": args.sft_steps} if args.sft_steps else {}),
            }
            recipe = adapter_recipe(
                skill="json-reply",
                dataset=args.dataset,
                digest=digest,
                method="sft+grpo",
                requested=requested,
                device=full["device"],
                hyperparameters=full["hyperparameters"],
                seconds=full["seconds"],
                trained_tokens=full["trained_tokens"],
                metrics=full["metrics"],
                by="tests.benchmarks.train",
            )
            keep_adapter(adapter, ADAPTERS_DIR / "json-reply", recipe)
            report["grpo_step_seconds"] = full["grpo_step_seconds"]
            write()
            report["heldout_pass_rate"] = pass_rates(args.dataset, adapter, args.heldout)
        write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
