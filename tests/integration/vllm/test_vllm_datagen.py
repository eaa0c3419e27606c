"""The data-generator's requests on the vLLM backend: /tokenize relayed, guided JSON from vLLM.

The same pipeline that the local-engine tests drive, pointed at the gateway in front of a real
vLLM: the structured-output request, the token counts and the verification are the same.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from skill_adapter.contracts import GenerateDataset
from skill_adapter.data_generator.inference import ChatClient
from skill_adapter.data_generator.pipeline import Pipeline
from skill_adapter.data_generator.settings import DataGeneratorSettings
from skill_adapter.data_generator.strategies import Sampler
from skill_adapter.modelstore import DEFAULT_MODEL
from skill_adapter.skillspec.render import skill_system_prompt
from skill_adapter.skillspec.rubric.grading import grade
from tests.integration.inference.conftest import ServedGateway
from tests.support.skills import write_mini_skill
from tests.support.vllm import VllmServer
from tests.unit.data_generator.fakes import load_example

pytestmark = [pytest.mark.integration, pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(900)]

MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}]


async def test_tokenize_through_the_gateway_is_what_vllm_counts(
    vllm_gateway: ServedGateway, vllm_server: VllmServer
) -> None:
    body = {"model": DEFAULT_MODEL, "messages": MESSAGES, "add_generation_prompt": False}
    async with vllm_gateway.http() as http, httpx.AsyncClient() as direct:
        through = await http.post("/tokenize", json=body)
        straight = await direct.post(f"{vllm_server.base_url.removesuffix('/v1')}/tokenize", json=body)
    assert through.status_code == straight.status_code == 200, through.text
    assert through.json()["count"] == straight.json()["count"] > 0
    assert through.json()["max_model_len"] == 2048


async def test_guided_samples_from_vllm_pass_the_rubric(vllm_gateway: ServedGateway, tmp_path: Path) -> None:
    skill = load_example("mini-json", write_mini_skill(tmp_path))
    client = ChatClient(f"{vllm_gateway.base_url}/v1", vllm_gateway.token, timeout=300)
    sampler = Sampler(
        base=client,
        base_model=DEFAULT_MODEL,
        system=skill_system_prompt(skill.document),
        max_tokens=64,
        temperature=0.8,
        candidates=2,
        constraint=skill.rubric.output_constraint,
    )
    command = GenerateDataset(
        producer="test",
        correlation_id="vllm-mini",
        dataset_id="vllm-mini",
        skill_name="mini-json",
        skill_version=skill.rubric.skill_version,
        base_model=DEFAULT_MODEL,
        strategy="guided",
        num_samples=4,
    )

    async def progress(*_: object) -> None:
        return None

    settings = DataGeneratorSettings(datagen_grpo_probe_prompts=2, datagen_prompt_pool_factor=4)
    try:
        dataset = await Pipeline(settings, command, skill, sampler, None, progress).run()
    finally:
        await client.aclose()
    assert len(dataset.train) == 4
    assert sum(s.strategy == "guided" for s in dataset.train) >= 3  # the rest: the skill's own example
    for sample in dataset.train:
        assert sample.strategy in ("guided", "reference")
        assert grade(skill.rubric, sample.messages[-1].content).passed
        assert sample.tokens > 0
