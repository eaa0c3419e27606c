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


async def test_the_commit_message_rubric_grammar_is_followed_to_the_end(smol_gateway: ServedGateway) -> None:
    """Every regex and "never contains" text of commit-message's rubric at once (an intersection
    of bounded repeats): with llguidance's default lexer budget SmolLM2's multi-byte tokens made it
    give up at the fifth token (a 400), and the data generator fell back to the first regex."""
    from skill_adapter.cli.skills import _analyze
    from skill_adapter.skillspec.rubric.grading import grade

    skill = Path(__file__).resolve().parents[3] / "services" / "cli" / "example_skills" / "commit-message"
    _, _, analysis = _analyze(skill, "strict")
    assert analysis.rubric is not None and analysis.rubric.output_constraint is not None
    grammar = analysis.rubric.output_constraint.grammar
    assert grammar is not None and " & " in grammar
    client = smol_gateway.client()
    prompts = [
        "Write the commit message for: the parser now accepts nested quotes in values.",
        "Write the commit message for: fixed a crash when the config file is empty; added a test.",
    ]
    finished = 0
    for seed, prompt in enumerate(prompts):
        reply = await client.chat.completions.create(
            model=DEFAULT_MODEL,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=160,
            seed=seed,
            extra_body={"structured_outputs": {"grammar": grammar}},
        )
        text = reply.choices[0].message.content or ""
        checks = grade(analysis.rubric, text)
        failed = [
            r.criterion_id
            for r in checks.results
            if r.kind in ("regex", "not_contains") and r.passed is False
        ]
        if reply.choices[0].finish_reason == "stop":
            finished += 1
            assert not failed, (text, failed)
    assert finished, "no reply ended within max_tokens"
