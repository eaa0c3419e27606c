"""Data-generation benchmark: every example skill on the embedded SmolLM2, local backend.

    python -m tests.benchmarks.datagen [--samples 200] [--skill NAME ...] [--probe 8] [--output tests/benchmarks/results/datagen.json]

It starts its own nats-server and a real gateway (uvicorn on a free port, its own thread)
whose local backend serves SmolLM2-135M-Instruct, and runs the data-generator's pipeline
against the gateway's OpenAI API over HTTP, exactly as the service does. Per example skill:

1. a strategy probe: ``--probe`` training prompts with each strategy on its own (``guided``
   where the rubric has an output constraint, ``best_of_n`` always), so every strategy has
   an acceptance rate measured on the same prompts;
2. the real run: ``auto`` for ``--samples`` training samples: wall time, samples per minute,
   acceptance per strategy, the share of zero-variance GRPO prompts, and whether it reached
   the target.

Writes the JSON file and a PNG chart next to it (acceptance rate by strategy and skill).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skill_adapter.contracts import GenerateDataset
from skill_adapter.data_generator.inference import ChatClient
from skill_adapter.data_generator.pipeline import LoadedSkill, Pipeline, RunFailed
from skill_adapter.data_generator.settings import DataGeneratorSettings
from skill_adapter.data_generator.strategies import Sampler, reply_budget, wants_several_lines
from skill_adapter.gateway.settings import GatewaySettings
from skill_adapter.modelstore import DEFAULT_MODEL, ModelStore
from skill_adapter.runtime.nats_server import EmbeddedNats, free_port
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip
from skill_adapter.skillspec.render import skill_system_prompt
from skill_adapter.skillspec.version import sha256

from .serve import CACHE_DIR, Gateway, machine

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "services" / "cli" / "example_skills"
DEFAULT_OUTPUT = ROOT / "tests" / "benchmarks" / "results" / "datagen.json"
DATASETS_DIR = CACHE_DIR.parent / "datasets"
"""Each skill's auto-run dataset is kept here (``<skill>/``, the datasets bucket's layout) for
the training benchmark (``python -m tests.benchmarks.train``)."""
SKILLS = ("json-reply", "commit-message", "status-report")
TARGET_SAMPLES = 200


def load(name: str) -> LoadedSkill:
    data = to_zip(from_directory(EXAMPLES / name), name)
    analysis = analyze(data, f"{name}.zip")
    assert analysis.ok and analysis.document and analysis.rubric and analysis.bundle, analysis.reason()
    return LoadedSkill(analysis.bundle, analysis.document, analysis.evals, analysis.rubric, sha256(data))


class Progress:
    def __init__(self, label: str) -> None:
        self.label = label
        self.last = 0.0

    async def __call__(self, stage: str, done: int, total: int, accepted: int) -> None:
        now = time.monotonic()
        if now - self.last >= 10 or done == total:
            self.last = now
            print(f"  {self.label}: {stage} {done}/{total} ({accepted} verified)", flush=True)


async def run_one(
    settings: DataGeneratorSettings,
    gateway: Gateway,
    skill: LoadedSkill,
    strategy: str,
    samples: int,
    label: str,
) -> dict[str, Any]:
    client = ChatClient(f"{gateway.base_url}/v1", gateway.token, timeout=600, name="gateway")
    sampler = Sampler(
        base=client,
        base_model=DEFAULT_MODEL,
        system=skill_system_prompt(skill.document),
        max_tokens=reply_budget(skill.rubric, settings.datagen_max_tokens),
        temperature=settings.datagen_temperature,
        candidates=settings.datagen_candidates,
        constraint=skill.rubric.output_constraint,
        multiline=wants_several_lines(skill.rubric),
    )
    command = GenerateDataset(
        producer="bench",
        correlation_id=label,
        dataset_id=label,
        skill_name=skill.document.name,
        skill_version=skill.rubric.skill_version,
        base_model=DEFAULT_MODEL,
        strategy=strategy,  # type: ignore[arg-type]
        num_samples=samples,
        seed=0,
    )
    started = time.monotonic()
    try:
        dataset = await Pipeline(settings, command, skill, sampler, None, Progress(label)).run()
        if strategy == "auto":
            keep_dataset(DATASETS_DIR / skill.document.name, label, dataset)
        outcome: dict[str, Any] = {
            "ok": True,
            "train": len(dataset.train),
            "validation": len(dataset.validation),
            "heldout": len(dataset.heldout),
            "grpo": len(dataset.grpo),
            "stats": dataset.stats.model_dump(mode="json"),
            "example": dataset.train[0].messages[-1].content if dataset.train else None,
            "train_reply_chars": reply_lengths(dataset.train),
        }
    except RunFailed as exc:
        outcome = {"ok": False, "code": exc.code, "reason": exc.reason}
        if exc.stats:
            outcome["stats"] = exc.stats.model_dump(mode="json")
    finally:
        await client.aclose()
    outcome["seconds"] = round(time.monotonic() - started, 1)
    return outcome


def reply_lengths(records: Any) -> dict[str, int] | None:
    """Median and longest kept reply in characters: what the adapter learns to write."""
    lengths = [len(r.messages[-1].content) for r in records]
    return {"median": statistics.median_high(lengths), "max": max(lengths)} if lengths else None


def keep_dataset(folder: Path, dataset_id: str, dataset: Any) -> None:
    """The dataset's files and a manifest listing them with their digests (what the trainer checks)."""
    import hashlib
    import shutil

    from skill_adapter.data_generator.artifact import entry, to_jsonl

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    files = []
    for role, records in (
        ("train", dataset.train),
        ("validation", dataset.validation),
        ("heldout", dataset.heldout),
        ("grpo", dataset.grpo),
    ):
        data = to_jsonl(records)
        (folder / f"{role}.jsonl").write_bytes(data)
        files.append(entry(f"{dataset_id}/{role}.jsonl", role, data, records).model_dump())
    manifest = {
        "dataset_id": dataset_id,
        "max_length": dataset.max_length,
        "counts": {f["role"]: f["records"] for f in files},
        "stats": dataset.stats.model_dump(mode="json"),
        "files": files,
    }
    data = json.dumps(manifest, indent=2).encode()
    (folder / "manifest.json").write_bytes(data)
    (folder / "manifest.sha256").write_text(hashlib.sha256(data).hexdigest() + "\n")
    print(f"kept the dataset in {folder}", flush=True)


def acceptance(outcome: dict[str, Any]) -> dict[str, float]:
    strategies = (outcome.get("stats") or {}).get("strategies", {})
    return {
        name: round(s["accepted"] / s["attempts"], 4) if s["attempts"] else 0.0
        for name, s in strategies.items()
    }


async def measure(
    gateway: Gateway,
    skills: list[str],
    samples: dict[str, int],
    probe: int,
    done: Callable[[dict[str, Any]], None],
    earlier: dict[str, Any],
) -> dict[str, Any]:
    """The ``skills`` in turn; ``done`` gets the results so far after each (a long run that is
    stopped keeps what it finished). ``earlier`` holds other skills' results from a previous
    run of the same model, kept in the file."""
    results: dict[str, Any] = dict(earlier)
    for name in skills:
        skill = load(name)
        print(
            f"{name}: output constraint {skill.rubric.output_constraint.kind if skill.rubric.output_constraint else None}"
        )
        strategies = ["guided", "best_of_n"] if skill.rubric.output_constraint else ["best_of_n"]
        probe_settings = DataGeneratorSettings(
            datagen_grpo_probe_prompts=0,
            datagen_min_samples_share=0.01,
            datagen_validation_share=0.01,
            datagen_attempts_per_prompt=1,
        )
        probes = {}
        for strategy in strategies:
            probes[strategy] = await run_one(
                probe_settings, gateway, skill, strategy, probe, f"{name}-{strategy}"
            )
        wanted = samples[name]
        full = await run_one(DataGeneratorSettings(), gateway, skill, "auto", wanted, f"{name}-auto")
        stats = full.get("stats") or {}
        results[name] = {
            "output_constraint": skill.rubric.output_constraint.kind
            if skill.rubric.output_constraint
            else None,
            "probe_prompts": probe,
            "acceptance_rate_by_strategy": {s: acceptance(o).get(s, 0.0) for s, o in probes.items()},
            "probe_runs": probes,
            "auto_run": full,
            "samples_per_minute": stats.get("samples_per_minute"),
            "grpo_zero_variance_share": stats.get("grpo_zero_variance_share"),
            "training_samples_requested": wanted,
            "seconds_for_the_training_set": full["seconds"] if full["ok"] else None,
            "seconds_for_200_training_samples": full["seconds"]
            if full["ok"] and wanted == TARGET_SAMPLES
            else None,
            "reached_target": bool(full["ok"] and full.get("train", 0) >= wanted),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        results[name]["seconds_for_200_training_samples_estimated"] = estimated_for_target(results[name])
        done(results)
    return results


def estimated_for_target(figures: dict[str, Any]) -> float | None:
    """Seconds for a ``TARGET_SAMPLES`` training set, scaled linearly from a smaller run that
    succeeded (an upper bound: the GRPO probe in it has a fixed size); measured runs say ``None``."""
    wanted, seconds = figures.get("training_samples_requested"), figures.get("seconds_for_the_training_set")
    if not wanted or seconds is None or wanted >= TARGET_SAMPLES:
        return None
    return round(seconds * TARGET_SAMPLES / wanted, 1)


def earlier_results(
    path: Path,
    template_sha256: str,
    skills: list[str],
    *,
    measured: Callable[[dict[str, Any]], bool] = lambda figures: True,
    carried: tuple[str, ...] = ("measured_at",),
) -> dict[str, Any]:
    """Other skills' figures from an earlier run in ``path`` on the same model, if any: those
    that ``measured`` accepts, each given the report's ``carried`` keys it lacks (its date...)."""
    if set(skills) == set(SKILLS) or not path.exists():
        return {}
    try:
        report = json.loads(path.read_text())
    except ValueError:
        return {}
    if report.get("model", {}).get("chat_template_sha256") != template_sha256:
        return {}
    kept = {
        name: figures
        for name, figures in report.get("skills", {}).items()
        if name not in skills and measured(figures)
    }
    for figures in kept.values():
        for key in carried:
            figures.setdefault(key, report.get(key))
    return kept


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    skills = list(results)
    strategies = ["guided", "best_of_n"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.35
    for i, strategy in enumerate(strategies):
        values = [results[s]["acceptance_rate_by_strategy"].get(strategy, 0.0) * 100 for s in skills]
        bars = ax.bar([x + i * width for x in range(len(skills))], values, width, label=strategy)
        ax.bar_label(bars, fmt="%.0f%%", fontsize=8)
    ax.set_xticks([x + width / 2 for x in range(len(skills))], skills)
    ax.set_ylabel("candidates that pass every check (%)")
    ax.set_ylim(0, 110)
    ax.set_title("SmolLM2-135M-Instruct: acceptance rate by strategy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--samples", type=int, default=TARGET_SAMPLES, help="training samples per skill (auto)"
    )
    parser.add_argument(
        "--samples-for",
        action="append",
        default=[],
        metavar="SKILL=N",
        help="training samples for one skill (repeatable), overriding --samples",
    )
    parser.add_argument(
        "--skill",
        action="append",
        choices=SKILLS,
        default=[],
        help="measure only this skill (repeatable); the file keeps the other skills' earlier figures",
    )
    parser.add_argument("--probe", type=int, default=8, help="prompts per strategy in the probe")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    samples = {name: args.samples for name in SKILLS}
    for spec in args.samples_for:
        name, _, count = spec.partition("=")
        samples[name] = int(count)
    started = time.monotonic()
    print(f"resolving SmolLM2 in {CACHE_DIR} (converted once)", flush=True)
    info = ModelStore(CACHE_DIR).resolve(DEFAULT_MODEL)
    skills = args.skill or list(SKILLS)
    earlier = earlier_results(args.output, info.chat_template_sha256, skills)

    def write(results: dict[str, Any]) -> None:
        json_reply = results.get("json-reply", {})
        report = {
            "benchmark": "datagen",
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            "model": {"id": DEFAULT_MODEL, "chat_template_sha256": info.chat_template_sha256},
            "backend": "local (gateway over HTTP)",
            "samples_requested": {
                name: figures["training_samples_requested"] for name, figures in results.items()
            },
            "measured_separately": sorted(earlier),
            "targets": {
                "json_reply_verified_samples_from_smollm2_alone": {
                    "target": f">= {TARGET_SAMPLES}",
                    "measured": (json_reply.get("auto_run") or {}).get("train", 0),
                    "pass": bool(json_reply.get("reached_target"))
                    and json_reply.get("training_samples_requested", 0) >= TARGET_SAMPLES,
                }
            },
            "skills": results,
            "complete": set(results) == set(SKILLS),
            "total_seconds": round(time.monotonic() - started, 1),
        }
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
        chart(results, args.output.with_suffix(".png"))
        print(f"wrote {args.output} and {args.output.with_suffix('.png')} ({', '.join(results)})", flush=True)

    with tempfile.TemporaryDirectory(prefix="datagen-bench-") as tmp:
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
        )
        gateway = Gateway(settings)
        try:
            gateway.start(wait_for=(DEFAULT_MODEL,))
            results = asyncio.run(measure(gateway, skills, samples, args.probe, write, earlier))
        finally:
            gateway.stop()
            server.stop()

    for name in skills:
        figures = results[name]
        print(
            f"{name}: acceptance {figures['acceptance_rate_by_strategy']}, {figures['samples_per_minute']} samples/min, "
            f"zero-variance GRPO share {figures['grpo_zero_variance_share']}, "
            f"reached {figures['training_samples_requested']}: {figures['reached_target']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
