"""Every bad input of the issue is a 4xx in OpenAI's envelope, never a 500 or a traceback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import openai
import pytest

from tests.integration.inference.conftest import TINY, ServedGateway

pytestmark = pytest.mark.integration

OK_CHAT: dict[str, Any] = {"model": TINY, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def envelope(response: httpx.Response) -> dict[str, Any]:
    assert "Traceback" not in response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    return error


@pytest.mark.parametrize("body", ['"a string"', "[1, 2]", "42", "null", "true", "{not json", ""])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
async def test_a_body_that_is_not_an_object_is_400(gateway: ServedGateway, path: str, body: str) -> None:
    async with gateway.http() as http:
        response = await http.post(path, content=body.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert envelope(response)["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0]"),
        ({"messages": [{"content": "hi"}]}, "messages[0]"),
        ({"messages": [{"role": "user"}]}, "messages[0]"),
        ({"messages": [{"role": "user", "content": [{"type": "hologram"}]}]}, "messages[0]"),
        ({"messages": "hi"}, "messages"),
        ({"max_tokens": -1}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 10**12}, "max_tokens"),
        ({"max_completion_tokens": 10**6}, "max_completion_tokens"),
        ({"max_tokens": "many"}, "max_tokens"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"n": 0}, "n"),
        ({"n": 17}, "n"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"seed": 2**70}, "seed"),
        ({"stream_options": {"include_usage": True}}, None),
        ({"model": ""}, "model"),
        ({"model": None}, "model"),
        ({"logit_bias": {"5": 500}}, "logit_bias"),
    ],
)
async def test_bad_chat_parameters_are_400(
    gateway: ServedGateway, change: dict[str, Any], param: str | None
) -> None:
    body = {**OK_CHAT, **change}
    async with gateway.http() as http:
        response = await http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    error = envelope(response)
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert (error["param"] or "").startswith(param), error


async def test_a_missing_model_field_is_400_naming_it(gateway: ServedGateway) -> None:
    async with gateway.http() as http:
        response = await http.post("/v1/chat/completions", json={"messages": OK_CHAT["messages"]})
    assert response.status_code == 400
    assert envelope(response)["param"] == "model"


async def test_unknown_fields_are_allowed_as_openai_does(gateway: ServedGateway) -> None:
    async with gateway.http() as http:
        response = await http.post(
            "/v1/chat/completions", json={**OK_CHAT, "some_future_parameter": {"x": 1}}
        )
    assert response.status_code == 200, response.text


async def test_an_oversize_body_is_413(gateway: ServedGateway) -> None:
    body = {**OK_CHAT, "messages": [{"role": "user", "content": "x" * (2 * 1024 * 1024)}]}
    async with gateway.http() as http:
        response = await http.post(
            "/v1/chat/completions",
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert envelope(response)["code"] == "request_too_large"


async def test_an_unknown_model_is_404(gateway: ServedGateway) -> None:
    async with gateway.http() as http:
        for path, body in [
            ("/v1/chat/completions", {**OK_CHAT, "model": "gpt-nothing"}),
            ("/v1/completions", {"model": "gpt-nothing", "prompt": "x"}),
        ]:
            response = await http.post(path, json=body)
            assert response.status_code == 404
            assert envelope(response)["code"] == "model_not_found"
        response = await http.get("/v1/models/gpt-nothing")
        assert response.status_code == 404 and envelope(response)["code"] == "model_not_found"


@pytest.mark.parametrize(
    "header", [None, "Bearer sa-000000000000_" + "x" * 43, "Bearer nope", "Basic dXNlcjpwYXNz"]
)
async def test_a_missing_or_invalid_key_is_401(gateway: ServedGateway, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as http:
        for response in [
            await http.post("/v1/chat/completions", json=OK_CHAT, headers=headers),
            await http.get("/v1/models", headers=headers),
        ]:
            assert response.status_code == 401
            assert envelope(response)["type"] == "authentication_error"


async def test_the_official_client_sees_typed_errors(gateway: ServedGateway) -> None:
    with pytest.raises(openai.AuthenticationError):
        await gateway.client(token="sa-000000000000_" + "x" * 43).models.list()
    with pytest.raises(openai.BadRequestError) as raised:
        await gateway.client().chat.completions.create(model=TINY, messages=[], max_tokens=2)
    assert raised.value.param == "messages"


async def test_a_key_without_models_use_is_403(gateway: ServedGateway) -> None:
    token = await asyncio.to_thread(gateway.key, "skills:read")
    async with gateway.http(token) as http:
        response = await http.post("/v1/chat/completions", json=OK_CHAT)
    assert response.status_code == 403
    assert "models:use" in envelope(response)["message"]
    scoped = await asyncio.to_thread(gateway.key, "models:use")
    async with gateway.http(scoped) as http:
        assert (await http.post("/v1/chat/completions", json=OK_CHAT)).status_code == 200
        assert (await http.get("/v1/skills")).status_code == 403


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": []},
        {"prompt": [[]]},
        {"prompt": [-1]},
        {"prompt": None},
        {"prompt": [99_999_999]},
        {"max_tokens": -5},
        {"best_of": 0},
        {"logprobs": 9},
    ],
)
async def test_bad_completion_parameters_are_400(gateway: ServedGateway, change: dict[str, Any]) -> None:
    async with gateway.http() as http:
        response = await http.post(
            "/v1/completions", json={"model": TINY, "prompt": "hi", "max_tokens": 2, **change}
        )
    assert response.status_code == 400, response.text
    envelope(response)
