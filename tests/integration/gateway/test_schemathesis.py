"""Schemathesis over the gateway's own OpenAPI document: no 5xx, every 4xx in the OpenAI envelope.

A real gateway (uvicorn on a free port, in a thread, as in tests/integration/inference) with a
tiny random local model, so the chat and text completion routes generate for real. The schema
is loaded from the running app (``/schema/openapi.json``) and every operation is fuzzed with a
fixed, derandomized example budget, positive and negative cases alike (schemathesis' default
generation modes), always with an admin key.
"""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from skill_adapter.gateway.app import create_app
from skill_adapter.gateway.keys import create_key
from skill_adapter.gateway.settings import GatewaySettings
from skill_adapter.runtime.nats_server import EmbeddedNats, free_port

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency")
requests = pytest.importorskip("requests", reason="schemathesis sends its requests with requests")
pytest.importorskip("torch", reason="the local engine needs torch (the local extra)")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL = "tiny"
EXAMPLES = 50  # per operation and generation mode; fixed and derandomized: the same cases every run


class ServedGateway:
    """A gateway serving HTTP in its own thread and event loop, with an admin key."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.base_url = f"http://127.0.0.1:{settings.port}"
        self.token = create_key(settings, "schemathesis", ["admin"]).token
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=settings.port, log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def start(self, timeout: float = 120) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.thread.is_alive(), "the gateway stopped during start-up"
            try:
                listed = httpx.get(f"{self.base_url}/v1/models", headers=self.headers, timeout=5)
                if listed.status_code == 200 and MODEL in {m["id"] for m in listed.json()["data"]}:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the gateway did not serve {MODEL} within {timeout}s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the gateway did not stop"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, nats_server: EmbeddedNats) -> Iterator[ServedGateway]:
    from skill_adapter.modelstore import tiny_random_model

    root = tmp_path_factory.mktemp("schemathesis")
    model = tiny_random_model(root / "models" / MODEL).path
    gateway_settings = GatewaySettings(
        nats_url=nats_server.url,
        database_url=f"sqlite+aiosqlite:///{root / 'gateway.db'}",
        state_dir=root,
        embedded_nats=False,
        key_touch_interval=0,
        graceful_timeout=5,
        port=free_port(),
        backends=[{"kind": "local", "models": [{"id": MODEL, "source": str(model)}]}],
        max_request_bytes=1024 * 1024,
        max_upload_bytes=1024 * 1024,
        max_concurrent_generations=2,
        context_length=256,  # bounds each fuzzed generation (max_tokens beyond it is a 400)
    )
    gateway = ServedGateway(gateway_settings)
    gateway.start()
    yield gateway
    gateway.stop()


def check_response(response: Any) -> None:
    """No 5xx; a 4xx carries exactly the OpenAI error envelope."""
    request = f"{response.request.method} {response.request.url}"
    assert response.status_code < 500, f"{request} -> {response.status_code}: {response.text[:500]}"
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"error"}, f"{request}: {body}"
        error = body["error"]
        assert isinstance(error, dict), f"{request}: {body}"
        assert {"message", "type", "param", "code"} <= set(error), f"{request}: {body}"
        assert isinstance(error["message"], str) and error["message"], f"{request}: {body}"


SKILL_MD = (Path(__file__).parents[3] / "services/cli/example_skills/json-reply/SKILL.md").read_bytes()
HELLO = [{"role": "user", "content": "Hello"}]
VALID: dict[str, list[dict[str, Any]]] = {
    "POST /v1/chat/completions": [
        {"body": {"model": MODEL, "messages": HELLO, "max_tokens": 4, "seed": 1}},
        {
            "body": {
                "model": MODEL,
                "messages": HELLO,
                "max_tokens": 4,
                "n": 2,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
        },
    ],
    "POST /v1/completions": [
        {"body": {"model": MODEL, "prompt": "Hello", "max_tokens": 4}},
        {"body": {"model": MODEL, "prompt": ["Hello", "Bye"], "max_tokens": 4, "stream": True}},
    ],
    "GET /v1/models/{model}": [{"path_parameters": {"model": MODEL}}],
    "POST /v1/skills": [{"body": {"file": SKILL_MD}, "query": {"validate_only": "true"}}],
}


def use_served_model(case: Any) -> None:
    if isinstance(case.body, dict) and "model" in case.body:
        case.body["model"] = MODEL
    if case.path_parameters and "model" in case.path_parameters:
        case.path_parameters["model"] = MODEL


def fuzz(operation: Any, mode: Any, served: ServedGateway, session: Any) -> str | None:
    """Run the operation's fixed example budget; the first failure (shrunk), or None."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # a fixed seed from the test's name: the same cases on every run
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), served_model=st.booleans(), valid=st.just(False))
    def run(case: Any, served_model: bool, valid: bool) -> None:
        # About half the cases name the served model, so the inference routes generate for real
        # (a negative case may become valid this way: it must still answer without a 5xx).
        if served_model:
            use_served_model(case)
        response = case.call(base_url=served.base_url, session=session, headers=served.headers, timeout=60)
        try:
            check_response(response)
        except AssertionError as exc:  # the request too (without the admin key), to replay it
            raise AssertionError(f"{exc}\nreproduce with: {case.as_curl_command()}") from None
        if valid:
            assert 200 <= response.status_code < 300, (
                f"{operation.label}: {response.status_code} {response.text}"
            )

    # Known-good requests run first (hypothesis' explicit phase): the happy paths, every time.
    if mode is schemathesis.GenerationMode.POSITIVE:
        for known in VALID.get(operation.label, []):
            run = example(case=operation.Case(**known), served_model=False, valid=True)(run)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing to negate (e.g. no parameters and no body): no negative cases exist
    except Exception as exc:  # every operation is fuzzed; its first failure is reported with the others
        return f"{operation.label} ({mode.value}): " + "".join(traceback.format_exception_only(exc))
    return None


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_server_errors_and_openai_error_envelopes(served: ServedGateway, mode: str) -> None:
    api = schemathesis.openapi.from_url(f"{served.base_url}/schema/openapi.json", timeout=10)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 11, [operation.label for operation in operations]
    failures: list[str] = []
    with requests.Session() as session:
        for operation in operations:
            failure = fuzz(operation, schemathesis.GenerationMode(mode), served, session)
            if failure:
                failures.append(failure)
    assert not failures, "\n\n".join(failures)
