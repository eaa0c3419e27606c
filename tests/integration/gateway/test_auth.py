"""API keys guard every route but health and the OpenAPI documents."""

from __future__ import annotations

import pytest

from tests.integration.gateway.conftest import Gateway, error_of

pytestmark = pytest.mark.integration


async def test_no_key_is_401_with_the_envelope(gateway: Gateway) -> None:
    response = await gateway.client.get("/v1/skills")
    assert response.status_code == 401
    error = error_of(response)
    assert error["type"] == "authentication_error"
    assert error["code"] == "invalid_api_key"
    assert error["param"] is None
    assert "Authorization: Bearer" in error["message"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer sa-000000000000_" + "x" * 43,
        "Bearer not-a-key",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ],
)
async def test_wrong_or_malformed_key_is_401(gateway: Gateway, header: str) -> None:
    response = await gateway.client.get("/v1/skills", headers={"Authorization": header})
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_api_key"


async def test_a_key_with_a_forged_secret_is_401(gateway: Gateway) -> None:
    real = await gateway.key("skills:read")
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    response = await gateway.client.get("/v1/skills", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert forged not in response.text  # the key is masked in the message


async def test_missing_scope_is_403(gateway: Gateway) -> None:
    headers = await gateway.auth("graders:run")
    response = await gateway.client.get("/v1/skills", headers=headers)
    assert response.status_code == 403
    error = error_of(response)
    assert error["type"] == "permission_error"
    assert "skills:read" in error["message"]


async def test_scoped_key_reaches_its_routes(gateway: Gateway) -> None:
    headers = await gateway.auth("skills:read")
    assert (await gateway.client.get("/v1/skills", headers=headers)).status_code == 200
    assert (await gateway.client.get("/v1/skill_rejections", headers=headers)).status_code == 200
    upload = await gateway.client.post(
        "/v1/skills", headers=headers, files={"file": ("demo-skill/SKILL.md", b"x", "text/markdown")}
    )
    assert upload.status_code == 403


async def test_admin_implies_every_scope(gateway: Gateway, admin: dict[str, str]) -> None:
    assert (await gateway.client.get("/v1/skills", headers=admin)).status_code == 200
    graded = await gateway.client.post(
        "/v1/graders/run",
        headers=admin,
        json={
            "rubric": None,
            "skill": "no-such-skill",
            "samples": [{"text": "{}"}],
        },
    )
    assert graded.status_code == 404  # authorized, then the skill is unknown


async def test_revoked_key_is_401(gateway: Gateway) -> None:
    issued = gateway.in_app(gateway.state.keys.create, "short-lived", ["skills:read"])
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert (await gateway.client.get("/v1/skills", headers=headers)).status_code == 200
    revoked = gateway.in_app(gateway.state.keys.revoke, issued.key.id)
    assert revoked is not None and revoked.revoked_at is not None
    response = await gateway.client.get("/v1/skills", headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_api_key"


async def test_last_use_is_recorded(gateway: Gateway) -> None:
    issued = gateway.in_app(gateway.state.keys.create, "tracked", ["skills:read"])
    [before] = [k for k in gateway.in_app(gateway.state.keys.list) if k.id == issued.key.id]
    assert before.last_used_at is None
    await gateway.client.get("/v1/skills", headers={"Authorization": f"Bearer {issued.token}"})
    [after] = [k for k in gateway.in_app(gateway.state.keys.list) if k.id == issued.key.id]
    assert after.last_used_at is not None
    assert after.last_used_at >= after.created_at


async def test_keys_are_stored_hashed(gateway: Gateway) -> None:
    from sqlalchemy import select

    from skill_adapter.gateway.models import ApiKeyRow

    issued = gateway.in_app(gateway.state.keys.create, "hashed", ["admin"])

    async def stored() -> ApiKeyRow | None:
        async with gateway.state.runtime.sessions() as session:
            return await session.scalar(select(ApiKeyRow).where(ApiKeyRow.id == issued.key.id))

    row = gateway.in_app(stored)
    assert row is not None
    secret = issued.token.split("_", 1)[1]
    assert secret not in (row.secret_hash + row.salt + row.hint + row.id)
    assert issued.token.startswith("sa-")


async def test_health_and_openapi_need_no_key(gateway: Gateway) -> None:
    assert (await gateway.client.get("/health")).status_code == 200
    assert (await gateway.client.get("/schema/openapi.json")).status_code == 200
