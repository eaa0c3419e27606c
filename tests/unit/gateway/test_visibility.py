"""Candidate adapters are for evaluators only; a promotion changes who sees an adapter, not what
is loaded. The router over the fake vLLM of ``test_upstream``, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from skill_adapter.contracts.openai import ChatCompletionRequest, TokenizeRequest
from skill_adapter.gateway.errors import ModelNotFound
from skill_adapter.gateway.inference.backend import Cancellation
from skill_adapter.gateway.inference.router import Router
from skill_adapter.gateway.keys import ApiKey
from skill_adapter.gateway.models import AdapterRow
from skill_adapter.gateway.serving import adapter_spec
from skill_adapter.gateway.visibility import EVALUATORS, EVERYONE, Audience
from tests.support.fake_http import Serve
from tests.unit.gateway.test_upstream import FakeVllm, backend, spec

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def key(*scopes: str) -> ApiKey:
    return ApiKey("key_x", "k", scopes, "abcd", T0, None, None)  # type: ignore[arg-type]


def test_models_evaluate_implies_models_use_and_admin_implies_it() -> None:
    assert key("models:evaluate").allows("models:use")
    assert key("admin").allows("models:evaluate")
    assert not key("models:use").allows("models:evaluate")
    assert not key("models:evaluate").allows("skills:read")
    assert Audience.of(key("models:evaluate")) == Audience.of(key("admin")) == EVALUATORS
    assert Audience.of(key("models:use")) == Audience.of(None) == EVERYONE


def test_a_promotion_leaves_the_served_adapter_as_it_is(tmp_path: Path) -> None:
    row = AdapterRow(
        adapter_id="ft:tiny:s:job",
        skill_name="s",
        base_model="base",
        object_name="ft:tiny:s:job.zip",
        digest="0" * 64,
        status="candidate",
        status_at=T0,
        registered_at=T0,
    )
    candidate = adapter_spec(row, tmp_path)
    later = T0 + timedelta(hours=1)
    row.status, row.status_at, row.promoted_at, row.run_id = "promoted", later, later, "run"
    promoted = adapter_spec(row, tmp_path)
    assert candidate == promoted  # what the backends compare: equal, so neither reloads it
    assert candidate is not None and candidate.created == int(T0.timestamp())


def chat(model: str) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": model, "messages": [{"role": "user", "content": "x"}], "max_tokens": 2}
    )


def lora_calls(fake: FakeVllm, since: int) -> list[tuple[str, str]]:
    return [call for call in fake.calls[since:] if "lora" in call[1]]


async def test_a_candidate_is_an_unknown_model_except_to_evaluators_until_promoted(serve: Serve) -> None:
    fake = FakeVllm()
    vllm = await backend(serve, fake)
    router = Router([vllm])
    await router.start()
    await router.sync_adapters([spec("cand"), spec("prom")], {"cand": "candidate", "prom": "promoted"})
    assert set(fake.loras) == {"cand", "prom"}

    everyone = {m.id: m.status for m in router.models(EVERYONE).data}
    assert everyone == {"base": None, "prom": "promoted"}
    evaluators = {m.id: m.status for m in router.models(EVALUATORS).data}
    assert evaluators == {"base": None, "prom": "promoted", "cand": "candidate"}
    assert (await router.retrieve("cand", EVALUATORS)).status == "candidate"

    unknown = ModelNotFound("cand")
    for attempt in (
        router.retrieve("cand"),
        router.chat(chat("cand"), Cancellation()),
        router.chat(chat("cand").model_copy(update={"stream": True}), Cancellation(), EVERYONE),
        router.tokenize(TokenizeRequest(model="cand", prompt="x")),
    ):
        with pytest.raises(ModelNotFound) as raised:
            await attempt
        assert (raised.value.message, raised.value.code, raised.value.param) == (
            unknown.message,
            "model_not_found",
            "model",
        )
    assert await router.chat(chat("cand"), Cancellation(), EVALUATORS) is not None
    assert "cand" not in (await router.health())[0].models  # /health is public

    calls = len(fake.calls)
    await router.sync_adapters([spec("cand"), spec("prom")], {"cand": "promoted", "prom": "promoted"})
    assert lora_calls(fake, calls) == []  # promoted: nothing is loaded again
    assert (await router.retrieve("cand")).status == "promoted"
    assert "cand" in (await router.health())[0].models

    await router.sync_adapters([spec("prom")], {"prom": "promoted"})  # retired
    assert set(fake.loras) == {"prom"}
    with pytest.raises(ModelNotFound):
        await router.retrieve("cand", EVALUATORS)
    await router.aclose()


async def test_adapters_are_for_evaluators_only_until_the_registry_is_read(serve: Serve) -> None:
    fake = FakeVllm()
    fake.loras = {"left-over": "/srv/adapters/left-over", "operators-own": "/opt/loras/operators-own"}
    router = Router([await backend(serve, fake)])
    await router.start()
    assert [m.id for m in router.models().data] == ["base"]  # either may be a candidate
    assert {m.id for m in router.models(EVALUATORS).data} == {"base", "left-over", "operators-own"}
    with pytest.raises(ModelNotFound):
        await router.chat(chat("operators-own"), Cancellation())

    await router.sync_adapters([], {"left-over": "candidate"})
    listed = {m.id: m.status for m in router.models().data}
    assert listed == {"base": None, "operators-own": None}  # not in the registry: as vLLM serves it
    await router.aclose()


class RefusingVllm(FakeVllm):
    """A vLLM that has no room for another adapter."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/load_lora_adapter":
            self.calls.append((request.method, request.url.path))
            return httpx.Response(500, text="no room for another LoRA")
        return super().__call__(request)


async def test_public_health_does_not_name_a_candidate_that_failed_to_load(serve: Serve) -> None:
    router = Router([await backend(serve, RefusingVllm())])
    await router.start()
    await router.sync_adapters(
        [spec("secret-cand"), spec("prom")], {"secret-cand": "candidate", "prom": "promoted"}
    )
    [report] = await router.health()
    assert report.detail is not None and "no room" in report.detail
    assert "secret-cand" not in report.detail and "adapter prom:" in report.detail
    await router.aclose()
