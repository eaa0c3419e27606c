"""``skill-adapter demo`` as a newcomer runs it, on a tiny random model instead of SmolLM2.

The demo starts the whole stack itself (NATS, the five services), pushes an example skill,
runs a job through the job API and writes its report; the tiny model learns nothing, so the
gate holds the adapter back and the report must say so, with the evaluation's figures.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from skill_adapter.runtime.nats_server import running_embedded
from tests.e2e.test_cli import CLI, ROOT
from tests.e2e.test_data_cli import env

pytest.importorskip("trl", reason="the demo needs every service")

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    from skill_adapter.modelstore import tiny_random_model

    # bytes as tokens: the example skill in context is ~2,500 of them
    return tiny_random_model(tmp_path / "tiny", context=8192).path


def test_the_demo_runs_a_skill_through_the_pipeline_and_reports(tmp_path: Path, tiny_model: Path) -> None:
    state = tmp_path / "state"
    environ = env(state, tiny_model)
    model = str(tiny_model)  # served under its path: the id the trainer loads
    environ["SKILL_ADAPTER_BACKENDS"] = json.dumps(
        [{"kind": "local", "models": [{"id": model, "source": model}]}]
    )
    environ["SKILL_ADAPTER_EVAL_MAX_TOKENS"] = "48"
    out = tmp_path / "report"
    demo = subprocess.run(
        [
            *CLI,
            "demo",
            "--skill",
            "json-reply",
            "--model",
            model,
            "--samples",
            "4",
            "--epochs",
            "1",
            "--eval-prompts",
            "2",
            "--output",
            str(out),
            "--timeout",
            "900",
        ],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:]
    report = json.loads((out / "report.json").read_text())
    skill = report["skills"]["json-reply"]
    # the whole pipeline ran: data, training, evaluation; the gate decided
    assert set(skill["stage_seconds"]) >= {"generating_data", "training", "evaluating"}, skill
    assert skill["adapter_id"] and skill["adapter_id"].startswith("ft:")
    for arm in ("base", "base_with_skill", "adapter"):
        assert skill["arms"][arm]["total"] > 0, skill["arms"]
    if skill["promoted"]:  # a random model is not expected to pass, but the gate decides
        assert skill["status"] == "succeeded" and skill["fine_tuned_model"] == skill["adapter_id"]
    else:
        assert skill["status"] == "failed" and skill["error"]["code"] == "not_promoted"
        assert skill["gate_reasons"], skill
    # before/after on a held-out prompt, graded by the skill's own rubric
    before_after = skill["before_after"]
    assert before_after["prompt"] and before_after["adapter"]["passed"] in (True, False)
    # one completion through the OpenAI API, from the adapter
    chat = report["chat_completion"]
    assert chat["model"] == skill["adapter_id"] and isinstance(chat["reply"], str)
    assert chat["via"] == "the openai client"
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "services.log").stat().st_size > 0
    assert report["timings_seconds"]["total"] > 0
    assert "demo finished" in demo.stdout and "curl -s" in demo.stdout
    # and everything it started is stopped
    assert running_embedded(state) is None
    assert not (state / "run" / "up.json").exists()


def test_the_demo_refuses_an_unknown_skill(tmp_path: Path, tiny_model: Path) -> None:
    environ = env(tmp_path / "state", tiny_model)
    demo = subprocess.run(
        [*CLI, "demo", "--skill", "no-such-skill"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert demo.returncode == 2
    assert "unknown example skill no-such-skill" in demo.stderr
