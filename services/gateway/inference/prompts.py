"""From an OpenAI request to what the local engine runs: prompt token ids, a token budget,
sampling parameters; and the parameters it refuses rather than silently ignores (output
constraints, ``response_format`` and ``structured_outputs``, are read by ``constraints``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skill_adapter.contracts.openai import (
    AssistantMessage,
    ChatCompletionRequest,
    ChatMessage,
    CompletionRequest,
    TextContentPart,
    ToolMessage,
    UserMessage,
    message_text,
)

from ..errors import BadRequest, ContextLengthExceeded, UnsupportedParameter
from .engine import SamplingParams


def _template_message(message: ChatMessage, index: int) -> dict[str, Any]:
    if isinstance(message, UserMessage) and not isinstance(message.content, str):
        for part_index, part in enumerate(message.content):
            if not isinstance(part, TextContentPart):
                raise UnsupportedParameter(
                    f"messages[{index}].content[{part_index}]",
                    f"is not supported with this model: it accepts text only, not {part.type}.",
                )
    role = "system" if message.role == "developer" else message.role
    out: dict[str, Any] = {"role": role, "content": message_text(message)}
    if getattr(message, "name", None):
        out["name"] = message.name  # type: ignore[union-attr]
    if isinstance(message, AssistantMessage) and message.tool_calls:
        out["tool_calls"] = [call.model_dump() for call in message.tool_calls]
    if isinstance(message, ToolMessage):
        out["tool_call_id"] = message.tool_call_id
    return out


def chat_prompt_ids(
    tokenizer: Any, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True
) -> list[int]:
    """The conversation through the model's chat template, ready for the assistant's turn
    (or, without ``add_generation_prompt``, as a finished conversation: a training sample)."""
    conversation = [_template_message(message, index) for index, message in enumerate(messages)]
    if not getattr(tokenizer, "chat_template", None):
        raise BadRequest("This model has no chat template; use /v1/completions.", param="model")
    try:
        text = tokenizer.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=add_generation_prompt
        )
    except Exception as exc:
        raise BadRequest(
            f"The model's chat template cannot render these messages: {exc}", param="messages"
        ) from exc
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def completion_prompt_ids(tokenizer: Any, prompt: str | list[int], vocab_size: int) -> list[int]:
    if isinstance(prompt, str):
        ids = list(tokenizer(prompt)["input_ids"])
    else:
        ids = list(prompt)
        if any(token >= vocab_size for token in ids):
            raise BadRequest(f"Token ids must be below the vocabulary size {vocab_size}.", param="prompt")
    if not ids:
        raise BadRequest("The prompt is empty.", param="prompt")
    return ids


def refuse_unsupported(request: ChatCompletionRequest | CompletionRequest) -> None:
    """Parameters the local engine cannot honour are refused, never silently ignored."""
    if isinstance(request, ChatCompletionRequest):
        if request.logprobs or request.top_logprobs:
            raise UnsupportedParameter("logprobs", "is not supported by the local engine.")
        if request.tools or request.functions or request.function_call not in (None, "none", "auto"):
            raise UnsupportedParameter("tools", "(tool calling) is not supported by the local engine.")
        if (request.modalities and "audio" in request.modalities) or request.audio is not None:
            raise UnsupportedParameter("audio", "is not supported by the local engine.")
        if request.prediction is not None:
            raise UnsupportedParameter("prediction", "is not supported by the local engine.")
    else:
        if request.logprobs is not None:
            raise UnsupportedParameter("logprobs", "is not supported by the local engine.")
        if request.best_of is not None and request.best_of != (request.n or 1):
            raise UnsupportedParameter("best_of", "other than n is not supported by the local engine.")
        if request.suffix:
            raise UnsupportedParameter("suffix", "is not supported by the local engine.")


def sampling_params(
    request: ChatCompletionRequest | CompletionRequest, max_tokens: int, vocab_size: int
) -> SamplingParams:
    bias: dict[int, float] = {}
    for token, value in (request.logit_bias or {}).items():
        if not token.isdigit() or int(token) >= vocab_size:
            raise BadRequest(f"Invalid key in 'logit_bias': {token!r} is not a token id.", param="logit_bias")
        bias[int(token)] = float(value)
    return SamplingParams(
        max_tokens=max_tokens,
        n=request.n or 1,
        temperature=1.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
        seed=request.seed,
        stop=tuple(request.stop_sequences()),
        frequency_penalty=request.frequency_penalty or 0.0,
        presence_penalty=request.presence_penalty or 0.0,
        logit_bias=bias,
        ignore_eos=bool(request.ignore_eos),
    )


def completion_budget(
    limit: int, prompt_tokens: int, requested: int | None, param: str, prompt_param: str
) -> int:
    """How many tokens each choice may generate within the context ``limit``; 400 when the
    request cannot fit."""
    if requested is not None and requested > limit:
        raise BadRequest(
            f"{param} is too large: {requested}. This model supports at most {limit} completion tokens.",
            param=param,
            code="invalid_value",
        )
    budget = requested if requested is not None else limit - prompt_tokens
    if budget < 1 or prompt_tokens + budget > limit:
        raise ContextLengthExceeded(limit, prompt_tokens, max(budget, 1), param=prompt_param)
    return budget
