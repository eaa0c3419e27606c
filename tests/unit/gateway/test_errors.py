"""Every exception becomes OpenAI's error envelope with the right status, type and code."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, get
from litestar.exceptions import (
    ClientException,
    HTTPException,
    InternalServerException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath
from litestar.testing import AsyncTestClient

from skill_adapter.contracts import Diagnostic
from skill_adapter.gateway.errors import (
    InvalidSkill,
    ServiceUnavailable,
    SkillNotFound,
    UploadTooLarge,
    as_param,
    exception_handlers,
)

pytestmark = pytest.mark.unit

DIAGNOSTIC = Diagnostic(severity="error", code="name_invalid", message="bad name", file="SKILL.md", line=2)

RAISES: dict[str, Exception] = {
    "conflict": HTTPException(status_code=409, detail="That version is being replaced."),
    "unauthorized": NotAuthorizedException("no key"),
    "forbidden": PermissionDeniedException("no scope"),
    "missing": NotFoundException("no such thing"),
    "throttled": TooManyRequestsException("slow down"),
    "too-large": RequestEntityTooLarge(),
    "client": ClientException("Invalid multipart/form-data"),
    "internal": InternalServerException("secret detail"),
    "crash": RuntimeError("secret detail"),
    "invalid-skill": InvalidSkill("bad name (SKILL.md:2)", [DIAGNOSTIC]),
    "unknown-skill": SkillNotFound("demo"),
    "upload": UploadTooLarge(1000),
    "starting": ServiceUnavailable("The gateway is starting."),
    "validation": ValidationException(
        "Validation failed",
        extra=[{"message": "Input should be a valid string", "key": "samples.0.text", "source": "body"}],
    ),
}


@get("/raise/{what:str}", sync_to_thread=False)
def raiser(what: FromPath[str]) -> None:
    raise RAISES[what]


@pytest.fixture
async def client() -> Any:
    app = Litestar(route_handlers=[raiser], exception_handlers=exception_handlers(), logging_config=None)
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("what", "status", "error_type", "code", "param"),
    [
        ("conflict", 409, "invalid_request_error", "conflict", None),
        ("unauthorized", 401, "authentication_error", "invalid_api_key", None),
        ("forbidden", 403, "permission_error", "insufficient_scope", None),
        ("missing", 404, "invalid_request_error", "not_found", None),
        ("throttled", 429, "rate_limit_error", "rate_limit_exceeded", None),
        ("too-large", 413, "invalid_request_error", "request_too_large", None),
        ("client", 400, "invalid_request_error", "invalid_request", None),
        ("internal", 500, "server_error", "internal_error", None),
        ("crash", 500, "server_error", "internal_error", None),
        ("unknown-skill", 404, "invalid_request_error", "skill_not_found", "name"),
        ("upload", 413, "invalid_request_error", "file_too_large", "file"),
        ("starting", 503, "server_error", "service_unavailable", None),
        ("validation", 400, "invalid_request_error", "invalid_request", "samples[0].text"),
    ],
)
async def test_status_and_envelope(
    client: Any, what: str, status: int, error_type: str, code: str, param: str | None
) -> None:
    response = await client.get(f"/raise/{what}")
    assert response.status_code == status
    body = response.json()
    assert list(body) == ["error"]
    assert list(body["error"]) == ["message", "type", "param", "code"]
    assert (body["error"]["type"], body["error"]["code"], body["error"]["param"]) == (error_type, code, param)
    assert body["error"]["message"]


@pytest.mark.parametrize("what", ["internal", "crash"])
async def test_a_server_error_hides_its_detail(client: Any, what: str) -> None:
    response = await client.get(f"/raise/{what}")
    assert "secret detail" not in response.text
    assert "error id" in response.json()["error"]["message"]


async def test_an_invalid_skill_lists_its_diagnostics(client: Any) -> None:
    response = await client.get("/raise/invalid-skill")
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "message": "bad name (SKILL.md:2)",
            "type": "invalid_request_error",
            "param": "file",
            "code": "invalid_skill",
            "errors": [DIAGNOSTIC.model_dump(mode="json")],
        }
    }


async def test_validation_messages_name_their_field(client: Any) -> None:
    response = await client.get("/raise/validation")
    assert response.json()["error"]["message"] == "samples[0].text: Input should be a valid string"


@pytest.mark.parametrize(
    ("key", "param"),
    [
        ("limit", "limit"),
        ("samples.0.text", "samples[0].text"),
        ("rubric.criteria.12", "rubric.criteria[12]"),
    ],
)
def test_params_are_named_like_openai(key: str, param: str) -> None:
    assert as_param(key) == param


@pytest.mark.parametrize(
    ("key", "param"),
    [
        ("messages.0.user.content.str", "messages[0].content"),
        (
            "messages.0.user.content.list[tagged-union[TextContentPart,ImageContentPart]].0",
            "messages[0].content[0]",
        ),
        ("messages.0.user.content.list[tagged-union[A,B]].0.text.text", "messages[0].content[0].text"),
        ("stop.list[constrained-str].4", "stop[4]"),
        ("samples.0.text", "samples[0].text"),
        ("prompt.list[list[int]].0.0", "prompt[0][0]"),
    ],
)
def test_union_noise_is_removed_from_params(key: str, param: str) -> None:
    from skill_adapter.gateway.errors import as_param

    assert as_param(key) == param
