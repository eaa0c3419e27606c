"""CancelEvaluation against a real nats-server and a real gateway on a tiny model: a running run
stops within its poll interval with its partial reports and is never promoted, a queued run fails
at once and is never claimed, and a run cancelled before it was asked for is never started."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from skill_adapter.contracts import (
    AdapterPromoted,
    CancelEvaluation,
    EvaluationCompleted,
    EvaluationFailed,
    EvaluationSummary,
    auto_run_id,
)
from skill_adapter.runtime.nats_server import EmbeddedNats
from skill_adapter.runtime.publisher import Publisher
from tests.integration.evaluator.harness import Harness
from tests.integration.evaluator.stalling_proxy import StallingProxy, stalling_proxy
from tests.integration.evaluator.test_service import evaluator_settings, running_evaluator
from tests.integration.inference.conftest import TINY, ServedGateway
from tests.support.helpers import eventually
from tests.support.skills import write_mini_skill

pytestmark = pytest.mark.integration

LENIENT = {"min_pass_rate": 0.0, "min_lift": -1.0, "max_regression": 1.0, "promote": True}


@pytest.fixture
def mini_skill(tmp_path: Path) -> Path:
    return write_mini_skill(tmp_path)


@pytest.fixture
async def stalled(
    eval_nats: EmbeddedNats, eval_gateway: ServedGateway, tmp_path: Path
) -> AsyncIterator[tuple[Harness, StallingProxy]]:
    """An evaluator whose inference backend answers 3 chats, then hangs (but never times out)."""
    key = await asyncio.to_thread(eval_gateway.key, "models:evaluate")
    with stalling_proxy(eval_gateway.base_url, answer=3) as (proxy_url, proxy):
        settings = evaluator_settings(
            tmp_path, eval_nats.url, f"{proxy_url}/v1", key, inference_timeout=600, eval_concurrency=1
        )
        async with running_evaluator(eval_nats.url, settings) as harness:
            yield harness, proxy


async def cancel(harness: Harness, run_id: str, reason: str = "cancelled by the test") -> None:
    command = CancelEvaluation(producer="tests", correlation_id=run_id, run_id=run_id, reason=reason)
    await Publisher(harness.nc.jetstream()).publish(command)


async def hanging(proxy: StallingProxy) -> None:
    async def waiting() -> bool | None:
        return True if proxy.chats > proxy.answer else None

    await eventually(waiting, timeout=120, what="a chat the backend never answers")


async def test_a_running_evaluation_is_stopped_keeps_partial_reports_and_never_promotes(
    stalled: tuple[Harness, StallingProxy],
    mini_skill: Path,
    tiny_model_path: Path,
    tmp_path: Path,
    unique: str,
) -> None:
    harness, proxy = stalled
    version = await harness.push_skill(mini_skill)
    dataset = await harness.put_dataset(f"ds-{unique}", "mini-json", version)
    adapter_id = f"ft:tiny:mini-json:cancel-{unique}"
    await harness.register(
        adapter_id, tiny_model_path, tmp_path, skill="mini-json", version=version, dataset=dataset
    )
    auto = auto_run_id(adapter_id)
    await hanging(proxy)  # the automatic run waits on a reply that never comes
    started = time.monotonic()
    await cancel(harness, auto, "the job was cancelled")
    outcome = await harness.outcome_of(auto, timeout=30)
    assert time.monotonic() - started < 10
    assert isinstance(outcome, EvaluationFailed), outcome
    assert outcome.code == "cancelled" and outcome.reason.startswith("the job was cancelled")
    assert outcome.partial and outcome.summary is not None and outcome.summary.partial

    # a run asked to promote with a gate anything passes: stopped, reported partial, not promoted
    proxy.chats = 0
    command = await harness.start(
        run_id=f"manual-{unique}", skill_name="mini-json", skill_version=version, model=adapter_id, **LENIENT
    )
    await hanging(proxy)
    await cancel(harness, command.run_id)
    outcome = await harness.outcome_of(command.run_id, timeout=30)
    assert isinstance(outcome, EvaluationFailed) and outcome.code == "cancelled", outcome
    assert outcome.partial and "partial results of 3/" in outcome.reason
    summary = EvaluationSummary.model_validate(await harness.json(f"{command.run_id}/summary.json"))
    assert summary.partial and summary.gate is not None and not summary.gate.passed
    lines = (await harness.objects.get("evaluations", f"{command.run_id}/samples.jsonl")).splitlines()
    assert len(lines) == 3

    await cancel(harness, command.run_id)  # a cancel of an ended run changes nothing
    await asyncio.sleep(1.0)
    assert harness.of(AdapterPromoted, adapter_id) == []
    ends = [e for e in harness.events if isinstance(e, EvaluationCompleted | EvaluationFailed)]
    assert [e.run_id for e in ends].count(command.run_id) == 1


async def test_a_queued_evaluation_is_failed_at_once_and_never_claimed(
    stalled: tuple[Harness, StallingProxy], mini_skill: Path, unique: str
) -> None:
    harness, proxy = stalled
    version = await harness.push_skill(mini_skill)
    manifest, digest = await harness.put_dataset(f"ds-{unique}", "mini-json", version)
    fields = {
        "skill_name": "mini-json",
        "skill_version": version,
        "model": TINY,
        "dataset_object": manifest,
        "dataset_digest": digest,
    }
    busy = await harness.start(run_id=f"busy-{unique}", **fields)
    await hanging(proxy)  # the only worker holds the busy run
    queued = await harness.start(run_id=f"queued-{unique}", **fields)

    async def recorded() -> bool | None:
        return True if harness.progress(queued.run_id) else None

    await eventually(recorded, timeout=30, what="the queued run recorded")
    await cancel(harness, queued.run_id, "not wanted any more")
    outcome = await harness.outcome_of(queued.run_id, timeout=10)
    assert isinstance(outcome, EvaluationFailed), outcome
    assert outcome.code == "cancelled" and outcome.reason == "not wanted any more"
    assert not outcome.partial and outcome.summary is None and outcome.model == TINY

    await cancel(harness, busy.run_id)  # frees the worker: the queued run must not start now
    assert (await harness.outcome_of(busy.run_id, timeout=30)).code == "cancelled"  # type: ignore[union-attr]
    await asyncio.sleep(1.5)
    assert [p.stage for p in harness.progress(queued.run_id)] == ["queued"]
    ends = [e for e in harness.events if isinstance(e, EvaluationCompleted | EvaluationFailed)]
    assert [e.run_id for e in ends].count(queued.run_id) == 1


async def test_an_evaluation_cancelled_before_it_was_asked_for_never_starts(
    stalled: tuple[Harness, StallingProxy], mini_skill: Path, unique: str
) -> None:
    harness, proxy = stalled
    version = await harness.push_skill(mini_skill)
    run_id = f"early-{unique}"
    await cancel(harness, run_id, "cancelled first")
    await asyncio.sleep(1.0)  # the cancel is handled before the start arrives
    assert await harness.start(run_id=run_id, skill_name="mini-json", skill_version=version, model=TINY)
    outcome = await harness.outcome_of(run_id, timeout=30)
    assert isinstance(outcome, EvaluationFailed), outcome
    assert outcome.code == "cancelled" and outcome.reason == "cancelled first"
    await asyncio.sleep(1.0)
    assert harness.progress(run_id) == [] and proxy.chats == 0
