"""A skill-parser running against its own nats-server (the `skills` bucket is shared state)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from skill_adapter.contracts import SKILLS_BUCKET, SkillParsed, SkillRejected
from skill_adapter.runtime.db import create_engine
from skill_adapter.runtime.nats_server import EmbeddedNats
from skill_adapter.runtime.objects import Objects, ensure_bucket
from skill_adapter.skill_parser.service import build_service
from skill_adapter.skill_parser.settings import SkillParserSettings
from tests.support.helpers import eventually


@pytest.fixture(scope="module")
def parser_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path_factory.mktemp("parser-nats")).start()
    yield server
    server.stop()


@dataclass
class Verdicts:
    """Every skills.evt message seen, by object name."""

    events: list[SkillParsed | SkillRejected] = field(default_factory=list)

    def for_object(self, object_name: str) -> list[SkillParsed | SkillRejected]:
        return [e for e in self.events if e.object_name == object_name]

    async def wait(
        self, object_name: str, count: int = 1, timeout: float = 20.0
    ) -> list[SkillParsed | SkillRejected]:
        async def seen() -> list[SkillParsed | SkillRejected]:
            found = self.for_object(object_name)
            return found if len(found) >= count else []

        return await eventually(seen, timeout=timeout, what=f"a verdict on {object_name}")


@dataclass
class Parser:
    settings: SkillParserSettings
    nc: Client
    objects: Objects
    verdicts: Verdicts
    engine: AsyncEngine
    app: object = None

    async def start(self) -> None:
        self.app = build_service(self.settings).create_app(self.settings)
        await self.app.start()

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    async def put(self, object_name: str, data: bytes) -> None:
        await self.objects.put(SKILLS_BUCKET.name, object_name, data)


@pytest.fixture
async def parser(parser_nats: EmbeddedNats, tmp_path: Path) -> AsyncIterator[Parser]:
    settings = SkillParserSettings(
        nats_url=parser_nats.url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'parser.db'}",
        state_dir=tmp_path,
        inbox_poll_seconds=0.2,
        reconcile_seconds=0.5,
    )
    nc = await nats.connect(parser_nats.url)
    js = nc.jetstream(timeout=10)
    await ensure_bucket(js, SKILLS_BUCKET)
    verdicts = Verdicts()

    async def collect(msg) -> None:
        model = SkillParsed if msg.subject == SkillParsed.SUBJECT else SkillRejected
        verdicts.events.append(model.model_validate(json.loads(msg.data)))

    await nc.subscribe("skills.evt.skill.*.v1", cb=collect)
    engine = create_engine(settings.resolved_database_url())
    running = Parser(settings, nc, Objects(js), verdicts, engine)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
        await engine.dispose()
        await asyncio.sleep(0)
        await nc.close()
