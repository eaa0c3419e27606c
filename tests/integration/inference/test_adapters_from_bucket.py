"""A promoted adapter that is not on the gateway's disk is fetched from the ``adapters`` bucket
(the trainer puts it there), checked against its registered digest, unpacked atomically, and
served; one whose object is missing or differs is not served."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from nats.js import JetStreamContext

from skill_adapter.contracts import ADAPTERS_BUCKET, AdapterPromoted, AdapterRegistered
from skill_adapter.gateway.materialize import SOURCE, recorded_digest
from skill_adapter.modelstore import pack_folder
from skill_adapter.runtime import Publisher
from skill_adapter.runtime.nats_server import EmbeddedNats
from skill_adapter.runtime.objects import Objects, ensure_bucket
from tests.integration.inference.conftest import (
    TINY,
    ServedGateway,
    gateway_settings,
    make_adapter,
    serve,
    stop,
)
from tests.integration.inference.test_adapters import greedy, model_ids, seconds_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tiny_gateway(
    tmp_path_factory: pytest.TempPathFactory, nats_server: EmbeddedNats, tiny_model_path: Path
) -> Iterator[ServedGateway]:
    settings = gateway_settings(
        tmp_path_factory.mktemp("bucket-gateway"),
        nats_server.url,
        backends=[{"kind": "local", "models": [{"id": TINY, "source": str(tiny_model_path)}]}],
    )
    served = serve(settings, wait_for_models=(TINY,))
    yield served
    stop(served)


async def announce(js: JetStreamContext, adapter_id: str, object_name: str, digest: str) -> None:
    publisher = Publisher(js)
    await publisher.publish(
        AdapterRegistered(
            correlation_id=adapter_id,
            producer="tests",
            adapter_id=adapter_id,
            base_model=TINY,
            skill_name="mini-json",
            skill_version="0" * 64,
            job_id=adapter_id.rsplit(":", 1)[-1],
            object_name=object_name,
            digest=digest,
            rank=8,
        )
    )
    await publisher.publish(
        AdapterPromoted(
            correlation_id=adapter_id,
            producer="tests",
            adapter_id=adapter_id,
            skill_name="mini-json",
            run_id="r",
        )
    )


def leftovers(adapters_dir: Path) -> list[str]:
    return sorted(p.name for p in adapters_dir.glob(".*") if not p.name.endswith(".lock"))


async def test_a_promoted_adapter_is_fetched_from_the_bucket_and_served(
    tiny_gateway: ServedGateway, js: JetStreamContext, tiny_model_path: Path, tmp_path: Path, unique: str
) -> None:
    adapter_id = f"ft:tiny:mini-json:job-{unique}"  # the trainer's id scheme: ':' in ids and folder names
    made = await asyncio.to_thread(make_adapter, tiny_model_path, tmp_path / "made", seed=5)
    archive = pack_folder(made, tmp_path / "adapter.zip")
    await ensure_bucket(js, ADAPTERS_BUCKET)
    stored = await Objects(js).put_file(ADAPTERS_BUCKET.name, f"{adapter_id}.zip", archive)
    client: openai.AsyncOpenAI = tiny_gateway.client()
    adapters_dir = tiny_gateway.settings.resolved_adapters_dir()
    assert not (adapters_dir / adapter_id).exists()

    await announce(js, adapter_id, stored.name, stored.digest)
    await seconds_until(client, True, adapter_id, timeout=30)

    folder = adapters_dir / adapter_id
    assert (folder / "adapter_config.json").is_file() and (folder / "adapter_model.safetensors").is_file()
    assert recorded_digest(folder) == stored.digest and (folder / SOURCE).is_file()
    assert leftovers(adapters_dir) == [], "no temporary folder or download is left behind"
    card = await client.models.retrieve(adapter_id)
    assert card.model_extra is not None and card.model_extra["parent"] == TINY
    assert await greedy(client, adapter_id) != await greedy(client, TINY)


@pytest.mark.parametrize("problem", ["wrong digest", "missing object"])
async def test_an_adapter_whose_object_is_missing_or_differs_is_not_served(
    tiny_gateway: ServedGateway,
    js: JetStreamContext,
    tiny_model_path: Path,
    tmp_path: Path,
    unique: str,
    problem: str,
) -> None:
    adapter_id = f"ft:tiny:mini-json:bad-{unique}"
    await ensure_bucket(js, ADAPTERS_BUCKET)
    name = f"{adapter_id}.zip"
    if problem == "wrong digest":
        made = await asyncio.to_thread(make_adapter, tiny_model_path, tmp_path / "made")
        await Objects(js).put_file(ADAPTERS_BUCKET.name, name, pack_folder(made, tmp_path / "adapter.zip"))
    await announce(js, adapter_id, name, "f" * 64)
    client: openai.AsyncOpenAI = tiny_gateway.client()
    await asyncio.sleep(3.0)
    assert adapter_id not in await model_ids(client)
    adapters_dir = tiny_gateway.settings.resolved_adapters_dir()
    assert not (adapters_dir / adapter_id).exists()
    assert leftovers(adapters_dir) == []
    plane = tiny_gateway.state.inference
    assert plane.materializer is not None
    failure = plane.materializer.failure(adapter_id)
    assert failure is not None and (
        "sha256" in failure if problem == "wrong digest" else "does not exist" in failure
    )
