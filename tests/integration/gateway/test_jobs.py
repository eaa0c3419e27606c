"""Fine-tuning jobs through the gateway: the API, and the job moved on by the services' events.

The services are played by the test: it reads the commands the gateway publishes (core NATS
subscriptions on their subjects) and publishes the events a data generator, trainer and
evaluator would. The base model is served by an ``openai`` backend in front of a fake upstream,
so no model is loaded.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client

from skill_adapter.contracts import (
    AdapterRegistered,
    CancelDataset,
    CancelEvaluation,
    CancelJob,
    DatasetFailed,
    DatasetGenerated,
    DatasetProgress,
    EvaluationCompleted,
    EvaluationFailed,
    EvaluationProgress,
    GenerateDataset,
    JobCancelled,
    JobCheckpointed,
    JobPaused,
    JobProgress,
    JobStarted,
    JobSucceeded,
    PauseJob,
    ResumeJob,
    StartJob,
    auto_run_id,
)
from skill_adapter.gateway.models import GatewayBase
from skill_adapter.gateway.readmodel import build_service
from skill_adapter.runtime import Publisher
from tests.integration.gateway.conftest import Gateway, StartGateway, error_of
from tests.support.fake_http import ThreadedFakeServer
from tests.support.helpers import eventually
from tests.unit.gateway.builders import skill_parsed

pytestmark = pytest.mark.integration

BASE = "base-model"
DIGEST = "ab" * 32


def upstream(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/models":
        card = {"id": BASE, "object": "model", "created": 1, "owned_by": "test", "root": BASE, "parent": None}
        return httpx.Response(200, json={"object": "list", "data": [card]})
    return httpx.Response(404, json={"error": {"message": "no", "type": "invalid_request_error"}})


@pytest.fixture
async def gw(start_gateway: StartGateway) -> AsyncIterator[Gateway]:
    with ThreadedFakeServer(upstream) as url:
        async with start_gateway(
            backends=[{"kind": "openai", "base_url": f"{url}/v1", "models": [BASE]}]
        ) as g:
            yield g


class Commands:
    """Every command of one type the gateway publishes, decoded."""

    def __init__(self, nc: Client, message_type: type[Any]) -> None:
        self.nc, self.type, self.seen = nc, message_type, []

    async def __aenter__(self) -> Commands:
        async def keep(msg: Any) -> None:
            self.seen.append(self.type.model_validate_json(msg.data))

        self.sub = await self.nc.subscribe(self.type.SUBJECT, cb=keep)
        await self.nc.flush()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.sub.unsubscribe()

    async def for_job(self, job_id: str) -> Any:
        async def found() -> Any:
            return next((c for c in self.seen if getattr(c, "job_id", c.correlation_id) == job_id), None)

        return await eventually(found, what=f"a {self.type.__name__} for {job_id}")


async def job_of(gw: Gateway, headers: dict[str, str], job_id: str, **wanted: Any) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        body = (await gw.client.get(f"/v1/fine_tuning/jobs/{job_id}", headers=headers)).json()
        return body if all(body.get(k) == v for k, v in wanted.items()) else None

    found = await eventually(probe, what=f"job {job_id} with {wanted}")
    assert found is not None
    return found


async def a_skill(gw: Gateway, name: str) -> str:
    event = skill_parsed(name)
    await gw.publish(event)
    await gw.wait_for(f"/v1/skills/{name}", await gw.auth("skills:read"), "the skill")
    return event.skill_version


async def a_job(
    gw: Gateway, nc: Client, headers: dict[str, str], name: str, version: str | None = None
) -> tuple[dict[str, Any], GenerateDataset]:
    """A new job of skill ``name`` (at ``version``, else its latest) and the data generator's command for it."""
    training_file = f"skill:{name}@{version}" if version else f"skill:{name}"
    async with Commands(nc, GenerateDataset) as generate:
        job = (
            await gw.client.post(
                "/v1/fine_tuning/jobs", headers=headers, json={"model": BASE, "training_file": training_file}
            )
        ).json()
        command = await generate.for_job(job["id"])
    return job, command


def dataset_generated(
    job_id: str, command: GenerateDataset, *, num_train: int = 1, num_heldout: int = 0, **envelope: Any
) -> DatasetGenerated:
    """The data generator's answer to ``command``: its dataset is ready."""
    return DatasetGenerated(
        **{"producer": "t", **envelope},
        correlation_id=job_id,
        dataset_id=command.dataset_id,
        skill_name=command.skill_name,
        skill_version=command.skill_version,
        object_name="m.json",
        digest=DIGEST,
        num_train=num_train,
        num_validation=0,
        num_heldout=num_heldout,
    )


async def history_once(
    gw: Gateway, headers: dict[str, str], job_id: str, newest: str, *, what: str
) -> list[str]:
    """The job's history, newest first, once its newest line starts with ``newest``."""

    async def arrived() -> list[str] | None:
        events = (await gw.client.get(f"/v1/fine_tuning/jobs/{job_id}/events", headers=headers)).json()
        messages = [e["message"] for e in events["data"]]
        return messages if messages[0].startswith(newest) else None

    return await eventually(arrived, what=what)


async def test_a_job_goes_from_data_to_a_promoted_adapter(gw: Gateway, nc: Client, unique: str) -> None:
    headers = await gw.auth("jobs:write", "jobs:read")
    name = f"json-{unique}"
    version = await a_skill(gw, name)
    async with Commands(nc, GenerateDataset) as generate, Commands(nc, StartJob) as start:
        created = await gw.client.post(
            "/v1/fine_tuning/jobs",
            headers=headers,
            json={
                "model": BASE,
                "training_file": f"skill:{name}",
                "method": {"type": "supervised", "supervised": {"hyperparameters": {"learning_rate": 0.001}}},
                "seed": 7,
                "samples": 12,
                "suffix": "first",
                "metadata": {"team": unique},
            },
        )
        assert created.status_code == 200, created.text
        job = created.json()
        assert job["object"] == "fine_tuning.job" and job["id"].startswith("ftjob-")
        assert (job["status"], job["stage"], job["model"], job["skill_version"]) == (
            "queued",
            "generating_data",
            BASE,
            version,
        )
        assert job["method"] == {
            "type": "supervised",
            "supervised": {"hyperparameters": {"learning_rate": 0.001}},
        }
        assert (job["seed"], job["user_provided_suffix"], job["fine_tuned_model"]) == (7, "first", None)
        job_id = job["id"]

        command = await generate.for_job(job_id)
        assert (command.skill_name, command.skill_version, command.base_model) == (name, version, BASE)
        assert (command.num_samples, command.seed, command.correlation_id) == (12, 7, job_id)
        assert command.grpo_probe_prompts == 0  # SFT only: no GRPO prompts to look for

        progress = DatasetProgress(
            producer="t",
            correlation_id=job_id,
            dataset_id=command.dataset_id,
            stage="generating",
            done=3,
            total=12,
            accepted=3,
        )
        await gw.publish(progress)
        running = await job_of(gw, headers, job_id, status="running")
        assert running["progress"] == {
            "stage": "generating_data",
            "done": 3,
            "total": 12,
            "message": "Generating data: generating 3/12, 3 verified",
        }

        await gw.publish(
            DatasetGenerated(
                producer="t",
                correlation_id=job_id,
                dataset_id=command.dataset_id,
                skill_name=name,
                skill_version=version,
                object_name=f"{command.dataset_id}/manifest.json",
                digest=DIGEST,
                num_train=12,
                num_validation=2,
                num_heldout=5,
            )
        )
        train = await start.for_job(job_id)
        assert (train.method, train.dataset_object, train.dataset_digest, train.seed) == (
            "sft",
            f"{command.dataset_id}/manifest.json",
            DIGEST,
            7,
        )
        assert train.hyperparameters == {"learning_rate": 0.001}

    adapter = f"ft:{BASE}:{name}:{job_id}"
    await gw.publish(
        JobStarted(
            producer="t",
            correlation_id=job_id,
            job_id=job_id,
            worker_id="w",
            device="cpu",
            hyperparameters={"learning_rate": 0.001, "lora_r": 16},
        )
    )
    await gw.publish(
        JobProgress(
            producer="t",
            correlation_id=job_id,
            job_id=job_id,
            phase="sft",
            step=2,
            total_steps=4,
            epoch=0.5,
            loss=1.25,
        )
    )
    training = await job_of(gw, headers, job_id, stage="training")
    await job_of(gw, headers, job_id, hyperparameters={"learning_rate": 0.001, "lora_r": 16})
    await gw.publish(
        AdapterRegistered(
            producer="t",
            correlation_id=job_id,
            adapter_id=adapter,
            skill_name=name,
            skill_version=version,
            base_model=BASE,
            job_id=job_id,
            object_name="a.zip",
            digest=DIGEST,
            rank=16,
            chat_template_hash="c" * 64,
        )
    )
    await gw.publish(
        JobSucceeded(
            producer="t",
            correlation_id=job_id,
            job_id=job_id,
            adapter_object="a.zip",
            adapter_digest=DIGEST,
            adapter_id=adapter,
            trained_tokens=1234,
        )
    )
    evaluating = await job_of(gw, headers, job_id, stage="evaluating")
    assert (evaluating["adapter_id"], evaluating["trained_tokens"], evaluating["status"]) == (
        adapter,
        1234,
        "running",
    )
    assert training["status"] == "running"

    await gw.publish(
        EvaluationCompleted(
            producer="t",
            correlation_id=job_id,
            run_id="auto-1",
            model=adapter,
            pass_rates={"base": 0.0, "adapter": 0.96},
            lift=0.96,
            promoted=True,
        )
    )
    done = await job_of(gw, headers, job_id, status="succeeded")
    assert done["fine_tuned_model"] == adapter and done["finished_at"] >= done["created_at"]
    assert done["evaluation"]["pass_rates"] == {"base": 0.0, "adapter": 0.96} and done["stage"] == "done"

    events = (
        await gw.client.get(f"/v1/fine_tuning/jobs/{job_id}/events", headers=headers, params={"limit": 100})
    ).json()
    messages = [e["message"] for e in events["data"]]
    assert messages[0].startswith("Evaluated (base 0%, adapter 96%); promoted") and messages[-1].startswith(
        "Created"
    )
    assert any(m.startswith("Dataset ready: 12 training") for m in messages)
    assert any(m.startswith("SFT step 2/4: loss 1.2500") for m in messages)
    assert all(e["object"] == "fine_tuning.job.event" for e in events["data"]) and not events["has_more"]
    page = (
        await gw.client.get(f"/v1/fine_tuning/jobs/{job_id}/events", headers=headers, params={"limit": 2})
    ).json()
    assert page["has_more"] and [e["id"] for e in page["data"]] == [e["id"] for e in events["data"][:2]]
    after = (
        await gw.client.get(
            f"/v1/fine_tuning/jobs/{job_id}/events",
            headers=headers,
            params={"limit": 2, "after": page["data"][-1]["id"]},
        )
    ).json()
    assert [e["id"] for e in after["data"]] == [e["id"] for e in events["data"][2:4]]

    listed = (
        await gw.client.get(
            "/v1/fine_tuning/jobs", headers=headers, params={"metadata": f'{{"team": "{unique}"}}'}
        )
    ).json()
    assert [j["id"] for j in listed["data"]] == [job_id]
    succeeded = (
        await gw.client.get(
            "/v1/fine_tuning/jobs", headers=headers, params={"status": "succeeded", "limit": 100}
        )
    ).json()
    assert job_id in [j["id"] for j in succeeded["data"]]


async def test_a_failed_generation_fails_the_job_with_its_reason(
    gw: Gateway, nc: Client, unique: str
) -> None:
    headers = await gw.auth("jobs:write")
    name = f"json-{unique}"
    await a_skill(gw, name)
    job, command = await a_job(gw, nc, headers, name)
    assert command.grpo_probe_prompts is None  # sft+grpo: the generator's own number
    await gw.publish(
        DatasetFailed(
            producer="t",
            correlation_id=job["id"],
            dataset_id=command.dataset_id,
            reason="only 3 of 200 samples passed: rubric.valid-json failed most",
            code="too_few_samples",
        )
    )
    failed = await job_of(gw, headers, job["id"], status="failed")
    assert failed["error"] == {
        "code": "too_few_samples",
        "param": None,
        "message": "only 3 of 200 samples passed: rubric.valid-json failed most",
    }
    cancel = await gw.client.post(f"/v1/fine_tuning/jobs/{job['id']}/cancel", headers=headers)
    assert cancel.status_code == 409 and error_of(cancel)["code"] == "job_finished"


async def test_cancelling_while_generating_data_tells_the_data_generator_and_its_answer_is_noted(
    gw: Gateway, nc: Client, unique: str
) -> None:
    headers = await gw.auth("jobs:write", "jobs:read")
    name = f"json-{unique}"
    await a_skill(gw, name)
    async with (
        Commands(nc, CancelDataset) as cancels,
        Commands(nc, CancelJob) as trainer_cancels,
        Commands(nc, StartJob) as starts,
    ):
        job, command = await a_job(gw, nc, headers, name)
        await gw.publish(
            DatasetProgress(
                producer="t",
                correlation_id=job["id"],
                dataset_id=command.dataset_id,
                stage="generating",
                done=1,
                total=200,
            )
        )
        await job_of(gw, headers, job["id"], status="running")

        cancelled = await gw.client.post(f"/v1/fine_tuning/jobs/{job['id']}/cancel", headers=headers)
        assert cancelled.status_code == 200
        assert (cancelled.json()["status"], cancelled.json()["stage"]) == ("cancelled", "done")
        told = await cancels.for_job(job["id"])
        assert (told.dataset_id, told.reason, told.correlation_id) == (
            command.dataset_id,
            "cancelled on request",
            job["id"],
        )

        # the data generator's answer, and a dataset finished just before the cancel came
        await gw.publish(
            DatasetFailed(
                producer="data-generator",
                correlation_id=job["id"],
                causation_id=told.event_id,
                dataset_id=command.dataset_id,
                reason=told.reason or "cancelled",
                code="cancelled",
            )
        )
        await gw.publish(dataset_generated(job["id"], command, producer="data-generator"))

        messages = await history_once(
            gw,
            headers,
            job["id"],
            "Data generation stopped",
            what="the data generator's answer in the job's history",
        )
        assert messages[1] == "Job cancelled: cancelled on request"
        await asyncio.sleep(0.5)
        assert starts.seen == [] and trainer_cancels.seen == [] and len(cancels.seen) == 1
    still = (await gw.client.get(f"/v1/fine_tuning/jobs/{job['id']}", headers=headers)).json()
    assert (still["status"], still["stage"], still["error"]) == ("cancelled", "done", None)


async def test_a_generation_cancelled_at_the_data_generator_cancels_the_job(
    gw: Gateway, nc: Client, unique: str
) -> None:
    headers = await gw.auth("jobs:write", "jobs:read")
    name = f"json-{unique}"
    await a_skill(gw, name)
    job, command = await a_job(gw, nc, headers, name)
    await gw.publish(
        DatasetFailed(
            producer="data-generator",
            correlation_id=job["id"],
            dataset_id=command.dataset_id,
            reason="an operator stopped it",
            code="cancelled",
        )
    )
    done = await job_of(gw, headers, job["id"], status="cancelled")
    assert (done["stage"], done["error"]) == ("done", None)
    events = (await gw.client.get(f"/v1/fine_tuning/jobs/{job['id']}/events", headers=headers)).json()
    assert events["data"][0]["message"] == "Job cancelled: data generation cancelled: an operator stopped it"


async def test_progress_reports_arriving_late_or_repeated_change_nothing(
    gw: Gateway, nc: Client, unique: str
) -> None:
    """Progress has its own consumer, so a report can arrive after the next stage's event; and a
    generator reports its total again for every spare it verifies: one history line."""
    headers = await gw.auth("jobs:write")
    name = f"json-{unique}"
    version = await a_skill(gw, name)
    job, command = await a_job(gw, nc, headers, name, version)

    def generated(accepted: int) -> DatasetProgress:
        return DatasetProgress(
            producer="t",
            correlation_id=job["id"],
            dataset_id=command.dataset_id,
            stage="generating",
            done=2,
            total=2,
            accepted=accepted,
        )

    for accepted in (2, 3, 4):
        await gw.publish(generated(accepted))
    await job_of(
        gw, headers, job["id"], progress=progress("generating_data", 2, 2, "generating 2/2, 4 verified")
    )
    await gw.publish(dataset_generated(job["id"], command, num_train=2, num_heldout=1))
    await job_of(gw, headers, job["id"], stage="training")
    await gw.publish(generated(5))  # sent before the dataset was ready
    await handled(nc, "DATASETS", "gateway_jobs_dataset_progress")
    step = JobProgress(
        producer="t",
        correlation_id=job["id"],
        job_id=job["id"],
        phase="sft",
        step=1,
        total_steps=4,
        epoch=0.5,
    )
    await gw.publish(step)
    await job_of(gw, headers, job["id"], progress=progress("training", 1, 4, "SFT step 1/4"))
    await gw.publish(JobPaused(producer="t", correlation_id=job["id"], job_id=job["id"], step=1))
    await job_of(gw, headers, job["id"], status="paused")
    await gw.publish(step.model_copy(update={"event_id": "late-" + step.event_id}))  # sent before the pause
    await handled(nc, "TRAINING", "gateway_jobs_training_progress")

    still = (await gw.client.get(f"/v1/fine_tuning/jobs/{job['id']}", headers=headers)).json()
    assert (still["status"], still["progress"]) == ("paused", progress("training", 1, 4, "SFT step 1/4"))
    events = (await gw.client.get(f"/v1/fine_tuning/jobs/{job['id']}/events", headers=headers)).json()
    messages = [e["message"] for e in reversed(events["data"])]
    ready = next(i for i, m in enumerate(messages) if m.startswith("Dataset ready"))
    assert [m for m in messages if m.startswith("Generating data: generating")] == [
        "Generating data: generating 2/2, 2 verified"
    ]
    assert not any(m.startswith("Generating data") for m in messages[ready:]), messages


async def an_evaluated_job(gw: Gateway, nc: Client, headers: dict[str, str], name: str) -> tuple[str, str]:
    """A job of skill ``name`` whose adapter is being evaluated: ``(job id, adapter id)``."""
    job, command = await a_job(gw, nc, headers, name, await a_skill(gw, name))
    await gw.publish(dataset_generated(job["id"], command))
    await job_of(gw, headers, job["id"], stage="training")
    adapter = f"ft:{BASE}:{name}:{job['id']}"
    await gw.publish(
        JobSucceeded(
            producer="t",
            correlation_id=job["id"],
            job_id=job["id"],
            adapter_object="a.zip",
            adapter_digest=DIGEST,
            adapter_id=adapter,
        )
    )
    await job_of(gw, headers, job["id"], stage="evaluating")
    return job["id"], adapter


async def test_evaluation_progress_shows_in_the_history_without_an_empty_count(
    gw: Gateway, nc: Client, unique: str
) -> None:
    headers = await gw.auth("jobs:write", "jobs:read")
    job_id, adapter = await an_evaluated_job(gw, nc, headers, f"json-{unique}")
    run = {
        "producer": "evaluator",
        "correlation_id": job_id,
        "run_id": auto_run_id(adapter),
        "model": adapter,
    }
    await gw.publish(EvaluationProgress(**run, stage="queued", done=0, total=0))
    await handled(nc, "EVALUATION", "gateway_jobs_evaluation_progress")
    queued = (await gw.client.get(f"/v1/fine_tuning/jobs/{job_id}", headers=headers)).json()
    assert queued["progress"] == {
        "stage": "evaluating",
        "done": 0,
        "total": 0,
        "message": "Evaluation queued",
    }
    await gw.publish(EvaluationProgress(**run, stage="generating", done=9, total=9))
    await job_of(gw, headers, job_id, progress=progress("evaluating", 9, 9, "Evaluating: 9/9 replies graded"))
    events = (await gw.client.get(f"/v1/fine_tuning/jobs/{job_id}/events", headers=headers)).json()
    messages = [e["message"] for e in reversed(events["data"])]
    assert messages[-2:] == ["Evaluation queued", "Evaluating: 9/9 replies graded"], messages


async def test_cancelling_while_evaluating_tells_the_evaluator_and_a_late_result_changes_nothing(
    gw: Gateway, nc: Client, unique: str
) -> None:
    headers = await gw.auth("jobs:write", "jobs:read")
    job_id, adapter = await an_evaluated_job(gw, nc, headers, f"json-{unique}")
    async with Commands(nc, CancelEvaluation) as cancels, Commands(nc, CancelJob) as trainer_cancels:
        cancelled = await gw.client.post(f"/v1/fine_tuning/jobs/{job_id}/cancel", headers=headers)
        assert cancelled.status_code == 200
        assert (cancelled.json()["status"], cancelled.json()["stage"]) == ("cancelled", "done")
        told = await cancels.for_job(job_id)
        assert (told.run_id, told.reason, told.correlation_id) == (
            auto_run_id(adapter),
            "cancelled on request",
            job_id,
        )
        await asyncio.sleep(0.3)
        assert trainer_cancels.seen == [] and len(cancels.seen) == 1

    # the evaluator's answer, then a result that was on its way before the cancel
    await gw.publish(
        EvaluationFailed(
            producer="evaluator",
            correlation_id=job_id,
            causation_id=told.event_id,
            run_id=told.run_id,
            model=adapter,
            code="cancelled",
            reason="cancelled on request (partial results of 2/9 replies kept)",
            partial=True,
        )
    )

    messages = await history_once(
        gw, headers, job_id, "Evaluation stopped", what="the evaluator's answer in the job's history"
    )
    assert messages[1] == "Job cancelled: cancelled on request"
    await gw.publish(
        EvaluationCompleted(
            producer="evaluator",
            correlation_id=job_id,
            run_id=told.run_id,
            model=adapter,
            pass_rates={"base": 0.0, "adapter": 0.9},
            lift=0.9,
            promoted=True,
        )
    )
    await handled(nc, "EVALUATION", "gateway_jobs_evaluation_completed")
    still = (await gw.client.get(f"/v1/fine_tuning/jobs/{job_id}", headers=headers)).json()
    assert (still["status"], still["fine_tuned_model"], still["error"], still["evaluation"]) == (
        "cancelled",
        None,
        None,
        None,
    )


async def test_an_evaluation_cancelled_at_the_evaluator_cancels_the_job(
    gw: Gateway, nc: Client, unique: str
) -> None:
    headers = await gw.auth("jobs:write", "jobs:read")
    job_id, adapter = await an_evaluated_job(gw, nc, headers, f"json-{unique}")
    await gw.publish(
        EvaluationFailed(
            producer="evaluator",
            correlation_id=job_id,
            run_id=auto_run_id(adapter),
            model=adapter,
            code="cancelled",
            reason="an operator stopped it",
        )
    )
    done = await job_of(gw, headers, job_id, status="cancelled")
    assert (done["stage"], done["error"]) == ("done", None)
    events = (await gw.client.get(f"/v1/fine_tuning/jobs/{job_id}/events", headers=headers)).json()
    assert events["data"][0]["message"] == "Job cancelled: evaluation cancelled: an operator stopped it"


def progress(stage: str, done: int, total: int, what: str) -> dict[str, Any]:
    message = f"Generating data: {what}" if stage == "generating_data" else what
    return {"stage": stage, "done": done, "total": total, "message": message}


async def handled(nc: Client, stream: str, consumer: str) -> None:
    """Every message of ``consumer`` so far has been handled (acknowledged)."""
    js = nc.jetstream()

    async def idle() -> bool:
        info = await js.consumer_info(stream, consumer)
        return info.num_pending == 0 and info.num_ack_pending == 0

    await eventually(idle, what=f"{consumer} to handle what was published")


async def test_cancelling_a_training_job_tells_the_trainer_and_later_events_change_nothing(
    gw: Gateway, nc: Client, unique: str
) -> None:
    headers = await gw.auth("jobs:write")
    name = f"json-{unique}"
    job, command = await a_job(gw, nc, headers, name, await a_skill(gw, name))
    async with Commands(nc, CancelJob) as cancels:
        await gw.publish(dataset_generated(job["id"], command))
        await job_of(gw, headers, job["id"], stage="training")
        cancelled = await gw.client.post(f"/v1/fine_tuning/jobs/{job['id']}/cancel", headers=headers)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        told = await cancels.for_job(job["id"])
        assert told.reason == "cancelled on request"
    await gw.publish(
        JobCancelled(producer="t", correlation_id=job["id"], job_id=job["id"], reason=told.reason)
    )

    messages = await history_once(
        gw, headers, job["id"], "Training stopped", what="the trainer's confirmation in the job's history"
    )
    assert messages[1] == "Job cancelled: cancelled on request"
    await gw.publish(
        JobSucceeded(
            producer="t",
            correlation_id=job["id"],
            job_id=job["id"],
            adapter_object="a.zip",
            adapter_digest=DIGEST,
            adapter_id="late",
        )
    )
    await asyncio.sleep(0.5)
    still = (await gw.client.get(f"/v1/fine_tuning/jobs/{job['id']}", headers=headers)).json()
    assert (still["status"], still["adapter_id"], still["fine_tuned_model"]) == ("cancelled", None, None)


async def test_a_retried_create_with_the_same_idempotency_key_is_the_same_job(
    gw: Gateway, unique: str
) -> None:
    headers = {**await gw.auth("jobs:write"), "Idempotency-Key": f"retry-{unique}"}
    name = f"json-{unique}"
    await a_skill(gw, name)
    body = {"model": BASE, "training_file": f"skill:{name}"}
    first = (await gw.client.post("/v1/fine_tuning/jobs", headers=headers, json=body)).json()
    second = (await gw.client.post("/v1/fine_tuning/jobs", headers=headers, json=body)).json()
    assert first["id"] == second["id"]
    other_key = await gw.auth("jobs:write")  # another API key's same Idempotency-Key is its own
    third = (
        await gw.client.post(
            "/v1/fine_tuning/jobs", headers={**other_key, "Idempotency-Key": f"retry-{unique}"}, json=body
        )
    ).json()
    assert third["id"] != first["id"]


@pytest.mark.parametrize(
    ("body", "status", "param", "code"),
    [
        ({"model": "nobody-serves-this", "training_file": "skill:x"}, 404, "model", "model_not_found"),
        ({"model": BASE, "training_file": "skill:no-such-skill"}, 404, "training_file", "skill_not_found"),
        ({"model": BASE, "training_file": "file-abc123"}, 400, "training_file", None),
        ({"model": BASE, "training_file": "skill:x", "validation_file": "file-1"}, 400, None, None),
        ({"model": BASE, "training_file": "skill:x", "method": {"type": "dpo"}}, 400, "method.type", None),
        ({"model": BASE, "training_file": "skill:x", "seed": -1}, 400, "seed", None),
        (
            {"model": BASE, "training_file": "skill:x", "metadata": {str(i): "v" for i in range(17)}},
            400,
            "metadata",
            None,
        ),
    ],
)
async def test_bad_requests_are_4xx_naming_the_field(
    gw: Gateway, body: dict[str, Any], status: int, param: str | None, code: str | None
) -> None:
    response = await gw.client.post("/v1/fine_tuning/jobs", headers=await gw.auth("jobs:write"), json=body)
    assert response.status_code == status, response.text
    error = error_of(response)
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code


async def test_unknown_jobs_and_scopes(gw: Gateway) -> None:
    reader = await gw.auth("jobs:read")
    missing = await gw.client.get("/v1/fine_tuning/jobs/ftjob-nope", headers=reader)
    assert missing.status_code == 404 and error_of(missing)["code"] == "job_not_found"
    assert (
        await gw.client.get("/v1/fine_tuning/jobs", headers=reader, params={"after": "ftjob-nope"})
    ).status_code == 404
    forbidden = await gw.client.post(
        "/v1/fine_tuning/jobs", headers=reader, json={"model": BASE, "training_file": "skill:x"}
    )
    assert forbidden.status_code == 403
    assert (
        await gw.client.get("/v1/fine_tuning/jobs", headers=await gw.auth("models:use"))
    ).status_code == 403


async def test_the_migrations_make_the_tables_the_models_describe(gw: Gateway) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def diff(sync: Any) -> list[Any]:
        context = MigrationContext.configure(sync, opts={"compare_type": True})
        ours = set(GatewayBase.metadata.tables)

        def table_of(change: Any) -> str | None:
            thing = change[1] if isinstance(change, tuple) else None
            table = getattr(thing, "table", None)
            return getattr(table, "name", None) or getattr(thing, "name", None)

        # the runtime's own tables (inbox, outbox) share the database
        return [d for d in compare_metadata(context, GatewayBase.metadata) if table_of(d) in ours]

    async def check() -> list[Any]:
        async with gw.state.runtime.engine.connect() as conn:
            return await conn.run_sync(diff)

    assert gw.in_app(check) == []
    assert "gateway_jobs_dataset_generated" in {h.consumer.durable for h in build_service().handlers}


async def test_the_official_client_creates_lists_follows_and_cancels(
    gw: Gateway, nc: Client, unique: str
) -> None:
    import openai

    name = f"json-{unique}"
    version = await a_skill(gw, name)
    token = await gw.key("jobs:write")
    client = openai.AsyncOpenAI(
        base_url=f"{str(gw.client.base_url).rstrip('/')}/v1",
        api_key=token,
        http_client=gw.client,
        max_retries=0,
    )
    async with (
        Commands(nc, GenerateDataset) as generate,
        Commands(nc, PauseJob) as pauses,
        Commands(nc, ResumeJob) as resumes,
    ):
        job = await client.fine_tuning.jobs.create(
            model=BASE, training_file=f"skill:{name}", seed=3, suffix="sdk", extra_body={"samples": 5}
        )
        assert job.status == "queued" and job.model == BASE and job.seed == 3
        command = await generate.for_job(job.id)
        assert command.num_samples == 5
        page = await client.fine_tuning.jobs.list(limit=100)
        assert job.id in [j.id for j in page.data]
        assert (await client.fine_tuning.jobs.retrieve(job.id)).id == job.id

        with pytest.raises(openai.ConflictError):  # not training yet
            await client.fine_tuning.jobs.pause(job.id)
        await gw.publish(
            DatasetGenerated(
                producer="t",
                correlation_id=job.id,
                dataset_id=command.dataset_id,
                skill_name=name,
                skill_version=version,
                object_name="m.json",
                digest=DIGEST,
                num_train=5,
                num_validation=0,
                num_heldout=0,
            )
        )
        await job_of(gw, {"Authorization": f"Bearer {token}"}, job.id, stage="training")
        await client.fine_tuning.jobs.pause(job.id)
        assert (await pauses.for_job(job.id)).job_id == job.id
        await gw.publish(JobPaused(producer="t", correlation_id=job.id, job_id=job.id, step=2))
        await job_of(gw, {"Authorization": f"Bearer {token}"}, job.id, status="paused")
        resumed = await client.fine_tuning.jobs.resume(job.id)
        assert resumed.status == "running" and (await resumes.for_job(job.id)).job_id == job.id

    await gw.publish(
        JobCheckpointed(
            producer="t",
            correlation_id=job.id,
            job_id=job.id,
            step=2,
            object_name=f"{job.id}/sft-000002.zip",
            digest=DIGEST,
            metrics={"train_loss": 0.5},
            phase="sft",
        )
    )
    await gw.publish(
        JobCheckpointed(
            producer="t",
            correlation_id=job.id,
            job_id=job.id,
            step=4,
            object_name=f"{job.id}/sft-000004-final.zip",
            digest=DIGEST,
            metrics={"train_loss": 0.25},
            phase="sft",
            final=True,
        )
    )

    async def two() -> Any:
        listed = await client.fine_tuning.jobs.checkpoints.list(job.id)
        return listed if len(listed.data) == 2 else None

    checkpoints = await eventually(two, what="two checkpoints")
    assert [c.step_number for c in checkpoints.data] == [4, 2]
    assert checkpoints.data[0].metrics.train_loss == 0.25 and checkpoints.data[0].fine_tuning_job_id == job.id
    assert checkpoints.data[0].fine_tuned_model_checkpoint == f"{job.id}/sft-000004-final.zip"

    cancelled = await client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    events = [e.message async for e in client.fine_tuning.jobs.list_events(job.id, limit=5)]
    assert events[0].startswith("Job cancelled") and any(
        m.startswith("Checkpoint at SFT step 4 (final)") for m in events
    )
    with pytest.raises(openai.NotFoundError):
        await client.fine_tuning.jobs.retrieve("ftjob-missing")


async def test_the_events_stream_live_until_the_job_ends(
    gw: Gateway, nc: Client, nats_url: str, unique: str
) -> None:
    headers = await gw.auth("jobs:write")
    name = f"json-{unique}"
    await a_skill(gw, name)
    job, command = await a_job(gw, nc, headers, name)

    failure = DatasetFailed(
        producer="t",
        correlation_id=job["id"],
        dataset_id=command.dataset_id,
        reason="teacher down",
        code="inference_unavailable",
    )

    def fail_soon() -> None:  # from a thread: the test client blocks this loop while it streams
        async def publish() -> None:
            other = await nats.connect(nats_url)
            try:
                await Publisher(other.jetstream()).publish(failure)
            finally:
                await other.close()

        time.sleep(1.0)
        asyncio.run(publish())

    failing = threading.Thread(target=fail_soon)
    failing.start()
    lines = []
    async with gw.client.stream(
        "GET", f"/v1/fine_tuning/jobs/{job['id']}/events", headers=headers, params={"stream": "true"}
    ) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/event-stream"
        )
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                lines.append(line[6:])
    failing.join()
    assert lines[-1] == "[DONE]"
    messages = [json.loads(line)["message"] for line in lines[:-1]]
    assert (
        messages[0].startswith("Created") and messages[-1] == "Job failed while generating data: teacher down"
    )


async def test_a_new_skill_version_starts_a_job_when_auto_train_is_on(
    start_gateway: StartGateway, nc: Client, unique: str
) -> None:
    with ThreadedFakeServer(upstream) as url:
        backends = [{"kind": "openai", "base_url": f"{url}/v1", "models": [BASE]}]
        async with start_gateway(
            backends=backends,
            auto_train=True,
            auto_train_model=BASE,
            auto_train_method="supervised",
            auto_train_hyperparameters={"max_steps": 2, "lora_r": 8},
            job_samples=9,
        ) as gw:
            headers = await gw.auth("jobs:read")
            name = f"auto-{unique}"
            async with Commands(nc, GenerateDataset) as generate:
                event = skill_parsed(name)
                await gw.publish(event)

                async def the_job() -> dict[str, Any] | None:
                    listed = (
                        await gw.client.get("/v1/fine_tuning/jobs", headers=headers, params={"limit": 100})
                    ).json()
                    return next((j for j in listed["data"] if j["skill_name"] == name), None)

                job = await eventually(the_job, what="the auto-started job")
                assert job["training_file"] == f"skill:{name}@{event.skill_version}" and job["model"] == BASE
                assert job["method"] == {
                    "type": "supervised",
                    "supervised": {"hyperparameters": {"max_steps": 2, "lora_r": 8}},
                }
                command = await generate.for_job(job["id"])
                assert (command.num_samples, command.skill_version) == (9, event.skill_version)

                again = skill_parsed(name, event.skill_version)  # the same version put again
                await gw.publish(again)
                own_run = skill_parsed(f"own-{unique}").model_copy(update={"auto_train": False})
                await gw.publish(own_run)  # pushed by `skill-adapter train`, which runs its own job
                other = skill_parsed(f"other-{unique}")
                await gw.publish(other)
                await eventually(
                    lambda: _has_job(gw, headers, f"other-{unique}"), what="the other skill's job"
                )
                listed = (
                    await gw.client.get("/v1/fine_tuning/jobs", headers=headers, params={"limit": 100})
                ).json()
                assert [j["skill_name"] for j in listed["data"]].count(name) == 1
                assert f"own-{unique}" not in [j["skill_name"] for j in listed["data"]]

        async with start_gateway(backends=backends, auto_train=False) as gw:
            headers = await gw.auth("jobs:read", "skills:read")
            name = f"manual-{unique}"
            await gw.publish(skill_parsed(name))
            await gw.wait_for(f"/v1/skills/{name}", headers, "the skill")
            listed = (
                await gw.client.get("/v1/fine_tuning/jobs", headers=headers, params={"limit": 100})
            ).json()
            assert name not in [j["skill_name"] for j in listed["data"]]


async def _has_job(gw: Gateway, headers: dict[str, str], skill: str) -> bool | None:
    listed = (await gw.client.get("/v1/fine_tuning/jobs", headers=headers, params={"limit": 100})).json()
    return True if any(j["skill_name"] == skill for j in listed["data"]) else None


class Receiver:
    """A webhook endpoint: answers ``statuses`` in turn (then 200) and keeps what it got."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.got: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.got.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)


async def test_a_finished_job_is_posted_to_its_keys_webhook_signed_and_retried(
    start_gateway: StartGateway, nc: Client, unique: str
) -> None:
    receiver = Receiver(500)  # the first attempt fails: retried
    with ThreadedFakeServer(upstream) as url, ThreadedFakeServer(receiver) as hook:
        backends = [{"kind": "openai", "base_url": f"{url}/v1", "models": [BASE]}]
        async with start_gateway(backends=backends, webhook_backoff=[0.2]) as gw:
            issued = gw.in_app(gw.state.keys.create, "hooked", ("jobs:write",), f"{hook}/hooks")
            assert issued.webhook_secret.startswith("whsec_") and issued.key.webhook_url == f"{hook}/hooks"
            headers = {"Authorization": f"Bearer {issued.token}"}
            name = f"json-{unique}"
            await a_skill(gw, name)
            async with Commands(nc, GenerateDataset) as generate:
                job = (
                    await gw.client.post(
                        "/v1/fine_tuning/jobs",
                        headers=headers,
                        json={"model": BASE, "training_file": f"skill:{name}", "metadata": {"run": unique}},
                    )
                ).json()
                command = await generate.for_job(job["id"])
            await gw.publish(
                DatasetFailed(
                    producer="t",
                    correlation_id=job["id"],
                    dataset_id=command.dataset_id,
                    reason="no checks",
                    code="no_checks",
                )
            )

            async def two() -> bool | None:
                return True if len(receiver.got) >= 2 else None

            await eventually(two, what="the webhook, retried once")
    first, second = receiver.got[:2]
    assert first.url.path == "/hooks" and first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.content == second.content
    event = json.loads(second.content)
    assert (event["object"], event["type"]) == ("event", "fine_tuning.job.failed")
    assert event["data"]["id"] == job["id"] and event["data"]["error"]["code"] == "no_checks"
    assert event["data"]["metadata"] == {"run": unique}
    key = base64.b64decode(issued.webhook_secret.removeprefix("whsec_"))
    signed = (
        f"{second.headers['webhook-id']}.{second.headers['webhook-timestamp']}.".encode() + second.content
    )
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert second.headers["webhook-signature"] == expected
    assert len(receiver.got) == 2  # delivered: not sent again


async def test_a_key_without_a_webhook_gets_none_and_a_bad_url_is_refused(gw: Gateway) -> None:
    from skill_adapter.gateway.keys import InvalidKeyRequest

    with pytest.raises(InvalidKeyRequest):
        gw.in_app(gw.state.keys.create, "bad", ("jobs:write",), "ftp://example.org/x")
    plain = gw.in_app(gw.state.keys.create, "plain", ("jobs:write",))
    assert plain.webhook_secret is None and plain.key.webhook_url is None


async def test_jobs_are_paged_newest_first(gw: Gateway, unique: str) -> None:
    headers = await gw.auth("jobs:write")
    name = f"json-{unique}"
    await a_skill(gw, name)
    made = []
    for _ in range(3):
        body = {"model": BASE, "training_file": f"skill:{name}", "metadata": {"batch": unique}}
        made.append((await gw.client.post("/v1/fine_tuning/jobs", headers=headers, json=body)).json()["id"])
    query = {"limit": 2, "metadata": json.dumps({"batch": unique})}
    first = (await gw.client.get("/v1/fine_tuning/jobs", headers=headers, params=query)).json()
    assert first["has_more"] and len(first["data"]) == 2
    rest = (
        await gw.client.get(
            "/v1/fine_tuning/jobs", headers=headers, params={**query, "after": first["data"][-1]["id"]}
        )
    ).json()
    assert not rest["has_more"]
    assert sorted(j["id"] for j in first["data"] + rest["data"]) == sorted(made)
    every = (await gw.client.get("/v1/fine_tuning/jobs", headers=headers, params={"limit": 1})).json()
    assert len(every["data"]) == 1 and every["has_more"]
    bad = await gw.client.get("/v1/fine_tuning/jobs", headers=headers, params={"metadata": "[1]"})
    assert bad.status_code == 400 and error_of(bad)["param"] == "metadata"
