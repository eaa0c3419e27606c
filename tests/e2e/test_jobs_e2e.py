"""Fine-tuning jobs end to end, as a user runs them: ``skill-adapter up`` and the official client.

One ``up`` for the module: the embedded NATS, the skill-parser, the gateway (serving a tiny
random model under its path, which is also what the trainer loads), the data-generator, the
trainer and the evaluator, each its own process. A tiny random model cannot learn a skill, so
the evaluator's gate is configured to let any adapter through (minimum lift -1, pass rate 0,
regression 1): the real gate, permissive. Every job trains a few steps on two samples.

- a skill zip dropped into the ``skills`` bucket starts a job by itself (auto-train), which
  succeeds; the adapter is listed and answers the official ``openai`` client;
- a job created with ``client.fine_tuning.jobs.create`` is followed through its events and
  checkpoints to a promoted adapter, which answers;
- a job cancelled while it trains is cancelled, and the trainer confirms it stopped;
- a trainer killed (SIGKILL) while it trains is restarted by ``up``, and the job is taken over
  from its last checkpoint and still succeeds;
- a job whose data cannot be generated (a rubric with nothing deterministic to check and no
  judge) fails with the data generator's code and reason.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import nats
import openai
import pytest

from skill_adapter.contracts import SKILLS_BUCKET
from skill_adapter.skillspec.bundle import from_directory, to_zip
from tests.e2e.test_cli import CLI, ROOT
from tests.e2e.test_data_cli import cli, env
from tests.support.helpers import eventually
from tests.support.skills import write_mini_skill

pytest.importorskip("trl", reason="the trainer needs the trainer extra")
pytest.importorskip("matplotlib", reason="the evaluator needs the evaluator extra")

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

SMALL = {"max_steps": 2, "batch_size": 2, "micro_batch_size": 2, "lora_r": 8}
SAMPLES = 2
TERMINAL = ("succeeded", "failed", "cancelled")
T = TypeVar("T")
READY_CONSUMERS = (
    "skill_parser_ingest",
    "gateway_jobs_dataset_generated",
    "data_generator_generate",
    "trainer_start",
    "evaluator_registered",
)

JUDGE_ONLY_SKILL = """---
name: judge-only
description: Greets a named person warmly in one sentence. Use when someone asks to be greeted.
---

# Judge only

Greet the person warmly and by name, in one sentence.
"""

JUDGE_ONLY_RUBRIC = """criteria:
  - id: warm
    description: The greeting is warm and uses the name.
    check:
      kind: judge
      instruction: Is the greeting warm, and does it use the person's name?
"""


@dataclass
class Stack:
    environ: dict[str, str]
    state: Path
    model: str
    """The base model's id: its path, served by the gateway and loaded by the trainer."""
    token: str
    log: Path
    skills: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.environ['SKILL_ADAPTER_PORT']}/v1"

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=self.token, max_retries=0, timeout=120)

    def run_file(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.state / "run" / "up.json").read_text())
        return data

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _ready(environ: dict[str, str]) -> bool:
    result = cli(environ, "status", "--json")
    if result.returncode != 0:
        return False
    report = json.loads(result.stdout)
    consumers = {c["durable"]: c for s in report["streams"] for c in s["consumers"]}
    return all(consumers.get(name, {}).get("waiting") for name in READY_CONSUMERS)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from skill_adapter.modelstore import tiny_random_model

    root = tmp_path_factory.mktemp("jobs-e2e")
    model = str(tiny_random_model(root / "tiny").path)
    state = root / "state"
    environ = env(state, Path(model))
    environ.update(
        SKILL_ADAPTER_BACKENDS=json.dumps([{"kind": "local", "models": [{"id": model, "source": model}]}]),
        # a new skill version trains itself, small
        SKILL_ADAPTER_AUTO_TRAIN="true",
        SKILL_ADAPTER_AUTO_TRAIN_MODEL=model,
        SKILL_ADAPTER_AUTO_TRAIN_METHOD="supervised",
        SKILL_ADAPTER_AUTO_TRAIN_HYPERPARAMETERS=json.dumps(SMALL),
        SKILL_ADAPTER_JOB_SAMPLES=str(SAMPLES),
        # supervised jobs: no validation split, no GRPO probe
        SKILL_ADAPTER_DATAGEN_VALIDATION_SHARE="0",
        SKILL_ADAPTER_DATAGEN_GRPO_PROBE_PROMPTS="0",
        SKILL_ADAPTER_DATAGEN_CONCURRENCY="8",
        # the real gate, letting through what a random model makes
        SKILL_ADAPTER_EVAL_MIN_LIFT="-1",
        SKILL_ADAPTER_EVAL_MIN_PASS_RATE="0",
        SKILL_ADAPTER_EVAL_MAX_REGRESSION="1",
        SKILL_ADAPTER_EVAL_MAX_PROMPTS="2",
        SKILL_ADAPTER_EVAL_MAX_TOKENS="16",
        SKILL_ADAPTER_EVAL_CONCURRENCY="8",
        # a dead trainer's claim runs out after 10 s; progress shows every second
        SKILL_ADAPTER_TRAINER_LEASE_SECONDS="10",
        SKILL_ADAPTER_TRAINER_POLL_SECONDS="1",
        SKILL_ADAPTER_TRAINER_PROGRESS_SECONDS="1",
        SKILL_ADAPTER_GRACEFUL_TIMEOUT="20",
        OMP_NUM_THREADS="1",  # six processes on a small machine: one thread each for torch
    )
    log = root / "up.log"
    with log.open("w") as output:
        up = subprocess.Popen([*CLI, "up"], cwd=ROOT, env=environ, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while not _ready(environ):
            assert up.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the stack did not come up:\n" + log.read_text()[-5000:]
            time.sleep(1)
        keyed = cli(
            environ,
            "keys",
            "create",
            "--name",
            "e2e",
            "--scope",
            "jobs:write",
            "--scope",
            "jobs:read",
            "--scope",
            "models:use",
        )
        assert keyed.returncode == 0, keyed.stderr
        yield Stack(environ, state, model, keyed.stdout.strip(), log, root / "skills")
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=120)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()
    assert up.returncode == 0, log.read_text()[-5000:]


async def history(client: openai.AsyncOpenAI, job_id: str) -> list[str]:
    """The job's event messages, oldest first."""
    events = [e.message async for e in client.fine_tuning.jobs.list_events(job_id, limit=100)]
    return events[::-1]


async def explain(stack: Stack, client: openai.AsyncOpenAI, job_id: str) -> str:
    return "\n".join(await history(client, job_id)) + "\n--- up's log ---\n" + stack.log_tail()


async def while_running(
    stack: Stack,
    client: openai.AsyncOpenAI,
    job_id: str,
    ready: Callable[[Any], Awaitable[T | None]],
    *,
    what: str,
    interval: float,
    timeout: float = 240,
) -> T:
    """The first answer of ``ready(job)`` that is not ``None``, asked as the job runs; a job that
    ends first fails the test with its history and the services' logs."""

    async def check() -> T | None:
        current = await client.fine_tuning.jobs.retrieve(job_id)
        assert current.status not in TERMINAL, await explain(stack, client, job_id)
        return await ready(current)

    return await eventually(check, timeout=timeout, interval=interval, what=what)


async def finished(stack: Stack, client: openai.AsyncOpenAI, job_id: str, timeout: float = 300) -> Any:
    async def done() -> Any:
        job = await client.fine_tuning.jobs.retrieve(job_id)
        return job if job.status in TERMINAL else None

    try:
        return await eventually(done, timeout=timeout, interval=1, what=f"job {job_id} to finish")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{await explain(stack, client, job_id)}") from None


async def answers(client: openai.AsyncOpenAI, model: str) -> None:
    """The served adapter answers a chat completion."""
    reply = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=8,
        temperature=0,
    )
    assert reply.model == model and reply.object == "chat.completion"
    (choice,) = reply.choices
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage is not None and reply.usage.prompt_tokens > 0


async def test_a_skill_dropped_into_the_bucket_trains_itself_and_its_adapter_answers(stack: Stack) -> None:
    folder = write_mini_skill(stack.skills)
    nc = await nats.connect(stack.run_file()["nats_url"])
    try:
        bucket = await nc.jetstream(timeout=10).object_store(SKILLS_BUCKET.name)
        await bucket.put("mini-json.zip", to_zip(from_directory(folder), "mini-json"))
    finally:
        await nc.close()
    client = stack.client()

    async def auto_started() -> Any:
        page = await client.fine_tuning.jobs.list(limit=100)
        return next((j for j in page.data if j.training_file.startswith("skill:mini-json@")), None)

    job = await eventually(auto_started, timeout=120, interval=1, what="the auto-started job")
    assert job.model == stack.model and job.method is not None and job.method.type == "supervised"
    done = await finished(stack, client, job.id)
    assert done.status == "succeeded", await explain(stack, client, job.id)
    assert done.fine_tuned_model == done.adapter_id and done.fine_tuned_model.endswith(f":mini-json:{job.id}")
    assert done.hyperparameters.max_steps == 2 and done.trained_tokens > 0

    models = {m.id: m for m in (await client.models.list()).data}
    assert models[done.fine_tuned_model].parent == stack.model
    await answers(client, done.fine_tuned_model)


async def test_the_official_client_creates_follows_and_uses_a_job(stack: Stack) -> None:
    client = stack.client()
    job = await client.fine_tuning.jobs.create(
        model=stack.model,
        training_file="skill:mini-json",
        method={"type": "supervised", "supervised": {"hyperparameters": SMALL}},
        suffix="e2e",
        seed=7,
        metadata={"suite": "e2e"},
        extra_body={"samples": SAMPLES},
    )
    assert job.status == "queued" and job.seed == 7 and job.metadata == {"suite": "e2e"}
    done = await finished(stack, client, job.id)
    assert done.status == "succeeded", await explain(stack, client, job.id)

    retrieved = await client.fine_tuning.jobs.retrieve(job.id)
    assert retrieved.fine_tuned_model == done.fine_tuned_model and retrieved.finished_at is not None
    assert retrieved.evaluation["promoted"] is True
    assert set(retrieved.evaluation["pass_rates"]) >= {"base", "adapter"}
    messages = await history(client, job.id)
    assert messages[0] == f"Created fine-tuning job: mini-json on {stack.model}"
    for expected in (f"Dataset ready: {SAMPLES} training", "Training started on cpu", "Training finished: "):
        assert any(m.startswith(expected) for m in messages), messages
    assert messages[-1].startswith("Evaluated (") and messages[-1].endswith(
        f"promoted and served as {done.fine_tuned_model}"
    )
    checkpoints = await client.fine_tuning.jobs.checkpoints.list(job.id)
    assert checkpoints.data and checkpoints.data[0].step_number == 2
    assert checkpoints.data[0].fine_tuning_job_id == job.id
    await answers(client, done.fine_tuned_model)


async def test_a_job_cancelled_while_training_stops_training(stack: Stack) -> None:
    client = stack.client()
    long = {**SMALL, "max_steps": 5000}
    job = await client.fine_tuning.jobs.create(
        model=stack.model,
        training_file="skill:mini-json",
        method={"type": "supervised", "supervised": {"hyperparameters": long}},
        extra_body={"samples": SAMPLES},
    )

    async def training(current: Any) -> Any:
        progress = current.progress
        return current if current.stage == "training" and progress and progress["done"] >= 1 else None

    await while_running(stack, client, job.id, training, interval=0.5, what="the job to be training")
    cancelled = await client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"

    async def stopped() -> list[str] | None:
        messages = await history(client, job.id)
        return messages if messages[-1].startswith("Training stopped") else None

    messages = await eventually(stopped, timeout=60, interval=0.5, what="the trainer to stop")
    assert messages[-2] == "Job cancelled: cancelled on request"
    steps = [re.match(r"SFT step (\d+)/(\d+)", m) for m in messages]
    shown = [(int(m[1]), int(m[2])) for m in steps if m]
    assert shown and shown[-1][0] < shown[-1][1] == 5000, messages  # it stopped part-way
    still = await client.fine_tuning.jobs.retrieve(job.id)
    assert (still.status, still.fine_tuned_model) == ("cancelled", None)


async def test_a_trainer_killed_mid_job_is_restarted_and_the_job_resumes_and_succeeds(stack: Stack) -> None:
    client = stack.client()
    # ~40 ms a step on an idle machine: 90 steps after the first checkpoint leave seconds to kill it
    hyperparameters = {**SMALL, "max_steps": 100, "checkpoint_every": 10}
    job = await client.fine_tuning.jobs.create(
        model=stack.model,
        training_file="skill:mini-json",
        method={"type": "supervised", "supervised": {"hyperparameters": hyperparameters}},
        extra_body={"samples": SAMPLES},
    )

    async def checkpointed(_: Any) -> Any:
        listed = await client.fine_tuning.jobs.checkpoints.list(job.id)
        return listed.data[0] if listed.data else None

    checkpoint = await while_running(stack, client, job.id, checkpointed, interval=0.2, what="a checkpoint")
    trainer = stack.run_file()["services"]["trainer"]
    os.kill(trainer, signal.SIGKILL)

    async def restarted() -> int | None:
        pid = stack.run_file()["services"].get("trainer")
        return pid if pid not in (None, trainer) else None

    await eventually(restarted, timeout=30, interval=0.5, what="up to restart the trainer")
    assert "exited with code -9; restarting" in stack.log.read_text()

    done = await finished(stack, client, job.id)
    assert done.status == "succeeded", await explain(stack, client, job.id)
    messages = await history(client, job.id)
    started = [m for m in messages if m.startswith("Training started on cpu")]
    assert len(started) == 2, messages
    resumed = int(started[1].rsplit("resumed from step ", 1)[1])
    assert checkpoint.step_number <= resumed < 100  # killed part-way, resumed where it was stored
    checkpoints = await client.fine_tuning.jobs.checkpoints.list(job.id)
    assert checkpoints.data[0].step_number == 100 and checkpoints.data[0].final
    await answers(client, done.fine_tuned_model)


async def test_a_job_whose_data_cannot_be_generated_fails_and_says_why(stack: Stack) -> None:
    folder = stack.skills / "judge-only"
    (folder / "evals").mkdir(parents=True)
    (folder / "SKILL.md").write_text(JUDGE_ONLY_SKILL)
    (folder / "evals" / "rubric.yaml").write_text(JUDGE_ONLY_RUBRIC)
    pushed = cli(stack.environ, "skills", "push", str(folder))
    assert pushed.returncode == 0 and "parsed" in pushed.stdout, pushed.stdout + pushed.stderr

    client = stack.client()
    job = await client.fine_tuning.jobs.create(
        model=stack.model, training_file="skill:judge-only", extra_body={"samples": SAMPLES}
    )
    done = await finished(stack, client, job.id, timeout=120)
    assert done.status == "failed" and done.error is not None
    assert done.error.code == "no_checks"
    assert "has no deterministic criterion and no judge is configured" in done.error.message
    messages = await history(client, job.id)
    assert messages[-1].startswith("Job failed while generating data: the rubric of judge-only")

    async def auto_started() -> Any:  # the pushed skill started a job of its own, which fails alike
        page = await client.fine_tuning.jobs.list(limit=100)
        return next((j for j in page.data if j.training_file.startswith("skill:judge-only@")), None)

    auto = await finished(stack, client, (await eventually(auto_started, what="the auto-started job")).id)
    assert auto.status == "failed" and auto.error is not None and auto.error.code == "no_checks"
