"""Structured outputs with the real SmolLM2-135M-Instruct (the embedded default model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from skill_adapter.modelstore import DEFAULT_MODEL, ModelInfo
from skill_adapter.runtime.nats_server import EmbeddedNats
from tests.integration.inference.conftest import ServedGateway, gateway_settings, serve, stop
from tests.integration.modelstore.fixtures import smollm2, smollm2_cache_dir

__all__ = ["smollm2", "smollm2_cache_dir"]  # the real model, converted once per session

pytest.importorskip("llguidance", reason="structured outputs need llguidance (the local extra)")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CITY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 40},
        "country": {"type": "string", "maxLength": 40},
        "population_millions": {"type": "number", "minimum": 0},
    },
    "required": ["city", "country", "population_millions"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def smol_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    nats_server: EmbeddedNats,
    smollm2: ModelInfo,
    smollm2_cache_dir: Path,
) -> Iterator[ServedGateway]:
    settings = gateway_settings(
        tmp_path_factory.mktemp("smol-structured"),
        nats_server.url,
        backends=[{"kind": "local"}],  # the default model
        model_cache_dir=smollm2_cache_dir,
    )
    served = serve(settings, wait_for_models=(DEFAULT_MODEL,), timeout=300)
    yield served
    stop(served)


async def test_smollm2_fills_a_json_schema_and_picks_a_choice(smol_gateway: ServedGateway) -> None:
    client = smol_gateway.client()
    question = [{"role": "user", "content": "Describe Paris as JSON: its city name, country and population."}]
    reply = await client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=question,  # type: ignore[arg-type]
        max_tokens=120,
        temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": CITY}},
    )
    value = json.loads(reply.choices[0].message.content or "")
    jsonschema.validate(value, CITY)
    assert reply.choices[0].finish_reason == "stop"
    assert "paris" in value["city"].lower()
    answer = await client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "Is Paris the capital of France? Answer yes or no."}],
        max_tokens=8,
        temperature=0,
        extra_body={"structured_outputs": {"choice": ["yes", "no"]}},
    )
    assert answer.choices[0].message.content in {"yes", "no"}
    assert answer.choices[0].finish_reason == "stop"
