"""Every error the gateway answers is OpenAI's envelope, never Litestar's default body."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.integration.gateway.conftest import Gateway, StartGateway, error_of

pytestmark = pytest.mark.integration


async def test_unknown_route_is_404(gateway: Gateway, admin: dict[str, str]) -> None:
    response = await gateway.client.get("/v1/nothing-here", headers=admin)
    assert response.status_code == 404
    error = error_of(response)
    assert error == {
        "message": "Invalid URL (GET /v1/nothing-here).",
        "type": "invalid_request_error",
        "param": None,
        "code": "not_found",
    }


async def test_wrong_method_is_405_with_allow(gateway: Gateway, admin: dict[str, str]) -> None:
    response = await gateway.client.delete("/v1/skills", headers=admin)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert "GET" in response.headers["allow"] and "POST" in response.headers["allow"]


async def test_malformed_json_is_400_invalid_json(gateway: Gateway, admin: dict[str, str]) -> None:
    response = await gateway.client.post(
        "/v1/graders/run", content=b"{not json", headers={**admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    error = error_of(response)
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_json")
    assert "parse the JSON body" in error["message"]


async def test_a_body_over_the_request_limit_is_413(start_gateway: StartGateway) -> None:
    async with start_gateway(max_upload_bytes=1000, max_request_bytes=1000) as gw:
        limit = gw.app.request_max_body_size
        assert limit is not None
        body = {"skill": "a", "samples": [{"text": "x" * 50_000}, {"text": "y" * 50_000}]}
        response = await gw.client.post("/v1/graders/run", json=body, headers=await gw.auth("admin"))
    assert response.status_code == 413
    error = error_of(response)
    assert (error["type"], error["code"]) == ("invalid_request_error", "request_too_large")


async def test_an_unexpected_failure_is_a_generic_500(
    gateway: Gateway, admin: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    async def break_the_read_model() -> None:
        async with gateway.state.runtime.engine.begin() as connection:
            await connection.execute(text("DROP TABLE skill_versions"))

    gateway.in_app(break_the_read_model)
    response = await gateway.client.get("/v1/skills", headers=admin)
    assert response.status_code == 500
    error = error_of(response)
    assert (error["type"], error["code"], error["param"]) == ("server_error", "internal_error", None)
    assert error["message"].startswith("The server had an error while processing your request (error id ")
    assert "skill_versions" not in response.text and "Traceback" not in response.text
    error_id = error["message"].rsplit(" ", 1)[-1].rstrip(").")
    [logged] = [
        r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg["event"] == "unhandled error"
    ]
    assert logged["level"] == "error"
    assert logged["error_id"] == error_id
    assert "no such table" in str(logged["exc_info"])  # the traceback goes to the log, not the client
