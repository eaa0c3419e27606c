"""The app factory, its settings, its consumers and its health route, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from skill_adapter.gateway.app import create_app
from skill_adapter.gateway.controllers import HealthController
from skill_adapter.gateway.dependencies import DEPENDENCIES
from skill_adapter.gateway.keys import ApiKey, InvalidKeyRequest, normalize_scopes
from skill_adapter.gateway.readmodel import build_service
from skill_adapter.gateway.settings import GatewaySettings
from skill_adapter.gateway.state import GatewayState

pytestmark = pytest.mark.unit


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKILL_ADAPTER_PORT", "9123")
    monkeypatch.setenv("SKILL_ADAPTER_MAX_UPLOAD_BYTES", "1024")
    settings = GatewaySettings()
    assert (settings.host, settings.port, settings.max_upload_bytes) == ("127.0.0.1", 9123, 1024)
    assert GatewaySettings.model_fields["max_upload_bytes"].default == 50 * 1024 * 1024


def test_creating_the_app_connects_nothing() -> None:
    app = create_app(
        GatewaySettings(nats_url="nats://127.0.0.1:9", database_url="sqlite+aiosqlite:///:memory:")
    )
    assert isinstance(app, Litestar)
    assert app.state.gateway.started is False
    assert app.request_max_body_size is not None and app.request_max_body_size > 50 * 1024 * 1024


def test_the_read_model_consumers_and_migrations() -> None:
    service = build_service()
    assert service.name == "gateway"
    assert [c.durable for c in service.consumers()] == [
        "gateway_skills_parsed",
        "gateway_skills_rejected",
        "gateway_adapters_registered",
        "gateway_adapters_promoted",
        "gateway_adapters_retired",
        *[
            f"gateway_jobs_{stage}"
            for stage in (
                "dataset_progress",
                "dataset_generated",
                "dataset_failed",
                "training_started",
                "training_progress",
                "training_checkpoint",
                "training_paused",
                "training_succeeded",
                "training_failed",
                "training_cancelled",
                "evaluation_progress",
                "evaluation_completed",
                "evaluation_failed",
            )
        ],
        "gateway_exhausted",
    ]
    assert [(m.script_location, m.version_table) for m in service.migrations] == [
        ("skill_adapter.gateway:migrations", "skill_adapter_gateway_version")
    ]


async def test_health_is_503_before_the_runtime_runs() -> None:
    app = Litestar(
        route_handlers=[HealthController],
        dependencies={"gateway": DEPENDENCIES["gateway"]},
        state=State({"gateway": GatewayState(GatewaySettings())}),
        logging_config=None,
    )
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "nats": False, "database": False, "backends": []}


def test_scopes_are_known_deduplicated_and_admin_implies_all() -> None:
    assert normalize_scopes(["skills:write", "skills:read", "skills:read"]) == ("skills:read", "skills:write")
    with pytest.raises(InvalidKeyRequest):
        normalize_scopes(["root"])
    with pytest.raises(InvalidKeyRequest):
        normalize_scopes([])

    def key(*scopes: str) -> ApiKey:
        return ApiKey("key_x", "k", scopes, "abcd", datetime.now(UTC), None, None)  # type: ignore[arg-type]

    assert key("admin").allows("graders:run")
    assert key("skills:read").allows("skills:read")
    assert not key("skills:read").allows("skills:write")


def test_backends_are_a_json_list_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from skill_adapter.gateway.settings import LocalBackendConfig, OpenAIBackendConfig, ServedModel

    monkeypatch.setenv(
        "SKILL_ADAPTER_BACKENDS",
        '[{"kind": "local", "models": ["smollm2", {"id": "tiny", "source": "/models/tiny"}]},'
        ' {"kind": "vllm", "base_url": "http://gpu:8000/v1", "api_key": "secret", "lora_root": "/mnt/a"},'
        ' {"kind": "openai", "base_url": "https://teacher/v1", "models": ["teacher"]}]',
    )
    local, vllm, teacher = GatewaySettings().backends
    assert isinstance(local, LocalBackendConfig)
    assert local.served("default") == [
        ServedModel(id="smollm2"),
        ServedModel(id="tiny", source="/models/tiny"),
    ]
    assert isinstance(vllm, OpenAIBackendConfig) and vllm.is_vllm and vllm.api_key is not None
    assert "secret" not in repr(vllm)
    assert isinstance(teacher, OpenAIBackendConfig) and not teacher.is_vllm and teacher.models == ["teacher"]


def test_the_default_is_the_local_engine_with_the_default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from skill_adapter.gateway.settings import DEFAULT_MODEL, LocalBackendConfig

    monkeypatch.delenv("SKILL_ADAPTER_BACKENDS", raising=False)
    [backend] = GatewaySettings().backends
    assert isinstance(backend, LocalBackendConfig)
    assert [m.id for m in backend.served(GatewaySettings().default_model)] == [DEFAULT_MODEL]


def test_a_bad_backend_list_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        GatewaySettings(backends=[{"kind": "telepathy"}])
    with pytest.raises(ValidationError):
        GatewaySettings(backends=[{"kind": "openai"}])  # no base_url


def test_the_default_model_is_the_model_stores() -> None:
    from skill_adapter.gateway.settings import DEFAULT_MODEL
    from skill_adapter.modelstore import DEFAULT_MODEL as STORE_DEFAULT

    assert DEFAULT_MODEL == STORE_DEFAULT
