"""Evaluation benchmark: base, base with the skill, and the adapter, per example skill.

    python -m tests.benchmarks.eval [--skill NAME ...] [--samples K] [--max-prompts N] [--max-tokens T] [--output tests/benchmarks/results/eval.json]

For each example skill on the embedded SmolLM2 (local backend, CPU):

1. the dataset the datagen benchmark keeps in ``~/.cache/skill-adapter-bench/datasets/<skill>/``
   (``python -m tests.benchmarks.datagen --skill <skill>`` makes it; a skill without one is
   skipped and the file says why);
2. the adapter of the trainer's default recipe (``sft+grpo``, LoRA, every hyperparameter
   ``auto``, seed 0, device ``auto``: ``run_training`` as the trainer service runs a job with
   default settings, the skill's own rubric as GRPO's reward), kept in
   ``~/.cache/skill-adapter-bench/adapters/<skill>/`` with a ``recipe.json`` and reused while
   the dataset digest matches (``python -m tests.benchmarks.train`` keeps JSON-reply's there too);
3. the evaluation, as the product runs it: an embedded nats-server with every stream and
   bucket, a real gateway (local backend serving SmolLM2) and what the pipeline would have left
   in the buckets (the skill version, the dataset with its manifest, the adapter's zip). The
   adapter is announced with ``AdapterRegistered`` (the gateway downloads it and serves it to
   ``models:evaluate`` keys only) and the evaluator's own ``Evaluation`` runs in this process
   against the gateway over HTTP with such a key: the run the evaluator starts for a registered
   adapter (run id, ``promote``), whose reports land in the ``evaluations`` bucket. Its summary is
   what ``EvaluationCompleted.summary`` carries; the promotion decision is the evaluator
   worker's rule (``Worker.promotion``) applied to it.

Recorded per skill: each arm's overall, greedy, sampled and per-criterion pass rates with 95%
Wilson intervals, lift and internalization, the regression checks (near-miss content, general
set), the gate's decision and reasons, a few replies, wall times, load averages. Writes the JSON
file and a PNG chart (per skill: the arms' overall pass rates and per-criterion pass rates with
interval bars) next to it. A run of some skills (``--skill``) keeps the other skills' figures
from the file when they were measured on the same model, each with its own date and settings
(``measured_separately`` lists them).

Smoke runs (never into ``tests/benchmarks/results``): ``--datasets-dir DIR`` reads datasets from
``DIR/<skill>/``, ``--cache-dir DIR`` keeps adapters in ``DIR`` instead, ``--sft-steps N`` /
``--grpo-steps N`` cap training (``--grpo-steps 0``: SFT only); the recipe file says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats

from skill_adapter.contracts import (
    ADAPTERS_BUCKET,
    BUCKETS,
    DATASETS_BUCKET,
    EVALUATIONS_BUCKET,
    SKILL_VERSIONS_BUCKET,
    AdapterRegistered,
    EvaluationSummary,
    StartEvaluation,
    StartJob,
)
from skill_adapter.evaluator.evaluation import Evaluation
from skill_adapter.evaluator.models import KnownAdapter
from skill_adapter.evaluator.service import auto_run_id
from skill_adapter.evaluator.settings import EvaluatorSettings
from skill_adapter.evaluator.worker import Worker
from skill_adapter.gateway.keys import create_key
from skill_adapter.gateway.settings import GatewaySettings
from skill_adapter.modelstore import (
    DEFAULT_MODEL,
    ModelStore,
    pack_folder,
    preflight_adapter,
    read_adapter_manifest,
)
from skill_adapter.runtime.nats_server import EmbeddedNats, free_port
from skill_adapter.runtime.objects import Objects, ensure_bucket
from skill_adapter.runtime.publisher import Publisher
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip
from skill_adapter.skillspec.version import sha256
from skill_adapter.trainer.artifacts import adapter_id_for, adapter_object, sha256_file

from .datagen import DATASETS_DIR, SKILLS, earlier_results
from .serve import CACHE_DIR, Gateway, machine
from .train import ADAPTER_RECIPE, ADAPTERS_DIR, TimedHooks, adapter_recipe, keep_adapter

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "services" / "cli" / "example_skills"
DEFAULT_OUTPUT = ROOT / "tests" / "benchmarks" / "results" / "eval.json"
ARMS = ("base", "base_with_skill", "adapter")
COLOURS = {"base": "#9e9e9e", "base_with_skill": "#4f81bd", "adapter": "#c0504d"}
TARGET_SKILL = "json-reply"
TARGET_ADAPTER_PASS_RATE = 0.95
NEAR_ZERO = 0.05
""""Near 0" for the base arms: an overall pass rate of at most this (0/20 measured before)."""


@dataclass
class Prepared:
    """A skill ready to evaluate: its bundle, dataset and adapter."""

    name: str
    bundle: bytes
    version: str
    rubric: Any
    dataset: Path
    dataset_digest: str
    adapter_dir: Path
    training: dict[str, Any]


def analysed(name: str) -> Any:
    data = to_zip(from_directory(EXAMPLES / name), name)
    analysis = analyze(data, f"{name}.zip")
    assert analysis.ok and analysis.rubric is not None and analysis.version, analysis.reason()
    return data, analysis


def dataset_digest(folder: Path) -> str | None:
    """The kept dataset's manifest digest, or None when it is missing or incomplete."""
    manifest = folder / "manifest.json"
    if not manifest.is_file() or not (folder / "heldout.jsonl").is_file():
        return None
    return sha256(manifest.read_bytes())


# -- stage 1 and 2: dataset and adapter ---------------------------------------------------------


def cached_adapter(folder: Path, digest: str) -> dict[str, Any] | None:
    recipe_path = folder / ADAPTER_RECIPE
    if not recipe_path.is_file() or not (folder / "adapter" / "adapter_config.json").is_file():
        return None
    recipe = json.loads(recipe_path.read_text())
    return recipe if recipe.get("dataset_digest") == digest else None


def train(
    name: str,
    analysis: Any,
    dataset: Path,
    digest: str,
    folder: Path,
    sft_steps: int | None,
    grpo_steps: int | None,
) -> dict[str, Any]:
    """The trainer's default recipe (``sft+grpo``, every hyperparameter ``auto``), or capped."""
    from skill_adapter.trainer.core import TrainSpec
    from skill_adapter.trainer.training import run_training

    requested: dict[str, Any] = {}
    if sft_steps:
        requested["max_steps"] = sft_steps
    if grpo_steps:
        requested["grpo_steps"] = grpo_steps
    method = "sft" if grpo_steps == 0 else "sft+grpo"
    info = ModelStore(CACHE_DIR).resolve(DEFAULT_MODEL)
    hooks = TimedHooks()
    with tempfile.TemporaryDirectory(prefix=f"eval-bench-train-{name}-") as work:
        spec = TrainSpec(
            job_id=f"bench-eval-{name}",
            base=info,
            dataset_dir=dataset,
            dataset_digest=digest,
            rubric=analysis.rubric,
            method=method,  # type: ignore[arg-type]
            adapter_type="lora",
            hyperparameters=requested,
            seed=0,
            device="auto",
            work_dir=Path(work),
            skill_name=name,
            skill_version=analysis.version,
        )
        started = time.perf_counter()
        outcome = run_training(spec, hooks)
        seconds = time.perf_counter() - started
        recipe = adapter_recipe(
            skill=name,
            dataset=dataset,
            digest=digest,
            method=method,
            requested=requested,
            device=outcome.device,
            hyperparameters=dict(outcome.hyperparameters),
            seconds=seconds,
            trained_tokens=outcome.trained_tokens,
            metrics=dict(outcome.metrics),
            by="tests.benchmarks.eval",
        )
        keep_adapter(outcome.adapter_dir, folder, recipe)
    return recipe


def prepare(
    name: str,
    datasets_dir: Path,
    adapters_dir: Path,
    sft_steps: int | None,
    grpo_steps: int | None,
    retrain: bool,
) -> Prepared | dict[str, Any]:
    """The skill's dataset and adapter (trained here when none is kept for this dataset), or why not."""
    dataset = datasets_dir / name
    digest = dataset_digest(dataset)
    if digest is None:
        command = f"python -m tests.benchmarks.datagen --skill {name}"
        print(f"{name}: skipped, no dataset in {dataset} (make it with `{command}`)", flush=True)
        return {"skipped": f"no dataset in {dataset}", "make_it_with": command}
    data, analysis = analysed(name)
    folder = adapters_dir / name
    recipe = None if retrain else cached_adapter(folder, digest)
    if recipe is not None:
        print(f"{name}: reusing the adapter in {folder} (trained by {recipe.get('trained_by')})", flush=True)
        training = {**recipe, "reused": True}
    else:
        caps = (
            "" if sft_steps is None and grpo_steps is None else f" capped: sft {sft_steps}, grpo {grpo_steps}"
        )
        print(f"{name}: training the default recipe{caps} on {dataset} (dataset {digest[:12]})", flush=True)
        training = {**train(name, analysis, dataset, digest, folder, sft_steps, grpo_steps), "reused": False}
        print(f"{name}: trained in {training['training_seconds']} s", flush=True)
    return Prepared(
        name=name,
        bundle=data,
        version=analysis.version,
        rubric=analysis.rubric,
        dataset=dataset,
        dataset_digest=digest,
        adapter_dir=folder / "adapter",
        training=training,
    )


# -- stage 3: the evaluation ----------------------------------------------------------------------


class Progress:
    def __init__(self, label: str) -> None:
        self.label = label
        self.last = 0.0

    async def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= 15 or done == total:
            self.last = now
            print(f"  {self.label}: {done}/{total} replies", flush=True)


async def publish_inputs(objects: Objects, js: Any, skill: Prepared, root: Path) -> AdapterRegistered:
    """What the pipeline would have left behind, then the adapter's registration."""
    await objects.put(SKILL_VERSIONS_BUCKET.name, f"{skill.name}/{skill.version}.zip", skill.bundle)
    manifest = json.loads((skill.dataset / "manifest.json").read_text())
    for entry in manifest["files"]:
        await objects.put(
            DATASETS_BUCKET.name, entry["name"], (skill.dataset / Path(entry["name"]).name).read_bytes()
        )
    # the data generator's manifest names the skill version and base model; the kept copy does not
    manifest.update(skill_name=skill.name, skill_version=skill.version, base_model=DEFAULT_MODEL)
    manifest_bytes = json.dumps(manifest, indent=2).encode()
    manifest_name = f"{manifest['dataset_id']}/manifest.json"
    await objects.put(DATASETS_BUCKET.name, manifest_name, manifest_bytes)

    info = ModelStore(CACHE_DIR).resolve(DEFAULT_MODEL)
    problems = await asyncio.to_thread(preflight_adapter, skill.adapter_dir, info)
    if problems:
        raise RuntimeError("the adapter cannot be served: " + "; ".join(p.message for p in problems))
    job = StartJob(
        producer="bench",
        correlation_id=f"bench-{skill.name}",
        job_id=f"bench-{skill.dataset_digest[:12]}",
        skill_name=skill.name,
        skill_version=skill.version,
        base_model=DEFAULT_MODEL,
        dataset_object=manifest_name,
        dataset_digest=sha256(manifest_bytes),
    )
    adapter_id = adapter_id_for(job)
    archive = await asyncio.to_thread(pack_folder, skill.adapter_dir, root / f"{skill.name}.zip")
    stored = await objects.put_file(ADAPTERS_BUCKET.name, adapter_object(adapter_id), archive)
    manifest_of_adapter = read_adapter_manifest(skill.adapter_dir)
    registered = AdapterRegistered(
        producer="bench",
        correlation_id=job.correlation_id,
        adapter_id=adapter_id,
        base_model=DEFAULT_MODEL,
        skill_name=skill.name,
        skill_version=skill.version,
        job_id=job.job_id,
        object_name=stored.name,
        digest=stored.digest or sha256_file(archive),
        rank=manifest_of_adapter.rank
        if manifest_of_adapter
        else int(skill.training["hyperparameters"]["lora_r"]),
        chat_template_hash=info.chat_template_sha256,
        dataset_object=manifest_name,
        dataset_digest=job.dataset_digest,
    )
    await Publisher(js).publish(registered)
    return registered


def rate(r: Any) -> dict[str, Any] | None:
    return (
        None
        if r is None
        else {"rate": r.rate, "low": round(r.low, 4), "high": round(r.high, 4), "n": f"{r.passed}/{r.total}"}
    )


def figures(summary: EvaluationSummary) -> dict[str, Any]:
    """The summary's figures, compact: per arm overall/greedy/sampled/criteria with intervals."""
    arms: dict[str, Any] = {}
    for name in ARMS:
        arm = summary.arms.get(name)
        if arm is None:
            continue
        arms[name] = {
            "overall": rate(arm.overall),
            "greedy": rate(arm.greedy),
            "sampled": rate(arm.sampled),
            "criteria": {cid: rate(r) for cid, r in arm.criteria.items()},
            "mean_reward": arm.mean_reward,
            "mean_output_tokens": arm.mean_output_tokens,
            "mean_latency_seconds": round(arm.mean_latency_seconds, 3),
            "near_miss_content": rate(arm.near_miss_content),
            "general": rate(arm.general),
        }
    return arms


async def examples(objects: Objects, run_id: str, per_arm: int = 2) -> dict[str, list[dict[str, Any]]]:
    """A few greedy replies per arm, from the run's ``samples.jsonl``."""
    raw = await objects.get(EVALUATIONS_BUCKET.name, f"{run_id}/samples.jsonl")
    found: dict[str, list[dict[str, Any]]] = {}
    for line in raw.decode().splitlines():
        sample = json.loads(line)
        if sample.get("prompt_set") != "skill" or sample.get("kind") != "greedy":
            continue
        kept = found.setdefault(sample["arm"], [])
        if len(kept) < per_arm:
            kept.append(
                {"prompt_id": sample["prompt_id"], "reply": sample["text"], "passed": sample["passed"]}
            )
    return found


async def evaluate(
    objects: Objects,
    js: Any,
    skill: Prepared,
    settings: EvaluatorSettings,
    args: argparse.Namespace,
    root: Path,
) -> dict[str, Any]:
    load_start = round(os.getloadavg()[0], 2)
    registered = await publish_inputs(objects, js, skill, root)
    run_id = auto_run_id(registered.adapter_id)
    command = StartEvaluation(  # what the evaluator queues for a registered adapter
        producer="evaluator",
        correlation_id=registered.correlation_id,
        causation_id=registered.event_id,
        run_id=run_id,
        skill_name=skill.name,
        skill_version=skill.version,
        model=registered.adapter_id,
        base_model=registered.base_model,
        job_id=registered.job_id,
        dataset_object=registered.dataset_object,
        dataset_digest=registered.dataset_digest,
        samples=args.samples,
        seed=args.seed,
        promote=True,
    )
    adapter = KnownAdapter(
        adapter_id=registered.adapter_id,
        skill_name=skill.name,
        skill_version=skill.version,
        base_model=registered.base_model,
        dataset_object=registered.dataset_object,
        dataset_digest=registered.dataset_digest,
    )
    print(f"{skill.name}: evaluating {registered.adapter_id} (run {run_id})", flush=True)
    started = time.monotonic()
    outcome = await Evaluation(objects, settings, command, adapter, None, Progress(skill.name)).run()
    seconds = time.monotonic() - started
    result: dict[str, Any] = {
        "adapter_id": registered.adapter_id,
        "run_id": run_id,
        "skill_version": skill.version,
        "dataset": {
            "path": str(skill.dataset),
            "digest": skill.dataset_digest,
            "bucket_manifest": registered.dataset_object,
        },
        "training": skill.training,
        "evaluation_seconds": round(seconds, 1),
        "load_average_1m": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
    }
    if outcome.code is not None or outcome.summary is None:
        result.update(failed={"code": outcome.code, "reason": outcome.reason})
        print(f"{skill.name}: evaluation failed: {outcome.code}: {outcome.reason}", flush=True)
        if outcome.summary is None:
            return result
    summary = outcome.summary
    stored = EvaluationSummary.model_validate_json(
        await objects.get(EVALUATIONS_BUCKET.name, f"{run_id}/summary.json")
    )
    promote, held_back = Worker.promotion(command, outcome, adapter, None)
    result.update(
        partial=summary.partial,
        prompts=summary.prompts,
        near_miss_prompts=summary.near_miss_prompts,
        general_prompts=summary.general_prompts,
        arms=figures(summary),
        lift=summary.lift,
        internalization=summary.internalization,
        regressions=summary.regressions,
        gate=summary.gate.model_dump(mode="json") if summary.gate else None,
        promoted=promote,
        reasons=[*(summary.gate.reasons if summary.gate else []), *held_back],
        not_evaluated=summary.not_evaluated,
        report_objects=summary.objects,
        stored_summary_matches=stored == summary,
        examples=await examples(objects, run_id),
    )
    line = ", ".join(f"{a} {v['overall']['n']}" for a, v in result["arms"].items())
    print(f"{skill.name}: {line}; lift {summary.lift}; promoted {promote} {result['reasons']}", flush=True)
    return result


async def evaluate_all(
    prepared: list[Prepared],
    nats_url: str,
    gateway: Gateway,
    key: str,
    args: argparse.Namespace,
    root: Path,
    done: Any,
) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream(timeout=30)
        for bucket in BUCKETS:
            await ensure_bucket(js, bucket)
        objects = Objects(js)
        for skill in prepared:
            settings = EvaluatorSettings(
                nats_url=nats_url,
                database_url=f"sqlite+aiosqlite:///{root / 'evaluator.db'}",
                state_dir=root,
                embedded_nats=False,
                inference_url=f"{gateway.base_url}/v1",
                inference_api_key=key,
                inference_timeout=900,
                eval_max_tokens=args.max_tokens,
                eval_max_prompts=args.max_prompts,
                eval_model_wait_seconds=300,
                log_level="WARNING",
            )
            try:
                result = await evaluate(objects, js, skill, settings, args, root)
            except RuntimeError as exc:  # an adapter the gateway could not serve
                print(f"{skill.name}: not evaluated: {exc}", flush=True)
                result = {"training": skill.training, "failed": {"code": "not_evaluated", "reason": str(exc)}}
            done(skill.name, result)
    finally:
        await nc.close()


# -- report -----------------------------------------------------------------------------------------


def chart(skills: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [name for name, figures in skills.items() if figures.get("arms")]
    rows = max(1, len(done))
    fig, axes = plt.subplots(
        rows, 2, figsize=(14, 3.8 * rows), squeeze=False, gridspec_kw={"width_ratios": [1, 2.6]}
    )
    for row, name in enumerate(done):
        arms = skills[name]["arms"]
        ax = axes[row][0]
        names = [a for a in ARMS if a in arms]
        values = [arms[a]["overall"]["rate"] for a in names]
        errors = [
            [arms[a]["overall"]["rate"] - arms[a]["overall"]["low"] for a in names],
            [arms[a]["overall"]["high"] - arms[a]["overall"]["rate"] for a in names],
        ]
        bars = ax.bar(names, values, yerr=errors, capsize=4, color=[COLOURS[a] for a in names])
        ax.bar_label(bars, labels=[arms[a]["overall"]["n"] for a in names], fontsize=8, padding=2)
        ax.set(title=f"{name}: overall pass rate", ylim=(0, 1.12), ylabel="pass rate (95% Wilson CI)")
        ax.tick_params(axis="x", labelsize=8)
        ax = axes[row][1]
        criteria = sorted({cid for a in names for cid in arms[a]["criteria"]})
        width = 0.8 / len(names)
        for i, a in enumerate(names):
            got = [arms[a]["criteria"].get(cid) for cid in criteria]
            ax.bar(
                [x + (i - (len(names) - 1) / 2) * width for x in range(len(criteria))],
                [g["rate"] if g else 0.0 for g in got],
                width,
                yerr=[
                    [g["rate"] - g["low"] if g else 0.0 for g in got],
                    [g["high"] - g["rate"] if g else 0.0 for g in got],
                ],
                capsize=2,
                color=COLOURS[a],
                label=a,
            )
        ax.set_xticks(range(len(criteria)), criteria, rotation=25, ha="right", fontsize=7)
        ax.set(title=f"{name}: per-criterion pass rate", ylim=(0, 1.12))
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    if not done:
        axes[0][0].set_title("no skill evaluated")
    fig.suptitle(
        "SmolLM2-135M-Instruct: base vs base + skill in context vs adapter (held-out prompts)", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def target(skills: dict[str, Any]) -> dict[str, Any]:
    arms = skills.get(TARGET_SKILL, {}).get("arms") or {}

    def measured(arm: str) -> float | None:
        return arms[arm]["overall"]["rate"] if arm in arms else None

    adapter, base, with_skill = measured("adapter"), measured("base"), measured("base_with_skill")
    return {
        "target": f"{TARGET_SKILL}: adapter overall pass rate >= {TARGET_ADAPTER_PASS_RATE}, base and "
        f"base_with_skill near 0 (<= {NEAR_ZERO}; 0/20 measured before)",
        "measured": {"adapter": adapter, "base": base, "base_with_skill": with_skill},
        "pass": None
        if adapter is None or base is None or with_skill is None
        else adapter >= TARGET_ADAPTER_PASS_RATE and base <= NEAR_ZERO and with_skill <= NEAR_ZERO,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skill", action="append", choices=SKILLS, default=[], help="only this skill (repeatable)"
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=1,
        help="sampled replies per prompt and arm, besides the greedy one (1-64)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-prompts",
        type=int,
        default=EvaluatorSettings().eval_max_prompts,
        help="held-out prompts at most",
    )
    parser.add_argument(
        "--max-tokens", type=int, default=EvaluatorSettings().eval_max_tokens, help="longest reply"
    )
    parser.add_argument(
        "--datasets-dir", type=Path, default=DATASETS_DIR, help="where the datagen benchmark keeps datasets"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=ADAPTERS_DIR, help="where adapters are kept and reused"
    )
    parser.add_argument(
        "--retrain", action="store_true", help="train even when an adapter is kept for the dataset"
    )
    parser.add_argument(
        "--sft-steps", type=int, default=None, help="cap SFT steps (smoke runs; default auto)"
    )
    parser.add_argument(
        "--grpo-steps", type=int, default=None, help="cap GRPO steps, 0: SFT only (smoke runs; default auto)"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if not 1 <= args.samples <= 64:
        parser.error("--samples must be 1-64 (an evaluation run's range)")

    started = time.monotonic()
    print(f"resolving SmolLM2 in {CACHE_DIR} (converted once)", flush=True)
    info = ModelStore(CACHE_DIR).resolve(DEFAULT_MODEL)
    names = args.skill or list(SKILLS)
    skills: dict[str, Any] = earlier_results(
        args.output,
        info.chat_template_sha256,
        names,
        measured=lambda figures: "arms" in figures,  # a skill skipped for want of a dataset is not kept
        carried=("measured_at", "settings"),
    )
    measured_separately = sorted(skills)
    report: dict[str, Any] = {
        "benchmark": "eval",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "model": {"id": DEFAULT_MODEL, "chat_template_sha256": info.chat_template_sha256},
        "backend": "local (gateway over HTTP)",
        "settings": {
            "samples": args.samples,
            "seed": args.seed,
            "max_prompts": args.max_prompts,
            "max_tokens": args.max_tokens,
            "temperature_sampled": EvaluatorSettings().eval_temperature,
            "concurrency": EvaluatorSettings().eval_concurrency,
            "judge": None,
            "thresholds": EvaluatorSettings().thresholds().model_dump(),
            "training_caps": {"sft_steps": args.sft_steps, "grpo_steps": args.grpo_steps},
            "datasets_dir": str(args.datasets_dir),
            "adapters_dir": str(args.cache_dir),
        },
        "measured_separately": measured_separately,
        "skills": skills,
    }

    def write() -> None:
        report["targets"] = {"json_reply_adapter_vs_base": target(skills)}
        report["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
        report["total_seconds"] = round(time.monotonic() - started, 1)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
        chart(skills, args.output.with_suffix(".png"))
        print(f"wrote {args.output} and {args.output.with_suffix('.png')}", flush=True)

    prepared: list[Prepared] = []
    print(f"stage 1-2: datasets and adapters ({', '.join(names)})", flush=True)
    for name in names:
        ready = prepare(
            name, args.datasets_dir, args.cache_dir, args.sft_steps, args.grpo_steps, args.retrain
        )
        if isinstance(ready, Prepared):
            prepared.append(ready)
            skills[name] = {"training": ready.training}
        else:
            skills[name] = ready
        write()
    if not prepared:
        return 1

    def done(name: str, result: dict[str, Any]) -> None:
        skills[name] = result
        write()

    print(f"stage 3: evaluation ({', '.join(p.name for p in prepared)})", flush=True)
    with tempfile.TemporaryDirectory(prefix="eval-bench-") as tmp:
        root = Path(tmp)
        server = EmbeddedNats(root / "nats").start()
        settings = GatewaySettings(
            nats_url=server.url,
            database_url=f"sqlite+aiosqlite:///{root / 'gateway.db'}",
            state_dir=root,
            embedded_nats=False,
            graceful_timeout=5,
            port=free_port(),
            log_level="WARNING",
            backends=[{"kind": "local"}],
            model_cache_dir=CACHE_DIR,
            adapters_dir=root / "adapters",
        )
        gateway = Gateway(settings)
        try:
            gateway.start(wait_for=(DEFAULT_MODEL,))
            key = create_key(settings, "bench-evaluator", ["models:evaluate"]).token
            asyncio.run(evaluate_all(prepared, server.url, gateway, key, args, root, done))
        finally:
            gateway.stop()
            server.stop()
    write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
