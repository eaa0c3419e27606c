"""Cancelling dataset runs: real NATS, a real database, and an inference server that can be held.

The inference server is the pipeline tests' fake OpenAI-compatible server over a real socket;
it answers the first chat requests and then holds every one until released (or abandoned by
the client), so a run is caught in the middle of its generation, with requests in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client

from skill_adapter.contracts import (
    DATASETS_BUCKET,
    SKILL_VERSIONS_BUCKET,
    CancelDataset,
    DatasetFailed,
    DatasetGenerated,
    DatasetProgress,
    GenerateDataset,
)
from skill_adapter.data_generator import cancel
from skill_adapter.data_generator.models import DatasetRun
from skill_adapter.data_generator.service import build_service
from skill_adapter.data_generator.settings import DataGeneratorSettings
from skill_adapter.runtime.db import create_engine, session_factory
from skill_adapter.runtime.nats_server import EmbeddedNats
from skill_adapter.runtime.objects import ObjectMissing, Objects, ensure_bucket
from skill_adapter.runtime.publisher import Publisher
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip
from tests.support.fake_http import FakeHttpServer
from tests.support.helpers import eventually
from tests.unit.data_generator.fakes import EXAMPLES, FakeOpenAI

pytestmark = pytest.mark.integration

POLL = 0.2
"""The generator's poll interval in these tests: a cancel must take effect within a few of them."""


@dataclass
class HeldInference:
    """Answers ``answered`` chat requests, then holds the others until ``release`` is set."""

    answered: int = 0
    fake: FakeOpenAI = field(default_factory=FakeOpenAI)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    chats: int = 0
    held: int = 0
    abandoned: int = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/chat/completions":
            self.chats += 1
            if self.chats > self.answered:
                self.held += 1
                try:
                    await self.release.wait()
                except asyncio.CancelledError:  # the client went away
                    self.abandoned += 1
                    raise
        return self.fake(request)


@dataclass
class Generator:
    nc: Client
    objects: Objects
    inference: HeldInference
    database_url: str
    events: list[Any] = field(default_factory=list)

    async def push_skill(self, name: str = "json-reply") -> str:
        data = to_zip(from_directory(EXAMPLES / name), name)
        analysis = analyze(data, f"{name}.zip")
        assert analysis.version
        await self.objects.put(SKILL_VERSIONS_BUCKET.name, f"{name}/{analysis.version}.zip", data)
        return analysis.version

    async def send(self, message: Any) -> Any:
        await Publisher(self.nc.jetstream()).publish(message)
        return message

    async def ask(self, dataset_id: str, version: str, **fields: Any) -> GenerateDataset:
        values = {
            "producer": "test",
            "correlation_id": f"job-{dataset_id}",
            "dataset_id": dataset_id,
            "skill_name": "json-reply",
            "skill_version": version,
            "base_model": "base",
            "num_samples": 40,
            **fields,
        }
        return await self.send(GenerateDataset(**values))

    async def cancel(self, dataset_id: str, reason: str | None = "changed my mind") -> CancelDataset:
        return await self.send(
            CancelDataset(
                producer="test", correlation_id=f"job-{dataset_id}", dataset_id=dataset_id, reason=reason
            )
        )

    def finished(self, dataset_id: str) -> list[DatasetGenerated | DatasetFailed]:
        return [
            e
            for e in self.events
            if isinstance(e, DatasetGenerated | DatasetFailed) and e.dataset_id == dataset_id
        ]

    async def outcome(self, dataset_id: str, timeout: float = 20) -> DatasetGenerated | DatasetFailed:
        async def done() -> DatasetGenerated | DatasetFailed | None:
            found = self.finished(dataset_id)
            return found[0] if found else None

        return await eventually(done, timeout=timeout, what=f"the outcome of {dataset_id}")

    def stages(self, dataset_id: str) -> list[str]:
        return [e.stage for e in self.events if isinstance(e, DatasetProgress) and e.dataset_id == dataset_id]

    async def run(self, dataset_id: str) -> DatasetRun | None:
        engine = create_engine(self.database_url)
        try:
            async with session_factory(engine)() as session:
                return await session.get(DatasetRun, dataset_id)
        finally:
            await engine.dispose()

    async def no_manifest(self, dataset_id: str) -> None:
        with pytest.raises(ObjectMissing):
            await self.objects.get(DATASETS_BUCKET.name, f"{dataset_id}/manifest.json")


@pytest.fixture
async def generator(nats_server: EmbeddedNats, tmp_path: Path) -> AsyncIterator[Generator]:
    inference = HeldInference(answered=3)
    server = FakeHttpServer(inference)
    url = await server.start()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'dg.db'}"
    settings = DataGeneratorSettings(
        nats_url=nats_server.url,
        database_url=database_url,
        state_dir=tmp_path,
        embedded_nats=False,
        inference_url=f"{url}/v1",
        inference_api_key="key",
        datagen_concurrency=2,
        datagen_grpo_probe_prompts=0,
        datagen_poll_seconds=POLL,
    )
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    for bucket in (SKILL_VERSIONS_BUCKET, DATASETS_BUCKET):
        await ensure_bucket(js, bucket)
    gen = Generator(nc, Objects(js), inference, database_url)
    models = {m.SUBJECT: m for m in (DatasetProgress, DatasetGenerated, DatasetFailed)}

    async def on_event(msg: Any) -> None:
        gen.events.append(models[msg.subject].model_validate_json(msg.data))

    sub = await nc.subscribe("datasets.evt.dataset.*.v1", cb=on_event)
    app = build_service(settings).create_app(settings)
    await app.start()
    try:
        yield gen
    finally:
        inference.release.set()
        await app.stop()
        await sub.unsubscribe()
        await nc.close()
        await server.close()


async def held(gen: Generator) -> None:
    async def in_flight() -> bool:
        return gen.inference.held > 0

    await eventually(in_flight, what="a chat request held in flight")


async def test_a_running_generation_stops_at_once_and_fails_as_cancelled(
    generator: Generator, unique: str
) -> None:
    version = await generator.push_skill()
    asked = await generator.ask(f"ds-{unique}", version)
    await held(generator)

    started = time.monotonic()
    await generator.cancel(asked.dataset_id, "the job was cancelled")
    outcome = await generator.outcome(asked.dataset_id, timeout=10)
    took = time.monotonic() - started

    assert isinstance(outcome, DatasetFailed), outcome
    assert (outcome.code, outcome.reason) == ("cancelled", "the job was cancelled")
    assert (outcome.correlation_id, outcome.causation_id) == (asked.correlation_id, asked.event_id)
    assert took < 5, f"the cancel took {took:.1f}s"
    assert outcome.stats is not None and sum(s.attempts for s in outcome.stats.strategies.values()) > 0
    assert generator.inference.abandoned > 0  # requests in flight were dropped, not waited for
    await generator.no_manifest(asked.dataset_id)

    chats = generator.inference.chats
    await generator.cancel(asked.dataset_id)  # again: nothing more happens
    await asyncio.sleep(6 * POLL)
    assert generator.inference.chats == chats
    assert len(generator.finished(asked.dataset_id)) == 1
    row = await generator.run(asked.dataset_id)
    assert row is not None and (row.status, row.reason) == ("failed", "the job was cancelled")


async def test_a_queued_run_is_never_started_and_a_cancel_marked_elsewhere_is_read(
    generator: Generator, unique: str
) -> None:
    """One worker, two runs: the second stays queued while the first holds the worker."""
    version = await generator.push_skill()
    first = await generator.ask(f"first-{unique}", version)
    await held(generator)
    second = await generator.ask(f"second-{unique}", version)

    async def queued() -> bool:
        return "queued" in generator.stages(second.dataset_id)

    await eventually(queued, what="the second run queued")
    told = await generator.cancel(second.dataset_id, reason=None)
    outcome = await generator.outcome(second.dataset_id, timeout=10)
    assert isinstance(outcome, DatasetFailed)
    assert (outcome.code, outcome.reason, outcome.causation_id) == (
        "cancelled",
        "cancelled on request",
        told.event_id,
    )
    assert outcome.correlation_id == second.correlation_id
    row = await generator.run(second.dataset_id)
    assert row is not None and (row.status, row.attempts) == ("failed", 0)  # no worker claimed it

    # the first run's cancel is handled by another replica (no word to this worker but the row)
    engine = create_engine(generator.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            effect = await cancel.cancel(
                session,
                CancelDataset(
                    producer="other", correlation_id="x", dataset_id=first.dataset_id, reason="elsewhere"
                ),
            )
        assert effect.event is None and effect.poke
    finally:
        await engine.dispose()
    outcome = await generator.outcome(first.dataset_id, timeout=10)
    assert isinstance(outcome, DatasetFailed) and (outcome.code, outcome.reason) == ("cancelled", "elsewhere")
    assert generator.stages(second.dataset_id) == ["queued"]
    await generator.no_manifest(first.dataset_id)


async def test_a_cancel_that_overtakes_its_generate_keeps_the_run_from_starting(
    generator: Generator, unique: str
) -> None:
    version = await generator.push_skill()
    dataset_id = f"ds-{unique}"
    await generator.cancel(dataset_id, "cancelled before the generator came back")

    async def recorded() -> DatasetRun | None:
        return await generator.run(dataset_id)

    await eventually(recorded, what="the cancel recorded")
    assert generator.finished(dataset_id) == []  # nothing to announce yet

    asked = await generator.ask(dataset_id, version)
    outcome = await generator.outcome(dataset_id, timeout=10)
    assert isinstance(outcome, DatasetFailed)
    assert (outcome.code, outcome.reason) == ("cancelled", "cancelled before the generator came back")
    assert outcome.causation_id == asked.event_id
    await generator.send(asked.model_copy(update={"event_id": f"again-{unique}"}))  # resent: a duplicate
    await asyncio.sleep(6 * POLL)
    assert len(generator.finished(dataset_id)) == 1
    assert generator.stages(dataset_id) == [] and generator.inference.chats == 0


async def test_cancelling_a_run_that_ended_changes_nothing(generator: Generator, unique: str) -> None:
    asked = await generator.ask(f"ds-{unique}", "0" * 64)  # no such version: fails at once
    outcome = await generator.outcome(asked.dataset_id)
    assert isinstance(outcome, DatasetFailed) and outcome.code == "skill_not_found"
    await generator.cancel(asked.dataset_id)
    await asyncio.sleep(6 * POLL)
    assert generator.finished(asked.dataset_id) == [outcome]
    row = await generator.run(asked.dataset_id)
    assert row is not None and row.status == "failed" and row.cancel_requested_at is None
    assert row.reason == outcome.reason


async def test_a_cancelled_run_whose_worker_died_ends_cancelled_and_its_files_go(
    generator: Generator, unique: str
) -> None:
    """Its worker stored some files, was asked to stop and died: the next claim cleans up."""
    dataset_id = f"ds-{unique}"
    for file in ("train.jsonl", "manifest.json"):
        await generator.objects.put(DATASETS_BUCKET.name, f"{dataset_id}/{file}", b"{}\n")
    asked = GenerateDataset(
        producer="test",
        correlation_id=f"job-{dataset_id}",
        dataset_id=dataset_id,
        skill_name="json-reply",
        skill_version="v",
        base_model="base",
    )
    engine = create_engine(generator.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            session.add(
                DatasetRun(
                    dataset_id=dataset_id,
                    command=asked.model_dump(mode="json"),
                    status="running",
                    owner="dead-worker",
                    lease_until=datetime.now(UTC) - timedelta(seconds=1),
                    attempts=1,
                    reason="stop it",
                    cancel_requested_at=datetime.now(UTC),
                )
            )
    finally:
        await engine.dispose()
    outcome = await generator.outcome(dataset_id, timeout=10)
    assert isinstance(outcome, DatasetFailed) and (outcome.code, outcome.reason) == ("cancelled", "stop it")
    for file in ("train.jsonl", "manifest.json"):
        assert await generator.objects.info(DATASETS_BUCKET.name, f"{dataset_id}/{file}") is None
    assert generator.inference.chats == 0
