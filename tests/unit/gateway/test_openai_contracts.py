"""The OpenAI wire models: official field order, strict where we use a field, open to the rest."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from skill_adapter.contracts.openai import (
    ChatCompletionChunk,
    ChatCompletionChunkChoice,
    ChatCompletionRequest,
    ChoiceDelta,
    CompletionRequest,
    UserMessage,
    message_text,
)

pytestmark = pytest.mark.unit

BASE: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_fields_follow_the_official_order() -> None:
    fields = list(ChatCompletionRequest.model_fields)
    assert fields[:2] == ["messages", "model"]
    official = [f for f in fields if f not in ("messages", "model", "ignore_eos")]
    assert official == sorted(official)  # OpenAI's reference lists the rest alphabetically
    assert list(CompletionRequest.model_fields)[:2] == ["model", "prompt"]


def test_every_role_and_content_form_is_accepted() -> None:
    request = ChatCompletionRequest.model_validate(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "developer", "content": [{"type": "text", "text": "d"}]},
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "content": "r", "tool_call_id": "c"},
            ],
        }
    )
    assert [m.role for m in request.messages] == ["system", "developer", "user", "assistant", "tool"]
    assert isinstance(request.messages[2], UserMessage)
    assert message_text(request.messages[2]) == "ab"
    assert message_text(request.messages[3]) == ""


@pytest.mark.parametrize(
    "change",
    [
        {"messages": []},
        {"messages": [{"role": "function", "content": "x", "name": "f"}]},
        {"messages": [{"role": "user", "content": 5}]},
        {"temperature": 2.01},
        {"top_p": 0},
        {"n": 17},
        {"max_tokens": 0},
        {"max_completion_tokens": -3},
        {"stop": ["1", "2", "3", "4", "5"]},
        {"stop": [""]},
        {"logit_bias": {"1": 101}},
        {"seed": 2**64},
        {"stream_options": {"include_usage": True}},
        {"stream": True, "stream_options": {"include_usage": "often"}},
    ],
)
def test_what_we_use_is_validated(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ChatCompletionRequest.model_validate({**BASE, **change})


def test_unknown_fields_are_kept_for_upstreams() -> None:
    request = ChatCompletionRequest.model_validate({**BASE, "guided_json": {"type": "object"}})
    assert request.model_dump(exclude_unset=True)["guided_json"] == {"type": "object"}


def test_helpers() -> None:
    request = ChatCompletionRequest.model_validate(
        {**BASE, "stop": "END", "max_tokens": 5, "stream": True, "stream_options": {"include_usage": True}}
    )
    assert request.stop_sequences() == ["END"]
    assert (request.completion_limit(), request.limit_param()) == (5, "max_tokens")
    assert request.include_usage()
    newer = ChatCompletionRequest.model_validate({**BASE, "max_tokens": 5, "max_completion_tokens": 7})
    assert (newer.completion_limit(), newer.limit_param()) == (7, "max_completion_tokens")


@pytest.mark.parametrize(
    ("prompt", "batch"),
    [("a", ["a"]), (["a", "b"], ["a", "b"]), ([1, 2], [[1, 2]]), ([[1], [2, 3]], [[1], [2, 3]])],
)
def test_completion_prompts_form_a_batch(prompt: Any, batch: list[Any]) -> None:
    assert CompletionRequest(model="m", prompt=prompt).prompts() == batch


@pytest.mark.parametrize("prompt", [[], [[]], [-1], None, [1.5]])
def test_bad_completion_prompts(prompt: Any) -> None:
    with pytest.raises(ValidationError):
        CompletionRequest.model_validate({"model": "m", "prompt": prompt})


def test_a_chunk_leaves_unset_delta_fields_out_and_usage_null() -> None:
    chunk = ChatCompletionChunk(
        id="c",
        created=1,
        model="m",
        choices=[ChatCompletionChunkChoice(index=0, delta=ChoiceDelta(content="x"))],
    )
    dumped = chunk.model_dump(mode="json")
    assert dumped["choices"][0]["delta"] == {"content": "x"}
    assert dumped["usage"] is None and dumped["choices"][0]["finish_reason"] is None
    assert dumped["object"] == "chat.completion.chunk"
