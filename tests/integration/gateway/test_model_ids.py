"""``GET /v1/models/{model}`` finds every id a backend serves: plain, with slashes, and a local
path served under itself (``{"id": "/models/tiny", "source": "/models/tiny"}``), which the data
generator and the evaluator ask for as ``/v1/models//models/tiny``."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.gateway.conftest import StartGateway, error_of
from tests.support.fake_http import ThreadedFakeServer

pytestmark = pytest.mark.integration

IDS = ("plain", "HuggingFaceTB/SmolLM2-135M-Instruct", "/models/tiny")


def upstream(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/models":
        cards = [{"id": i, "object": "model", "created": 1, "owned_by": "test"} for i in IDS]
        return httpx.Response(200, json={"object": "list", "data": cards})
    return httpx.Response(404, json={"error": {"message": "no", "type": "invalid_request_error"}})


async def test_a_model_is_found_by_its_id_whatever_its_slashes(start_gateway: StartGateway) -> None:
    with ThreadedFakeServer(upstream) as url:
        async with start_gateway(backends=[{"kind": "openai", "base_url": f"{url}/v1"}]) as gw:
            headers = await gw.auth("models:use")
            await gw.wait_for("/v1/models/plain", headers, "the upstream's models")
            for model in IDS:
                found = await gw.client.get(f"/v1/models/{model}", headers=headers)
                assert found.status_code == 200 and found.json()["id"] == model, found.text
            missing = await gw.client.get("/v1/models//models/other", headers=headers)
            assert missing.status_code == 404 and error_of(missing)["code"] == "model_not_found"
            assert "`models/other`" in error_of(missing)["message"]
