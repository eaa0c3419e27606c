"""The evaluator as deployed: an adapter registered -> evaluated in three arms through a real
gateway -> reports in the bucket -> the gate's decision published. A tiny random model follows
no skill, so the default gate holds it back with reasons; lenient per-run thresholds promote."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import nats
import pytest

from skill_adapter.contracts import (
    AdapterPromoted,
    AdapterRetired,
    EvaluationCompleted,
    EvaluationFailed,
    EvaluationSummary,
)
from skill_adapter.evaluator.service import build_service
from skill_adapter.evaluator.settings import EvaluatorSettings
from skill_adapter.runtime.nats_server import EmbeddedNats
from skill_adapter.runtime.objects import Objects
from tests.integration.evaluator.harness import EVENTS, HELDOUT, Harness
from tests.integration.evaluator.stalling_proxy import stalling_proxy
from tests.integration.inference.conftest import TINY, ServedGateway
from tests.support.helpers import eventually
from tests.support.skills import write_mini_skill

pytestmark = pytest.mark.integration

MAX_PROMPTS = 3


def evaluator_settings(
    root: Path, nats_url: str, inference_url: str, key: str, **overrides: Any
) -> EvaluatorSettings:
    fields: dict[str, Any] = {
        "nats_url": nats_url,
        "database_url": f"sqlite+aiosqlite:///{root / 'evaluator.db'}",
        "state_dir": root,
        "embedded_nats": False,
        "inference_url": inference_url,
        "inference_api_key": key,
        "inference_timeout": 30,
        "eval_max_tokens": 8,
        "eval_max_prompts": MAX_PROMPTS,
        "eval_concurrency": 4,
        "eval_poll_seconds": 0.2,
        "eval_retry_delays": (0.2,),
        "eval_model_wait_seconds": 2,
        "graceful_timeout": 5,
        **overrides,
    }
    return EvaluatorSettings(**fields)


@asynccontextmanager
async def running_evaluator(nats_url: str, settings: EvaluatorSettings) -> AsyncIterator[Harness]:
    nc = await nats.connect(nats_url)
    found = Harness(nc, Objects(nc.jetstream()))
    await found.setup()
    models = {m.SUBJECT: m for m in EVENTS}

    async def on_event(msg: Any) -> None:
        found.events.append(models[msg.subject].model_validate_json(msg.data))

    subs = [await nc.subscribe(subject, cb=on_event) for subject in models]
    app = build_service(settings).create_app(settings)
    await app.start()
    try:
        yield found
    finally:
        await app.stop()
        for sub in subs:
            await sub.unsubscribe()
        await nc.close()


@pytest.fixture
async def harness(
    eval_nats: EmbeddedNats, eval_gateway: ServedGateway, tmp_path: Path
) -> AsyncIterator[Harness]:
    key = await asyncio.to_thread(eval_gateway.key, "models:evaluate")
    settings = evaluator_settings(tmp_path, eval_nats.url, f"{eval_gateway.base_url}/v1", key)
    async with running_evaluator(eval_nats.url, settings) as found:
        yield found


@pytest.fixture
def mini_skill(tmp_path: Path) -> Path:
    return write_mini_skill(tmp_path)


async def test_a_registered_adapter_is_evaluated_reported_and_held_back_with_reasons(
    harness: Harness, mini_skill: Path, tiny_model_path: Path, tmp_path: Path, unique: str
) -> None:
    version = await harness.push_skill(mini_skill)
    dataset = await harness.put_dataset(f"ds-{unique}", "mini-json", version)
    adapter_id = f"ft:tiny:mini-json:job-{unique}"
    await harness.register(
        adapter_id, tiny_model_path, tmp_path, skill="mini-json", version=version, dataset=dataset
    )

    outcome = await harness.outcome(adapter_id)
    assert isinstance(outcome, EvaluationCompleted), outcome
    assert set(outcome.pass_rates) == {"base", "base_with_skill", "adapter"}
    assert outcome.promoted is False and outcome.reasons
    assert any("pass rate" in reason for reason in outcome.reasons)
    assert outcome.summary is not None and not outcome.summary.partial
    await asyncio.sleep(0.5)
    assert harness.of(AdapterPromoted, adapter_id) == []

    summary = EvaluationSummary.model_validate(await harness.json(f"{outcome.run_id}/summary.json"))
    assert summary == outcome.summary
    assert sorted(summary.objects) == sorted(outcome.objects)
    assert summary.prompts == len(HELDOUT) and summary.near_miss_prompts == 1
    adapter = summary.arms["adapter"]
    assert adapter.samples == len(HELDOUT) * 2  # greedy + 1 sampled
    assert adapter.criteria and all(0 <= r.low <= r.rate <= r.high <= 1 for r in adapter.criteria.values())
    assert adapter.general is not None and adapter.general.total == MAX_PROMPTS
    assert adapter.mean_output_tokens > 0 and adapter.mean_latency_seconds > 0
    assert set(summary.regressions) == {"near_miss_content", "general"}

    lines = (
        (await harness.objects.get("evaluations", f"{outcome.run_id}/samples.jsonl")).decode().splitlines()
    )
    samples = [json.loads(line) for line in lines]
    assert len(samples) == 3 * len(HELDOUT) * 2 + 2 * MAX_PROMPTS
    progress = harness.progress(outcome.run_id)
    assert progress[0].stage == "queued"
    generating = [p for p in progress if p.stage == "generating"]
    assert generating and generating[-1].done == generating[-1].total == len(samples)
    assert {s["arm"] for s in samples} == {"base", "base_with_skill", "adapter"}
    grading = await harness.json(f"{outcome.run_id}/grading.json")
    assert grading["summary"]["total"] > 0
    assert all({"text", "passed", "evidence"} <= set(e) for e in grading["expectations"])
    benchmark = await harness.json(f"{outcome.run_id}/benchmark.json")
    assert {"with_skill", "without_skill", "delta", "adapter"} <= set(benchmark["run_summary"])
    chart = await harness.objects.get("evaluations", f"{outcome.run_id}/chart.png")
    assert chart.startswith(b"\x89PNG")


async def test_a_passing_adapter_is_promoted_and_replaces_the_previous_one(
    harness: Harness, mini_skill: Path, tiny_model_path: Path, tmp_path: Path, unique: str
) -> None:
    version = await harness.push_skill(mini_skill)
    dataset = await harness.put_dataset(f"ds-{unique}", "mini-json", version)
    lenient = {"min_pass_rate": 0.0, "min_lift": -1.0, "max_regression": 1.0, "promote": True}
    first, second = f"ft:tiny:mini-json:a-{unique}", f"ft:tiny:mini-json:b-{unique}"
    for seed, adapter_id in enumerate((first, second), start=1):
        await harness.register(
            adapter_id,
            tiny_model_path,
            tmp_path,
            skill="mini-json",
            version=version,
            dataset=dataset,
            seed=seed,
        )
        await harness.outcome(adapter_id)  # the automatic run, held back by the default gate
        command = await harness.start(
            run_id=f"manual-{seed}-{unique}",
            skill_name="mini-json",
            skill_version=version,
            model=adapter_id,
            **lenient,
        )
        outcome = await harness.outcome_of(command.run_id)
        assert isinstance(outcome, EvaluationCompleted) and outcome.promoted, outcome

    # The serving events come through another stream than the run's outcome: wait for them.
    async def serving_events() -> tuple[list[Any], list[Any]] | None:
        promoted, retired = harness.of(AdapterPromoted, second), harness.of(AdapterRetired, first)
        return (promoted, retired) if promoted and retired else None

    promoted, retired = await eventually(serving_events, what="the promotion and the retirement")
    assert len(promoted) == 1 and promoted[0].run_id == f"manual-2-{unique}"
    assert len(retired) == 1 and retired[0].replaced_by == second

    again = await harness.start(
        run_id=f"manual-2-{unique}", skill_name="mini-json", skill_version=version, model=second, **lenient
    )
    await asyncio.sleep(1.5)
    assert len(harness.of(AdapterPromoted, second)) == 1, "a resent command does not run again"
    assert again.run_id == f"manual-2-{unique}"


async def test_an_adapter_whose_base_is_not_served_fails_and_is_never_promoted(
    harness: Harness, mini_skill: Path, tiny_model_path: Path, tmp_path: Path, unique: str
) -> None:
    version = await harness.push_skill(mini_skill)
    dataset = await harness.put_dataset(f"ds-{unique}", "mini-json", version)
    adapter_id = f"ft:ghost:mini-json:job-{unique}"
    await harness.register(
        adapter_id,
        tiny_model_path,
        tmp_path,
        skill="mini-json",
        version=version,
        dataset=dataset,
        base_model="no-such-base",
    )
    outcome = await harness.outcome(adapter_id, timeout=60)
    assert isinstance(outcome, EvaluationFailed)
    assert outcome.code == "base_not_served" and "no-such-base" in outcome.reason
    assert not outcome.partial
    assert harness.of(AdapterPromoted, adapter_id) == []


@pytest.mark.parametrize(
    ("problem", "code"),
    [
        ("wrong digest", "dataset_digest_mismatch"),
        ("missing dataset", "dataset_not_found"),
        ("no held-out prompts", "no_heldout_prompts"),
        ("unknown skill version", "skill_not_found"),
        ("model not served", "model_not_served"),
    ],
)
async def test_bad_input_fails_with_a_clear_reason(
    harness: Harness, mini_skill: Path, unique: str, problem: str, code: str
) -> None:
    version = await harness.push_skill(mini_skill)
    dataset_object, digest = await harness.put_dataset(f"ds-{unique}", "mini-json", version)
    fields: dict[str, Any] = {"dataset_object": dataset_object, "dataset_digest": digest}
    if problem == "wrong digest":
        fields["dataset_digest"] = "f" * 64
    elif problem == "missing dataset":
        fields["dataset_object"] = f"nowhere-{unique}/manifest.json"
    elif problem == "no held-out prompts":
        fields = {}  # the mini skill has no evals.json and no prompts/heldout.json
    elif problem == "unknown skill version":
        version = "0" * 64
    model = f"ft:tiny:mini-json:nowhere-{unique}" if problem == "model not served" else TINY
    command = await harness.start(
        run_id=f"bad-{unique}", skill_name="mini-json", skill_version=version, model=model, **fields
    )
    outcome = await harness.outcome_of(command.run_id, timeout=60)
    assert isinstance(outcome, EvaluationFailed), outcome
    assert outcome.code == code, outcome.reason
    assert outcome.reason and outcome.objects == []


async def test_an_inference_backend_that_times_out_mid_run_fails_keeping_partial_results(
    eval_nats: EmbeddedNats,
    eval_gateway: ServedGateway,
    mini_skill: Path,
    tiny_model_path: Path,
    tmp_path: Path,
    unique: str,
) -> None:
    key = await asyncio.to_thread(eval_gateway.key, "models:evaluate")
    with stalling_proxy(eval_gateway.base_url, answer=5) as (proxy_url, proxy):
        settings = evaluator_settings(
            tmp_path, eval_nats.url, f"{proxy_url}/v1", key, inference_timeout=1.0, eval_concurrency=1
        )
        async with running_evaluator(eval_nats.url, settings) as harness:
            version = await harness.push_skill(mini_skill)
            dataset = await harness.put_dataset(f"ds-{unique}", "mini-json", version)
            adapter_id = f"ft:tiny:mini-json:slow-{unique}"
            await harness.register(
                adapter_id, tiny_model_path, tmp_path, skill="mini-json", version=version, dataset=dataset
            )
            auto = await harness.outcome(adapter_id)  # the automatic run stalls too
            assert isinstance(auto, EvaluationFailed) and auto.code == "inference_unavailable"
            proxy.chats = 0  # five more answers for the next run, then silence
            command = await harness.start(
                run_id=f"stall-{unique}",
                skill_name="mini-json",
                skill_version=version,
                model=adapter_id,
                min_pass_rate=0.0,
                min_lift=-1.0,
                max_regression=1.0,
                promote=True,
            )
            outcome = await harness.outcome_of(command.run_id, timeout=120)
            assert isinstance(outcome, EvaluationFailed), outcome
            assert outcome.code == "inference_unavailable" and "partial results" in outcome.reason
            assert outcome.partial and outcome.summary is not None and outcome.summary.partial
            summary = EvaluationSummary.model_validate(await harness.json(f"{command.run_id}/summary.json"))
            assert summary.partial and summary.gate is not None and not summary.gate.passed
            lines = (await harness.objects.get("evaluations", f"{command.run_id}/samples.jsonl")).splitlines()
            assert 0 < len(lines) <= 5
            await asyncio.sleep(0.5)
            assert harness.of(AdapterPromoted, adapter_id) == []
            assert proxy.chats > 5


async def test_the_cli_evaluates_a_model_and_prints_the_per_arm_table(
    harness: Harness,
    eval_nats: EmbeddedNats,
    mini_skill: Path,
    tiny_model_path: Path,
    tmp_path: Path,
    unique: str,
) -> None:
    from typer.testing import CliRunner

    from skill_adapter.cli.app import app

    version = await harness.push_skill(mini_skill)
    await harness.put_dataset(f"ds-{unique}", "mini-json", version)
    adapter_id = f"ft:tiny:mini-json:cli-{unique}"
    await harness.register(
        adapter_id, tiny_model_path, tmp_path, skill="mini-json", version=version, dataset=None
    )
    env = {"NATS_URL": eval_nats.url, "SKILL_ADAPTER_STATE_DIR": str(tmp_path / "cli")}
    args = ["eval", "mini-json", "--model", adapter_id, "--base", TINY, "--dataset", f"ds-{unique}"]
    args += ["--samples", "2", "--seed", "3", "--run-id", f"cli-{unique}", "--wait", "120"]
    result = await asyncio.to_thread(CliRunner().invoke, app, args, env=env, terminal_width=200)
    assert result.exit_code == 0, result.output
    for expected in ("base + skill", "model (no", "lift (model - base)", "gate: not promoted", "/9)"):
        assert expected in result.output, result.output
    outcome = await harness.outcome_of(f"cli-{unique}")
    assert isinstance(outcome, EvaluationCompleted) and outcome.summary is not None
    assert outcome.summary.samples == 2 and outcome.summary.seed == 3
    assert outcome.summary.arms["adapter"].samples == len(HELDOUT) * 3
