"""The data-generator as deployed: real NATS, a real database, a real gateway with a tiny model.

A tiny random model says nothing sensible, so every sample it contributes comes from guided
decoding (the JSON Schema of a small JSON skill) and the verifier: the point is that the
files in the bucket are complete, valid and verified, and that a subscriber can follow it all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from skill_adapter.contracts import (
    DATASETS_BUCKET,
    SKILL_VERSIONS_BUCKET,
    DatasetFailed,
    DatasetGenerated,
    DatasetProgress,
    GenerateDataset,
    HeldoutRecord,
)
from skill_adapter.data_generator.artifact import (
    GrpoRecord,
    Manifest,
    SampleRecord,
    parse_jsonl,
)
from skill_adapter.data_generator.service import build_service
from skill_adapter.data_generator.settings import DataGeneratorSettings
from skill_adapter.runtime.nats_server import EmbeddedNats
from skill_adapter.runtime.objects import ObjectMissing, Objects, ensure_bucket
from skill_adapter.runtime.publisher import Publisher
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip
from skill_adapter.skillspec.rubric.grading import grade
from tests.integration.inference.conftest import TINY, ServedGateway, gateway_settings, serve, stop
from tests.support.helpers import eventually
from tests.support.skills import write_mini_skill

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tiny_gateway(
    tmp_path_factory: pytest.TempPathFactory, nats_server: EmbeddedNats, tiny_model_path: Path
) -> Iterator[ServedGateway]:
    settings = gateway_settings(
        tmp_path_factory.mktemp("dg-gateway"),
        nats_server.url,
        backends=[{"kind": "local", "models": [{"id": TINY, "source": str(tiny_model_path)}]}],
    )
    served = serve(settings, wait_for_models=(TINY,))
    yield served
    stop(served)


@dataclass
class Generator:
    nc: Client
    objects: Objects
    events: list[Any] = field(default_factory=list)

    async def push_skill(self, folder: Path) -> str:
        """Put a skill version where the skill-parser would have: ``skill-versions/<name>/<version>.zip``."""
        name = folder.name
        data = to_zip(from_directory(folder), name)
        analysis = analyze(data, f"{name}.zip")
        assert analysis.version
        await self.objects.put(SKILL_VERSIONS_BUCKET.name, f"{name}/{analysis.version}.zip", data)
        return analysis.version

    async def ask(self, **fields: Any) -> GenerateDataset:
        values = {"producer": "test", "correlation_id": fields["dataset_id"], "base_model": TINY, **fields}
        command = GenerateDataset(**values)
        await Publisher(self.nc.jetstream()).publish(command)
        return command

    async def outcome(self, dataset_id: str, timeout: float = 240) -> DatasetGenerated | DatasetFailed:
        async def done() -> DatasetGenerated | DatasetFailed | None:
            for event in self.events:
                if isinstance(event, DatasetGenerated | DatasetFailed) and event.dataset_id == dataset_id:
                    return event
            return None

        return await eventually(done, timeout=timeout, what=f"the outcome of {dataset_id}")

    def progress(self, dataset_id: str) -> list[DatasetProgress]:
        return [e for e in self.events if isinstance(e, DatasetProgress) and e.dataset_id == dataset_id]


@pytest.fixture
def mini_skill(tmp_path: Path) -> Path:
    """A short skill: the tiny model's byte-level tokenizer needs a prompt that fits 2048 tokens."""
    return write_mini_skill(tmp_path)


@pytest.fixture
async def generator(
    nats_server: EmbeddedNats, tiny_gateway: ServedGateway, tmp_path: Path
) -> AsyncIterator[Generator]:
    key = await asyncio.to_thread(tiny_gateway.key, "models:use")
    settings = DataGeneratorSettings(
        nats_url=nats_server.url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'dg.db'}",
        state_dir=tmp_path,
        embedded_nats=False,
        inference_url=f"{tiny_gateway.base_url}/v1",
        inference_api_key=key,
        datagen_max_tokens=96,
        datagen_prompt_pool_factor=4,
        datagen_concurrency=2,
        datagen_grpo_probe_prompts=3,
        datagen_poll_seconds=0.2,
    )
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    for bucket in (SKILL_VERSIONS_BUCKET, DATASETS_BUCKET):
        await ensure_bucket(js, bucket)
    gen = Generator(nc, Objects(js))
    models = {m.SUBJECT: m for m in (DatasetProgress, DatasetGenerated, DatasetFailed)}

    async def on_event(msg: Any) -> None:
        gen.events.append(models[msg.subject].model_validate_json(msg.data))

    sub = await nc.subscribe("datasets.evt.dataset.*.v1", cb=on_event)
    app = build_service(settings).create_app(settings)
    await app.start()
    try:
        yield gen
    finally:
        await app.stop()
        await sub.unsubscribe()
        await nc.close()


async def test_a_dataset_is_generated_verified_stored_and_announced(
    generator: Generator, unique: str, mini_skill: Path
) -> None:
    version = await generator.push_skill(mini_skill)
    command = await generator.ask(
        dataset_id=f"ds-{unique}", skill_name="mini-json", skill_version=version, num_samples=6
    )
    outcome = await generator.outcome(command.dataset_id)
    assert isinstance(outcome, DatasetGenerated), outcome

    assert outcome.num_train == 6
    assert outcome.causation_id == command.event_id
    stages = [p.stage for p in generator.progress(command.dataset_id)]
    assert stages[0] == "queued" and "generating" in stages

    manifest = Manifest.model_validate_json(
        await generator.objects.get(DATASETS_BUCKET.name, outcome.object_name)
    )
    assert manifest.skill_version == version
    assert manifest.base_model == TINY
    assert manifest.base_chat_template_sha256
    rubric = analyze(to_zip(from_directory(mini_skill), "mini-json"), "mini-json.zip").rubric
    assert rubric is not None
    for entry in manifest.files:
        data = await generator.objects.get(DATASETS_BUCKET.name, entry.name)
        model = {
            "train": SampleRecord,
            "validation": SampleRecord,
            "heldout": HeldoutRecord,
            "grpo": GrpoRecord,
        }[entry.role]
        records = parse_jsonl(data, model, entry.name)
        assert len(records) == entry.records
        if entry.role in ("train", "validation"):
            for record in records:
                assert grade(rubric, record.messages[-1].content).passed
                json.loads(record.messages[-1].content)
    assert {f.role for f in manifest.files} == {"train", "validation", "heldout", "grpo"}


async def test_an_unknown_skill_version_fails_with_the_reason(
    generator: Generator, unique: str, mini_skill: Path
) -> None:
    command = await generator.ask(
        dataset_id=f"ds-{unique}", skill_name="mini-json", skill_version="0" * 64, num_samples=2
    )
    outcome = await generator.outcome(command.dataset_id, timeout=30)
    assert isinstance(outcome, DatasetFailed)
    assert outcome.code == "skill_not_found"
    with pytest.raises(ObjectMissing):
        await generator.objects.get(DATASETS_BUCKET.name, f"{command.dataset_id}/manifest.json")


async def test_a_base_model_the_inference_plane_does_not_serve_fails(
    generator: Generator, unique: str, mini_skill: Path
) -> None:
    version = await generator.push_skill(mini_skill)
    command = await generator.ask(
        dataset_id=f"ds-{unique}",
        skill_name="mini-json",
        skill_version=version,
        num_samples=2,
        base_model="nope",
    )
    outcome = await generator.outcome(command.dataset_id, timeout=60)
    assert isinstance(outcome, DatasetFailed)
    assert outcome.code == "inference_refused"
    assert "nope" in outcome.reason


async def test_the_same_command_twice_is_one_run(generator: Generator, unique: str, mini_skill: Path) -> None:
    version = await generator.push_skill(mini_skill)
    command = await generator.ask(
        dataset_id=f"ds-{unique}", skill_name="mini-json", skill_version=version, num_samples=2
    )
    await Publisher(generator.nc.jetstream()).publish(
        command.model_copy(update={"event_id": f"again-{unique}"})
    )
    outcome = await generator.outcome(command.dataset_id)
    assert isinstance(outcome, DatasetGenerated)
    await asyncio.sleep(1.0)
    finished = [
        e
        for e in generator.events
        if isinstance(e, DatasetGenerated | DatasetFailed) and e.dataset_id == command.dataset_id
    ]
    assert len(finished) == 1


async def test_a_bad_dataset_id_is_refused(generator: Generator, unique: str) -> None:
    command = await generator.ask(
        dataset_id=f"../{unique}", skill_name="mini-json", skill_version="x", num_samples=2
    )
    outcome = await generator.outcome(command.dataset_id, timeout=30)
    assert isinstance(outcome, DatasetFailed)
    assert outcome.code == "invalid_dataset_id"
