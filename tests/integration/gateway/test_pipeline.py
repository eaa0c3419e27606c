"""The gateway with the real skill-parser: upload, ingestion, read model, rejection (own NATS)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest

from skill_adapter.contracts import SKILLS_BUCKET
from skill_adapter.runtime.nats_server import EmbeddedNats
from skill_adapter.runtime.objects import Objects
from skill_adapter.skill_parser.service import build_service
from skill_adapter.skill_parser.settings import SkillParserSettings
from tests.integration.gateway.conftest import Gateway, StartGateway
from tests.support.helpers import eventually
from tests.unit.gateway.builders import skill_md

pytestmark = pytest.mark.integration


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A server of this test's own: the parser reconciles the whole `skills` bucket."""
    server = EmbeddedNats(tmp_path / "pipeline-nats").start()
    yield server
    server.stop()


@pytest.fixture
async def pipeline(
    start_gateway: StartGateway, own_nats: EmbeddedNats, tmp_path: Path
) -> AsyncIterator[Gateway]:
    settings = SkillParserSettings(
        nats_url=own_nats.url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'parser.db'}",
        state_dir=tmp_path / "parser",
        reconcile_seconds=1.0,
        inbox_poll_seconds=0.5,
    )
    parser = build_service(settings).create_app(settings)
    await parser.start()
    try:
        async with start_gateway(nats_url=own_nats.url) as gateway:
            yield gateway
    finally:
        await parser.stop()


async def test_an_upload_becomes_a_ready_version_and_a_drop_a_visible_rejection(
    pipeline: Gateway, own_nats: EmbeddedNats
) -> None:
    headers = await pipeline.auth("skills:read", "skills:write")
    uploaded = await pipeline.client.post(
        "/v1/skills", headers=headers, files={"file": ("demo-skill/SKILL.md", skill_md("demo-skill"))}
    )
    assert uploaded.status_code == 202, uploaded.text
    location = uploaded.headers["location"]

    ready = (await pipeline.wait_for(location, headers, "the parser's verdict in the read model")).json()
    assert (ready["status"], ready["name"], ready["object_name"]) == (
        "ready",
        "demo-skill",
        "demo-skill/SKILL.md",
    )
    assert ready["version"] == uploaded.json()["version"]
    assert [c["check"]["kind"] for c in ready["rubric"]["criteria"]] == ["valid_json"]
    again = await pipeline.client.post(
        "/v1/skills", headers=headers, files={"file": ("demo-skill/SKILL.md", skill_md("demo-skill"))}
    )
    assert again.status_code == 200 and again.json()["status"] == "ready"

    # A file dropped straight into the bucket, as a user without the API would.
    nc = await nats.connect(own_nats.url)
    try:
        await Objects(nc.jetstream()).put(SKILLS_BUCKET.name, "Bad_Name/SKILL.md", skill_md("Bad_Name"))
    finally:
        await nc.close()

    async def rejected() -> list:
        page = (await pipeline.client.get("/v1/skill_rejections", headers=headers)).json()
        return [r for r in page["data"] if r["object_name"] == "Bad_Name/SKILL.md"]

    [rejection] = await eventually(rejected, what="the rejection of the dropped file")
    assert rejection["errors"][0]["code"] == "name_invalid"
    assert rejection["errors"][0]["line"] == 2
    assert "Bad_Name" in rejection["reason"]
