"""The trainer service against a real nats-server and a real database, with a tiny base model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import nats
import pytest

from skill_adapter.modelstore import ModelInfo
from skill_adapter.runtime.nats_server import EmbeddedNats
from skill_adapter.trainer.service import build_service
from skill_adapter.trainer.settings import TrainerSettings
from skill_adapter.trainer.worker import TrainFunction
from tests.support.trainer import Trainer, make_lora


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> ModelInfo:
    pytest.importorskip("torch", reason="the tiny model needs torch")
    from skill_adapter.modelstore import tiny_random_model

    return tiny_random_model(tmp_path_factory.mktemp("trainer-models") / "tiny")


@pytest.fixture(scope="session")
def adapter_template(tmp_path_factory: pytest.TempPathFactory, tiny_base: ModelInfo) -> Path:
    pytest.importorskip("peft", reason="adapters need peft")
    return make_lora(tiny_base, tmp_path_factory.mktemp("trainer-adapters") / "template")


def trainer_settings(root: Path, nats_url: str, database_url: str, **overrides: Any) -> TrainerSettings:
    fields: dict[str, Any] = {
        "nats_url": nats_url,
        "database_url": database_url,
        "state_dir": root,
        "embedded_nats": False,
        "trainer_poll_seconds": 0.2,
        "trainer_lease_seconds": 6,
        "trainer_progress_seconds": 0,
        "graceful_timeout": 10,
        **overrides,
    }
    return TrainerSettings(**fields)


RunService = Callable[..., Any]


@pytest.fixture
def run_service(nats_server: EmbeddedNats, tmp_path: Path) -> RunService:
    """``async with run_service(train, database_url=..., **settings) as app``: a running trainer."""

    @asynccontextmanager
    async def running(
        train: TrainFunction, database_url: str | None = None, **overrides: Any
    ) -> AsyncIterator[Any]:
        url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'trainer.db'}"
        settings = trainer_settings(tmp_path, nats_server.url, url, **overrides)
        app = build_service(settings, train=train).create_app(settings)
        await app.start()
        try:
            yield app
        finally:
            await app.stop()

    return running


@pytest.fixture
async def trainer(nats_server: EmbeddedNats) -> AsyncIterator[Trainer]:
    nc = await nats.connect(nats_server.url)
    try:
        yield await Trainer.connect(nc)
    finally:
        await nc.close()
