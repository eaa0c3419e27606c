"""A vLLM-shaped OpenAI server that answers at once: the upstream of the serve benchmark's proxy arm.

    python -m tests.benchmarks.instant_upstream PORT MODEL_ID

``GET /health``, ``GET /v1/models`` (one base model) and a fixed one-token chat completion for
every ``POST``: what a proxied request costs the gateway, with no generation time (and none of
its noise) in either arm. Its own process, so it shares no interpreter with the gateway or the
client that measures them.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import uvicorn


def app_for(model: str) -> Any:
    models = json.dumps(
        {
            "object": "list",
            "data": [
                {
                    "id": model,
                    "object": "model",
                    "created": 1,
                    "owned_by": "vllm",
                    "root": model,
                    "parent": None,
                    "max_model_len": 2048,
                }
            ],
        }
    ).encode()
    reply = json.dumps(
        {
            "id": "chatcmpl-instant",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Paris"},
                    "finish_reason": "length",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 1, "total_tokens": 21},
        }
    ).encode()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        path = scope["path"]
        body = b"" if path == "/health" else models if path.endswith("/models") else reply
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


if __name__ == "__main__":
    port, model = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(
        app_for(model), host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
