"""``POST /tokenize`` (vLLM's shape) and the chat template hash on ``/v1/models``."""

from __future__ import annotations

import pytest

from .conftest import TINY, ServedGateway

pytestmark = pytest.mark.integration

MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}]


async def test_counts_follow_the_chat_template(gateway: ServedGateway) -> None:
    async with gateway.http() as http:
        prompt = await http.post("/tokenize", json={"model": TINY, "messages": MESSAGES[:1]})
        sample = await http.post(
            "/tokenize",
            json={"model": TINY, "messages": MESSAGES, "add_generation_prompt": False, "return_tokens": True},
        )
        raw = await http.post("/tokenize", json={"model": TINY, "prompt": "What is 2 + 2?"})
    assert prompt.status_code == sample.status_code == raw.status_code == 200, prompt.text
    assert prompt.json()["max_model_len"] > 0
    assert sample.json()["count"] == len(sample.json()["tokens"])
    assert prompt.json()["count"] > raw.json()["count"]  # the template adds its own tokens
    assert sample.json()["count"] > raw.json()["count"]


async def test_the_model_card_carries_the_chat_template_hash(gateway: ServedGateway) -> None:
    async with gateway.http() as http:
        card = (await http.get(f"/v1/models/{TINY}")).json()
    assert len(card["chat_template_sha256"]) == 64


@pytest.mark.parametrize(
    "body",
    [
        {"model": TINY},
        {"model": TINY, "prompt": "x", "messages": MESSAGES},
        {"model": TINY, "messages": []},
        {"model": TINY, "messages": [{"role": "wizard", "content": "x"}]},
        [],
        "text",
    ],
)
async def test_bad_requests_get_the_envelope(gateway: ServedGateway, body: object) -> None:
    async with gateway.http() as http:
        answer = await http.post("/tokenize", json=body)
    assert answer.status_code in (400, 422)
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


async def test_unknown_model_is_404(gateway: ServedGateway) -> None:
    async with gateway.http() as http:
        answer = await http.post("/tokenize", json={"model": "nope", "prompt": "x"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "model_not_found"
