"""Candidate adapters (registered, not promoted yet) are served to ``models:evaluate`` keys only:
for every other key they are unknown models on every route. A promotion shows the adapter to
everyone without loading it again; a retirement takes it away from everyone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from nats.js import JetStreamContext

from skill_adapter.contracts import AdapterPromoted, AdapterRegistered, AdapterRetired
from skill_adapter.runtime import Publisher
from skill_adapter.runtime.nats_server import EmbeddedNats
from tests.integration.inference.conftest import (
    TINY,
    ServedGateway,
    gateway_settings,
    make_adapter,
    serve,
    stop,
)
from tests.integration.inference.test_adapters import HELLO, greedy, model_ids, seconds_until

pytestmark = pytest.mark.integration

SKILL = "json-reply"


def started(root: Path, nats_url: str, tiny_model_path: Path, **overrides: Any) -> ServedGateway:
    settings = gateway_settings(
        root,
        nats_url,
        backends=[{"kind": "local", "models": [{"id": TINY, "source": str(tiny_model_path)}]}],
        **overrides,
    )
    return serve(settings, wait_for_models=(TINY,))


# One gateway at a time: gateways of one NATS share the durable consumers of the serving events,
# so a second gateway alive at once could take an event meant for the one under test.
@pytest.fixture
def evaluating(tmp_path: Path, nats_server: EmbeddedNats, tiny_model_path: Path) -> Iterator[ServedGateway]:
    served = started(tmp_path / "gateway", nats_server.url, tiny_model_path)
    yield served
    stop(served)


@pytest.fixture
def promoted_only(
    tmp_path: Path, nats_server: EmbeddedNats, tiny_model_path: Path
) -> Iterator[ServedGateway]:
    served = started(tmp_path / "gateway", nats_server.url, tiny_model_path, serve_candidates=False)
    yield served
    stop(served)


async def register(
    js: JetStreamContext, gateway: ServedGateway, tiny_model_path: Path, adapter_id: str
) -> None:
    """A candidate as the trainer leaves it: files in the adapters folder, then the registration."""
    await asyncio.to_thread(
        make_adapter, tiny_model_path, gateway.settings.resolved_adapters_dir() / adapter_id
    )
    await Publisher(js).publish(
        AdapterRegistered(
            correlation_id=adapter_id,
            producer="tests",
            adapter_id=adapter_id,
            base_model=TINY,
            skill_name=SKILL,
            skill_version="0" * 64,
            job_id=adapter_id.rsplit(":", 1)[-1],
            object_name=f"{adapter_id}.zip",
            digest="0" * 64,
            rank=8,
        )
    )


async def promote(js: JetStreamContext, adapter_id: str) -> None:
    await Publisher(js).publish(
        AdapterPromoted(
            correlation_id=adapter_id, producer="tests", adapter_id=adapter_id, skill_name=SKILL, run_id="r"
        )
    )


async def retire(js: JetStreamContext, adapter_id: str) -> None:
    await Publisher(js).publish(
        AdapterRetired(correlation_id=adapter_id, producer="tests", adapter_id=adapter_id, skill_name=SKILL)
    )


async def not_found(http: httpx.AsyncClient, model: str) -> list[dict[str, Any]]:
    """The error envelopes of every model route for ``model``, each checked to be a 404."""
    requests = [
        http.get(f"/v1/models/{model}"),
        http.post("/v1/chat/completions", json={"model": model, "messages": HELLO, "max_tokens": 2}),
        http.post(
            "/v1/chat/completions", json={"model": model, "messages": HELLO, "max_tokens": 2, "stream": True}
        ),
        http.post("/v1/completions", json={"model": model, "prompt": "Hi", "max_tokens": 2}),
        http.post("/v1/completions", json={"model": model, "prompt": "Hi", "max_tokens": 2, "stream": True}),
        http.post("/tokenize", json={"model": model, "prompt": "Hi"}),
        http.post("/tokenize", json={"model": model, "messages": HELLO}),
    ]
    envelopes = []
    for response in await asyncio.gather(*requests):
        assert response.status_code == 404, (response.request.url, response.text)
        assert response.headers["content-type"].startswith("application/json")
        envelopes.append(response.json())
    return envelopes


def unknown_like(envelopes: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    """``envelopes`` as they read for an id nobody serves, to compare with those of ``model``."""
    return [
        {"error": {**body["error"], "message": body["error"]["message"].replace(model, "MODEL")}}
        for body in envelopes
    ]


async def test_a_candidate_is_served_to_evaluators_only_until_it_is_promoted(
    evaluating: ServedGateway, js: JetStreamContext, tiny_model_path: Path, unique: str
) -> None:
    gateway = evaluating
    adapter_id = f"ft:{TINY}:{SKILL}:cand-{unique}"
    evaluator_key, user_key = await asyncio.gather(
        asyncio.to_thread(gateway.key, "models:evaluate"), asyncio.to_thread(gateway.key, "models:use")
    )
    evaluator, user, admin = gateway.client(evaluator_key), gateway.client(user_key), gateway.client()
    base = await greedy(evaluator, TINY)  # an evaluator key uses base models too (implies models:use)

    await register(js, gateway, tiny_model_path, adapter_id)
    assert await seconds_until(evaluator, True, adapter_id) < 1.0
    card = await evaluator.models.retrieve(adapter_id)
    assert card.model_extra is not None
    assert (card.model_extra["status"], card.model_extra["parent"]) == ("candidate", TINY)
    assert adapter_id in await model_ids(admin)  # admin implies models:evaluate

    adapted = await greedy(evaluator, adapter_id)
    assert adapted != base
    stream = await evaluator.chat.completions.create(  # type: ignore[call-overload]
        model=adapter_id,
        messages=HELLO,
        max_tokens=24,
        temperature=0,
        extra_body={"ignore_eos": True},
        stream=True,
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == adapted
    completion = await evaluator.completions.create(model=adapter_id, prompt="Hi", max_tokens=2)
    assert completion.model == adapter_id
    async with gateway.http(evaluator_key) as http:
        tokens = await http.post("/tokenize", json={"model": adapter_id, "prompt": "Hi"})
        assert tokens.status_code == 200, tokens.text

    # for a models:use key it is exactly an unknown model, on every route
    assert adapter_id not in await model_ids(user)
    assert TINY in await model_ids(user)
    async with gateway.http(user_key) as http:
        hidden = await not_found(http, adapter_id)
        nobody = await not_found(http, f"no-such-{unique}")
    assert unknown_like(hidden, adapter_id) == unknown_like(nobody, f"no-such-{unique}")
    assert {body["error"]["code"] for body in hidden} == {"model_not_found"}
    with pytest.raises(openai.NotFoundError):
        await user.models.retrieve(adapter_id)
    with pytest.raises(openai.NotFoundError):
        await user.chat.completions.create(model=adapter_id, messages=HELLO, stream=True)  # type: ignore[arg-type]
    async with httpx.AsyncClient(base_url=gateway.base_url) as public:
        health = (await public.get("/health")).json()
    assert adapter_id not in {m for backend in health["backends"] for m in backend["models"]}

    # promoted: everyone sees it, and the loaded adapter is the same one (nothing reloads)
    loaded = gateway.local()._adapters[adapter_id][1]  # what the backend holds
    await promote(js, adapter_id)
    assert await seconds_until(user, True, adapter_id) < 1.0
    card = await user.models.retrieve(adapter_id)
    assert card.model_extra is not None and card.model_extra["status"] == "promoted"
    assert gateway.local()._adapters[adapter_id][1] is loaded
    assert await greedy(user, adapter_id) == adapted
    assert await greedy(evaluator, adapter_id) == adapted

    await retire(js, adapter_id)
    await asyncio.gather(seconds_until(user, False, adapter_id), seconds_until(evaluator, False, adapter_id))
    for client in (user, evaluator, admin):
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model=adapter_id, messages=HELLO)  # type: ignore[arg-type]
    assert await greedy(user, TINY) == base


async def test_a_candidate_retired_before_promotion_is_never_shown_to_users(
    evaluating: ServedGateway, js: JetStreamContext, tiny_model_path: Path, unique: str
) -> None:
    gateway = evaluating
    adapter_id = f"ft:{TINY}:{SKILL}:rejected-{unique}"
    evaluator = gateway.client(await asyncio.to_thread(gateway.key, "models:evaluate"))
    user = gateway.client(await asyncio.to_thread(gateway.key, "models:use"))
    await register(js, gateway, tiny_model_path, adapter_id)
    await seconds_until(evaluator, True, adapter_id)
    await retire(js, adapter_id)
    await seconds_until(evaluator, False, adapter_id)
    assert adapter_id not in await model_ids(user)
    assert not gateway.local().serves(adapter_id)


async def test_with_serve_candidates_off_only_promoted_adapters_are_served(
    promoted_only: ServedGateway, js: JetStreamContext, tiny_model_path: Path, unique: str
) -> None:
    adapter_id = f"ft:{TINY}:{SKILL}:off-{unique}"
    evaluator_key = await asyncio.to_thread(promoted_only.key, "models:evaluate")
    evaluator, admin = promoted_only.client(evaluator_key), promoted_only.client()
    await register(js, promoted_only, tiny_model_path, adapter_id)
    await asyncio.sleep(1.5)  # three sync ticks
    assert adapter_id not in await model_ids(evaluator)
    assert adapter_id not in await model_ids(admin)
    assert not promoted_only.local().serves(adapter_id)
    async with promoted_only.http(evaluator_key) as http:
        assert {body["error"]["code"] for body in await not_found(http, adapter_id)} == {"model_not_found"}

    await promote(js, adapter_id)  # the registration did arrive: the promotion serves it
    user = promoted_only.client(await asyncio.to_thread(promoted_only.key, "models:use"))
    await seconds_until(user, True, adapter_id)
    card = await user.models.retrieve(adapter_id)
    assert card.model_extra is not None and card.model_extra["status"] == "promoted"
    await retire(js, adapter_id)
    await seconds_until(evaluator, False, adapter_id)
