"""The trainer service's pure parts: adapter ids, object names, checkpoint retention, events."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from skill_adapter.contracts import StartJob
from skill_adapter.trainer import events
from skill_adapter.trainer.artifacts import JOB_ID, adapter_id_for, checkpoint_object
from skill_adapter.trainer.hooks import ActiveJob
from skill_adapter.trainer.ledger import best, kept, newest_first

pytestmark = pytest.mark.unit


def command(
    job_id: str = "job-1", base_model: str = "HuggingFaceTB/SmolLM2-135M-Instruct", **fields
) -> StartJob:
    values = {
        "producer": "tests",
        "correlation_id": job_id,
        "job_id": job_id,
        "skill_name": "json-reply",
        "skill_version": "v" * 64,
        "base_model": base_model,
        "dataset_object": "ds/manifest.json",
        "dataset_digest": "0" * 64,
        **fields,
    }
    return StartJob(**values)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "ft:SmolLM2-135M-Instruct:json-reply:job-1"),
        ("smollm2", "ft:SmolLM2-135M-Instruct:json-reply:job-1"),  # the alias names the same model
        ("/models/tiny/", "ft:tiny:json-reply:job-1"),
        ("/models/odd name (v2)", "ft:odd-name-v2:json-reply:job-1"),
        ("Qwen/Qwen2.5-1.5B-Instruct", "ft:Qwen2.5-1.5B-Instruct:json-reply:job-1"),
    ],
)
def test_the_adapter_id_is_openai_shaped_and_a_safe_folder_name(base: str, expected: str) -> None:
    adapter_id = adapter_id_for(command(base_model=base))
    assert adapter_id == expected
    assert adapter_id == adapter_id_for(command(base_model=base))  # a function of the job alone
    assert "/" not in adapter_id and not adapter_id.startswith(".") and len(adapter_id) <= 256


def test_the_longest_ids_fit_the_registry() -> None:
    job_id = "j" * 128
    assert JOB_ID.fullmatch(job_id)
    adapter_id = adapter_id_for(command(job_id=job_id, base_model="org/" + "m" * 200, skill_name="s" * 64))
    assert len(adapter_id) <= 256 and adapter_id.endswith(job_id)


def test_checkpoint_names_sort_by_step_and_finals_differ() -> None:
    assert checkpoint_object("j", "sft", 7, False) == "j/sft-000007.zip"
    assert checkpoint_object("j", "sft", 7, True) == "j/sft-000007-final.zip"
    assert checkpoint_object("j", "grpo", 12, False) < checkpoint_object("j", "grpo", 120, False)


@dataclass
class Row:
    id: int
    phase: str
    step: int
    final: bool = False
    metrics: dict = field(default_factory=dict)


def test_newest_is_the_later_phase_then_the_higher_step_then_the_final() -> None:
    rows = [Row(1, "sft", 10), Row(2, "sft", 10, final=True), Row(3, "grpo", 2), Row(4, "sft", 5)]
    assert [r.id for r in newest_first(rows)] == [3, 2, 1, 4]


def test_retention_keeps_the_last_k_the_best_of_each_phase_and_the_finals() -> None:
    rows = [
        Row(1, "sft", 2, metrics={"eval_loss": 0.9, "loss": 2.0}),
        Row(2, "sft", 4, metrics={"eval_loss": 0.3, "loss": 1.5}),  # best of sft
        Row(3, "sft", 6, metrics={"eval_loss": 0.5, "loss": 1.0}),
        Row(4, "sft", 6, final=True),
        Row(5, "grpo", 2, metrics={"reward": 0.4}),
        Row(6, "grpo", 4, metrics={"reward": 0.8}),  # best of grpo
        Row(7, "grpo", 6, metrics={"reward": 0.5}),
        Row(8, "grpo", 8, metrics={"reward": 0.6}),
    ]
    assert kept(rows, keep_last=2) == {8, 7, 6, 4, 2}
    assert kept(rows, keep_last=1) == {8, 6, 4, 2}
    assert kept(rows, keep_last=100) == {r.id for r in rows}


def test_the_best_checkpoint_prefers_validation_metrics_and_skips_non_numbers() -> None:
    rows = [
        Row(1, "sft", 1, metrics={"loss": 0.1}),
        Row(2, "sft", 2, metrics={"eval_loss": 0.7, "loss": 0.5}),
        Row(3, "sft", 3, metrics={"eval_loss": float("nan"), "loss": 0.2}),
    ]
    assert best(rows).id == 2  # type: ignore[union-attr]
    rewards = [
        Row(1, "grpo", 1, metrics={"eval_reward": 0.2}),
        Row(2, "grpo", 2, metrics={"eval_reward": 0.9}),
    ]
    assert best(rewards).id == 2  # type: ignore[union-attr]
    assert best([Row(1, "sft", 1), Row(2, "sft", 2)]) is None


def test_final_events_have_ids_derived_from_the_job_and_carry_only_finite_numbers() -> None:
    start = command()
    failed = events.failed(start, "x", "y", final=True)
    assert failed.event_id == events.failed(start, "x", "other reason", final=True).event_id
    assert events.failed(start, "x", "y").event_id != failed.event_id  # a refused command: its own id
    assert events.event_id("job-1", "succeeded") != events.event_id("job-2", "succeeded")
    assert events.finite({"a": 1, "b": float("inf"), "c": float("nan"), "d": True, "e": None, "f": 0.5}) == {
        "a": 1.0,
        "f": 0.5,
    }
    cancelled = events.cancelled(start, "enough", cause=command(job_id="job-1", producer="other"))
    assert cancelled.correlation_id == "job-1" and cancelled.causation_id != start.event_id


def test_control_follows_requests_and_stops_for_the_worker_itself() -> None:
    job = ActiveJob(command(), attempt=1)
    assert job.control() == "run"
    job.requested = "pause"
    assert job.control() == "pause"
    job.requested = "cancel"
    assert job.control() == "cancel"
    job.requested = None
    for flag in ("lost", "shutdown", "storage_failed"):
        other = ActiveJob(command(), attempt=1)
        setattr(other, flag, True)
        assert other.control() == "cancel"
