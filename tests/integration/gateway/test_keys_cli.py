"""``skill-adapter keys``: create prints a working key once, list shows it, revoke stops it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from skill_adapter.cli.keys import keys_app
from tests.integration.gateway.conftest import StartGateway, error_of

pytestmark = pytest.mark.integration


async def keys(database_url: str, state_dir: Path, *args: str) -> Result:
    env = {"SKILL_ADAPTER_DATABASE_URL": database_url, "SKILL_ADAPTER_STATE_DIR": str(state_dir)}
    return await asyncio.to_thread(CliRunner().invoke, keys_app, list(args), env=env)


async def test_create_list_and_revoke_a_key(start_gateway: StartGateway, tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    created = await keys(database_url, tmp_path, "create", "--name", "ci", "--scope", "skills:read")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("sa-") and "\n" not in token
    assert "cannot be shown again" in created.stderr

    listed = await keys(database_url, tmp_path, "list", "--json")
    assert listed.exit_code == 0, listed.output
    [entry] = json.loads(listed.stdout)
    assert entry["name"] == "ci" and entry["scopes"] == ["skills:read"]
    assert entry["revoked_at"] is None and entry["last_used_at"] is None
    assert token[-4:] == entry["hint"] and token not in listed.stdout

    table = await keys(database_url, tmp_path, "list")
    assert entry["id"] in table.stdout and "active" in table.stdout

    async with start_gateway(database_url=database_url) as gw:
        headers = {"Authorization": f"Bearer {token}"}
        assert (await gw.client.get("/v1/skills", headers=headers)).status_code == 200
        assert (await gw.client.post("/v1/graders/run", headers=headers, json={})).status_code == 403

        revoked = await keys(database_url, tmp_path, "revoke", entry["id"])
        assert revoked.exit_code == 0, revoked.output
        assert entry["id"] in revoked.stdout
        refused = await gw.client.get("/v1/skills", headers=headers)
        assert refused.status_code == 401
        assert error_of(refused)["code"] == "invalid_api_key"

    [after] = json.loads((await keys(database_url, tmp_path, "list", "--json")).stdout)
    assert after["revoked_at"] is not None and after["last_used_at"] is not None


async def test_bad_requests_are_refused(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    unknown_scope = await keys(database_url, tmp_path, "create", "--name", "x", "--scope", "root")
    assert unknown_scope.exit_code == 2
    assert "unknown scope root" in unknown_scope.stderr
    no_scope = await keys(database_url, tmp_path, "create", "--name", "x")
    assert no_scope.exit_code != 0
    unknown_key = await keys(database_url, tmp_path, "revoke", "key_000000000000")
    assert unknown_key.exit_code == 1
    assert "no API key" in unknown_key.stderr
    assert json.loads((await keys(database_url, tmp_path, "list", "--json")).stdout) == []


def test_up_mints_one_internal_key_that_may_evaluate_candidates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skill_adapter.cli.registry import ServiceEntry
    from skill_adapter.cli.stack import INTERNAL_KEY_NAME, internal_key_env
    from skill_adapter.gateway.keys import list_keys
    from skill_adapter.runtime import RuntimeSettings

    monkeypatch.delenv("SKILL_ADAPTER_INFERENCE_API_KEY", raising=False)
    settings = RuntimeSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'up.db'}", state_dir=tmp_path)
    services = [
        ServiceEntry("gateway", "skill_adapter.gateway"),
        ServiceEntry("data-generator", "skill_adapter.data_generator"),
        ServiceEntry("evaluator", "skill_adapter.evaluator"),
    ]
    first = internal_key_env(settings, services)["SKILL_ADAPTER_INFERENCE_API_KEY"]
    second = internal_key_env(settings, services)["SKILL_ADAPTER_INFERENCE_API_KEY"]
    assert first != second
    internal = [key for key in list_keys(settings) if key.name == INTERNAL_KEY_NAME]
    assert [key.active for key in internal] == [False, True]  # the previous run's key is revoked
    assert internal[1].hint == second[-4:]
    assert internal[1].allows("models:evaluate") and internal[1].allows("models:use")
    assert not internal[1].allows("skills:write")
