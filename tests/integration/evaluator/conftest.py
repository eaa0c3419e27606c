"""The evaluator against a real nats-server, a real database and a real gateway on a tiny model.

The module gets its own nats-server: gateways of one server share the durable consumers of the
serving events, so a gateway of another test module could take an event meant for this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from skill_adapter.runtime.nats_server import EmbeddedNats
from tests.integration.inference.conftest import (
    TINY,
    ServedGateway,
    gateway_settings,
    serve,
    stop,
    tiny_model_path,
)

__all__ = ["tiny_model_path"]


@pytest.fixture(scope="module")
def eval_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path_factory.mktemp("nats-evaluator")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def eval_gateway(
    tmp_path_factory: pytest.TempPathFactory, eval_nats: EmbeddedNats, tiny_model_path: Path
) -> Iterator[ServedGateway]:
    settings = gateway_settings(
        tmp_path_factory.mktemp("eval-gateway"),
        eval_nats.url,
        backends=[{"kind": "local", "models": [{"id": TINY, "source": str(tiny_model_path)}]}],
        max_concurrent_generations=2,
    )
    served = serve(settings, wait_for_models=(TINY,))
    yield served
    stop(served)
