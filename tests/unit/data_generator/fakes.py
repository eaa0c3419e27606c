"""A fake OpenAI-compatible server (an httpx transport) and example skills, for pipeline tests.

The fake answers the way a weak base model does: unconstrained, it chats ("Sure! ..."), so
nothing it says passes a strict rubric; constrained by a JSON Schema or a regex, it returns a
reply that matches, with words of its own. ``/tokenize`` counts whitespace-separated words
(plus the template's overhead), like a real tokenizer would count tokens, roughly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from skill_adapter.data_generator.inference import ChatClient
from skill_adapter.data_generator.pipeline import LoadedSkill
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip

EXAMPLES = Path(__file__).parents[3] / "services" / "cli" / "example_skills"
TEMPLATE_OVERHEAD = 12


def load_example(name: str, folder: Path | None = None) -> LoadedSkill:
    bundle = from_directory(folder or EXAMPLES / name)
    data = to_zip(bundle, name)
    analysis = analyze(data, f"{name}.zip")
    assert analysis.ok, analysis.reason()
    assert analysis.document and analysis.rubric and analysis.bundle
    return LoadedSkill(
        bundle=analysis.bundle,
        document=analysis.document,
        evals=analysis.evals,
        rubric=analysis.rubric,
        bundle_digest=hashlib.sha256(data).hexdigest(),
    )


def _json_reply(question: str, seed: int) -> str:
    level = ("low", "medium", "high")[seed % 3]
    return json.dumps({"answer": f"About: {question[:60]}", "confidence": level})


@dataclass
class FakeOpenAI:
    """``up=False`` answers 503 to everything; ``max_model_len`` is what /tokenize reports."""

    up: bool = True
    max_model_len: int = 2048
    comply_unconstrained: bool = False
    refuse_grammar: int | None = None
    """Answer a ``structured_outputs.grammar`` with this status (vLLM on xgrammar answers 500)."""
    cut_off: bool = False
    """Finish every reply with ``length``, as a server does that stopped at ``max_tokens``."""
    calls: list[dict[str, Any]] = field(default_factory=list)
    replies: list[list[str]] = field(default_factory=list)
    """The texts of each chat completion's choices, in call order."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            return httpx.Response(503, json={"error": {"message": "down", "type": "server_error"}})
        path = request.url.path
        if request.method == "GET" and path.startswith("/v1/models/"):
            return httpx.Response(
                200, json={"id": path.rsplit("/", 1)[-1], "chat_template_sha256": "ab" * 32}
            )
        body = json.loads(request.content)
        self.calls.append({"path": path, **body})
        if path == "/tokenize":
            words = sum(len(m["content"].split()) for m in body["messages"])
            return httpx.Response(
                200,
                json={"count": words + TEMPLATE_OVERHEAD, "max_model_len": self.max_model_len, "tokens": []},
            )
        if (
            path == "/v1/chat/completions"
            and self.refuse_grammar
            and "grammar" in (body.get("structured_outputs") or {})
        ):
            error = {
                "message": "grammar not supported",
                "type": "invalid_request_error",
                "code": "invalid_constraint",
            }
            return httpx.Response(400, json={"error": error})
        if path == "/v1/chat/completions":
            question = body["messages"][-1]["content"]
            seed = int(body.get("seed") or 0)
            texts = [self.reply(body, question, seed + i) for i in range(body.get("n", 1))]
            self.replies.append(texts)
            finish = "length" if self.cut_off else "stop"
            return httpx.Response(
                200,
                json={
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": 1,
                    "model": body["model"],
                    "choices": [
                        {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": finish}
                        for i, t in enumerate(texts)
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                },
            )
        return httpx.Response(
            404, json={"error": {"message": f"no route {path}", "type": "invalid_request_error"}}
        )

    def reply(self, body: dict[str, Any], question: str, seed: int) -> str:
        outputs = body.get("structured_outputs") or {}
        if "json" in outputs or "response_format" in body or self.comply_unconstrained:
            return _json_reply(question, seed)
        if "regex" in outputs or "grammar" in outputs:
            return "feat(core): add the requested change"
        return f"Sure! Here is my answer to {question!r}."


def client(fake: FakeOpenAI, name: str = "inference") -> ChatClient:
    return ChatClient(
        "http://fake/v1",
        "key",
        timeout=5,
        name=name,
        transport=httpx.MockTransport(fake),
        retry_delays=(0.0, 0.0),
    )
