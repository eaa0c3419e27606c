"""Ingestion benchmark: object put -> ``skills.evt.skill.parsed.v1`` latency, and the rubric
compiler's coverage of the example skills.

    python -m tests.benchmarks.ingest [--skills 120] [--output tests/benchmarks/results/ingest.json]

It starts its own nats-server (the embedded one) and runs the skill-parser as a separate
process, as `skill-adapter up` does, with a fresh SQLite database. Latency is measured one skill
at a time (no queueing: what a user dropping a file sees); a burst then puts every skill at
once and measures how long the whole batch takes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import nats

from skill_adapter.contracts import SKILLS_BUCKET, SkillParsed
from skill_adapter.runtime.nats_server import EmbeddedNats
from skill_adapter.runtime.objects import Objects, ensure_bucket
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "services" / "cli" / "example_skills"
DEFAULT_OUTPUT = ROOT / "tests" / "benchmarks" / "results" / "ingest.json"

RULES = [
    "Always respond with valid JSON.",
    "Keep every reply under {n} words.",
    "Never mention `internal-{i}`.",
    "Start every reply with `OK`.",
    "Include a `## Summary` section.",
    "Use a bullet list with at most {k} bullets.",
    "Be friendly and precise.",
]


def synthetic_skill(i: int) -> tuple[str, bytes]:
    name = f"bench-skill-{i:04d}"
    rules = "\n".join(r.format(n=20 + i % 50, i=i, k=3 + i % 4) for r in RULES[: 2 + i % len(RULES)])
    text = (
        f"---\nname: {name}\ndescription: Benchmark skill {i}. Use when measuring ingestion.\n---\n"
        f"# {name}\n\n{rules}\n\n## Example\n\nInput: hello {i}\nOutput: OK\n"
    )
    return name, text.encode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def coverage() -> dict[str, dict[str, float | int]]:
    report: dict[str, dict[str, float | int]] = {}
    totals = [0, 0]
    for folder in sorted(p for p in EXAMPLES.iterdir() if (p / "SKILL.md").exists()):
        analysis = analyze(to_zip(from_directory(folder), folder.name), f"{folder.name}.zip")
        assert analysis.rubric is not None, analysis.reason()
        c = analysis.rubric.coverage
        totals[0] += c.constraint_sentences
        totals[1] += c.compiled_sentences
        report[folder.name] = {
            "constraint_sentences": c.constraint_sentences,
            "compiled_to_deterministic": c.compiled_sentences,
            "share": round(c.share, 3),
            "criteria": len(analysis.rubric.criteria),
            "deterministic_criteria": c.deterministic_criteria,
            "judge_criteria": c.judge_criteria,
        }
    report["all_examples"] = {
        "constraint_sentences": totals[0],
        "compiled_to_deterministic": totals[1],
        "share": round(totals[1] / totals[0], 3) if totals[0] else 1.0,
    }
    return report


async def measure(url: str, count: int) -> dict[str, object]:
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=10)
    await ensure_bucket(js, SKILLS_BUCKET)
    objects = Objects(js)
    arrived: dict[str, float] = {}
    done = asyncio.Event()
    expected: set[str] = set()

    async def on_parsed(msg) -> None:
        event = SkillParsed.model_validate_json(msg.data)
        arrived.setdefault(event.object_name, time.perf_counter())
        if expected and expected <= set(arrived):
            done.set()

    await nc.subscribe(SkillParsed.SUBJECT, cb=on_parsed)
    # warm-up: the first skill pays for imports and connections
    _, warm = synthetic_skill(99999)
    await objects.put(SKILLS_BUCKET.name, "bench-skill-99999/SKILL.md", warm)
    while "bench-skill-99999/SKILL.md" not in arrived:
        await asyncio.sleep(0.01)

    latencies: list[float] = []
    for i in range(count):
        name, data = synthetic_skill(i)
        object_name = f"{name}/SKILL.md"
        started = time.perf_counter()
        await objects.put(SKILLS_BUCKET.name, object_name, data)
        while object_name not in arrived:
            await asyncio.sleep(0.001)
        latencies.append((arrived[object_name] - started) * 1000)
        if (i + 1) % 20 == 0:
            print(
                f"  sequential: {i + 1}/{count}, median so far {statistics.median(latencies):.1f} ms",
                flush=True,
            )

    burst = [synthetic_skill(10_000 + i) for i in range(count)]
    expected.update(f"{name}/SKILL.md" for name, _ in burst)
    started = time.perf_counter()
    for name, data in burst:
        await objects.put(SKILLS_BUCKET.name, f"{name}/SKILL.md", data)
    await asyncio.wait_for(done.wait(), timeout=600)
    burst_seconds = time.perf_counter() - started
    await nc.close()
    return {
        "put_to_parsed_ms": {
            "n": len(latencies),
            "median": round(statistics.median(latencies), 2),
            "p95": round(percentile(latencies, 0.95), 2),
            "min": round(min(latencies), 2),
            "max": round(max(latencies), 2),
        },
        "burst": {
            "skills": count,
            "seconds": round(burst_seconds, 3),
            "skills_per_second": round(count / burst_seconds, 1),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skills", type=int, default=120)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        server = EmbeddedNats(Path(tmp)).start()
        env = {
            **os.environ,
            "NATS_URL": server.url,
            "SKILL_ADAPTER_STATE_DIR": tmp,
            "SKILL_ADAPTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
            "SKILL_ADAPTER_LOG_LEVEL": "WARNING",
        }
        env.pop("DATABASE_URL", None)
        worker = subprocess.Popen([sys.executable, "-m", "skill_adapter.skill_parser"], env=env, cwd=ROOT)
        try:
            print(f"measuring {args.skills} skills one at a time, then a burst of {args.skills}", flush=True)
            figures = asyncio.run(measure(server.url, args.skills))
        finally:
            worker.terminate()
            worker.wait(30)
            server.stop()

    result = {
        "benchmark": "ingest",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        **figures,
        "rubric_coverage": coverage(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
