"""``GET /health`` reports NATS and the database; the OpenAPI document is complete and public."""

from __future__ import annotations

from pathlib import Path

import pytest

from skill_adapter.runtime.nats_server import EmbeddedNats
from tests.integration.gateway.conftest import Gateway, StartGateway
from tests.support.helpers import eventually

pytestmark = pytest.mark.integration

OPERATIONS = {
    ("/v1/models", "get"): "listModels",
    ("/v1/models/{model}", "get"): "retrieveModel",
    ("/v1/chat/completions", "post"): "createChatCompletion",
    ("/v1/completions", "post"): "createCompletion",
    ("/tokenize", "post"): "tokenize",
    ("/v1/skills", "post"): "createSkill",
    ("/v1/skills", "get"): "listSkills",
    ("/v1/skill_rejections", "get"): "listSkillRejections",
    ("/v1/skills/{name}", "get"): "retrieveSkill",
    ("/v1/skills/{name}/versions/{version}", "get"): "retrieveSkillVersion",
    ("/v1/graders/run", "post"): "runGrader",
    ("/v1/fine_tuning/jobs", "post"): "createFineTuningJob",
    ("/v1/fine_tuning/jobs", "get"): "listFineTuningJobs",
    ("/v1/fine_tuning/jobs/{fine_tuning_job_id}", "get"): "retrieveFineTuningJob",
    ("/v1/fine_tuning/jobs/{fine_tuning_job_id}/cancel", "post"): "cancelFineTuningJob",
    ("/v1/fine_tuning/jobs/{fine_tuning_job_id}/pause", "post"): "pauseFineTuningJob",
    ("/v1/fine_tuning/jobs/{fine_tuning_job_id}/resume", "post"): "resumeFineTuningJob",
    ("/v1/fine_tuning/jobs/{fine_tuning_job_id}/events", "get"): "listFineTuningEvents",
    ("/v1/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints", "get"): "listFineTuningJobCheckpoints",
    ("/health", "get"): "getHealth",
}


async def test_health_is_ok_without_a_key(gateway: Gateway) -> None:
    response = await gateway.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "nats": True, "database": True, "backends": []}


async def test_health_is_503_while_nats_is_down(start_gateway: StartGateway, tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "own-nats").start()
    try:
        async with start_gateway(nats_url=server.url, health_timeout=0.5) as gw:
            assert (await gw.client.get("/health")).status_code == 200
            port, monitor = server.port, server.monitor_port
            server.stop()
            down = await gw.client.get("/health")
            assert down.status_code == 503
            assert down.json() == {"status": "degraded", "nats": False, "database": True, "backends": []}
            server = EmbeddedNats(tmp_path / "own-nats", port=port, monitor_port=monitor).start()

            async def healthy() -> bool:
                return (await gw.client.get("/health")).status_code == 200

            await eventually(healthy, timeout=30, what="health to recover after NATS came back")
    finally:
        server.stop()


async def test_openapi_lists_every_route_with_an_operation_id(gateway: Gateway) -> None:
    response = await gateway.client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    found = {
        (path, method): operation.get("operationId")
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert found == OPERATIONS
    assert document["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    for (path, method), _ in OPERATIONS.items():
        operation = document["paths"][path][method]
        for status, spec in operation["responses"].items():
            if int(status) >= 400 and path != "/health":
                assert spec["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorResponse"
                }, (path, method, status)
    assert "status_code" not in str(document["components"]["schemas"])
