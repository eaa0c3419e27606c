"""OpenAI wire models of the inference plane: chat completions, completions, models.

Fields follow the order of OpenAI's API reference; ``object`` types are ``Literal``s. Requests
allow unknown fields (``extra="allow"``), as OpenAI and vLLM do, so a client sending a newer
parameter is not refused and an OpenAI-compatible upstream still receives it; what the gateway
itself uses is validated strictly (roles, ranges, lengths). The few vLLM extensions we honour
(``ignore_eos``, ``structured_outputs``, ``response_format`` on completions) come after the
official fields, except chat's ``structured_outputs``, which sits in alphabetical order among
them. Responses are tolerant readers too: a proxied upstream may add fields.

Limits that depend on the served model (``max_tokens`` against its context length) are checked
by the gateway, not here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializationInfo, model_serializer, model_validator

MAX_STOP_SEQUENCES = 4
MAX_STOP_CHARS = 1024
MAX_N = 16
SEED_MIN = -(2**63)
SEED_MAX = 2**64 - 1

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


class _WireRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class _WireResponse(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


# -- message content ------------------------------------------------------------------------


class TextContentPart(_WireRequest):
    text: str
    type: Literal["text"]


class ImageURL(_WireRequest):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageContentPart(_WireRequest):
    image_url: ImageURL
    type: Literal["image_url"]


class InputAudio(_WireRequest):
    data: str
    format: str


class AudioContentPart(_WireRequest):
    input_audio: InputAudio
    type: Literal["input_audio"]


class FileContentPart(_WireRequest):
    file: dict[str, Any]
    type: Literal["file"]


class RefusalContentPart(_WireRequest):
    refusal: str
    type: Literal["refusal"]


UserContentPart = Annotated[
    TextContentPart | ImageContentPart | AudioContentPart | FileContentPart, Field(discriminator="type")
]
AssistantContentPart = Annotated[TextContentPart | RefusalContentPart, Field(discriminator="type")]


# -- messages -------------------------------------------------------------------------------


class FunctionCall(_WireRequest):
    arguments: str
    name: str


class ToolCall(_WireRequest):
    id: str
    function: FunctionCall
    type: Literal["function"] = "function"


class SystemMessage(_WireRequest):
    content: str | list[TextContentPart]
    role: Literal["system"]
    name: str | None = None


class DeveloperMessage(_WireRequest):
    content: str | list[TextContentPart]
    role: Literal["developer"]
    name: str | None = None


class UserMessage(_WireRequest):
    content: str | list[UserContentPart]
    role: Literal["user"]
    name: str | None = None


class AssistantMessage(_WireRequest):
    role: Literal["assistant"]
    audio: dict[str, Any] | None = None
    content: str | list[AssistantContentPart] | None = None
    function_call: FunctionCall | None = None
    name: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None


class ToolMessage(_WireRequest):
    content: str | list[TextContentPart]
    role: Literal["tool"]
    tool_call_id: str


ChatMessage = Annotated[
    SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage,
    Field(discriminator="role"),
]
"""A message of the conversation; ``role`` picks the shape (an unknown role is a 400)."""


UNION_TAGS = frozenset(
    {
        "system",
        "developer",
        "user",
        "assistant",
        "tool",
        "text",
        "image_url",
        "input_audio",
        "file",
        "refusal",
    }
)
"""Discriminator values pydantic puts into error locations (``messages.0.user.content``)."""


def message_text(message: ChatMessage) -> str:
    """The text of a message: its string content, or its text parts joined."""
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextContentPart))


# -- shared request pieces ------------------------------------------------------------------


class StreamOptions(_WireRequest):
    include_usage: bool | None = Field(
        default=None,
        description="Send one more chunk before `data: [DONE]` with `choices: []` and the usage.",
    )


class JsonSchemaFormat(_WireRequest):
    """``response_format.json_schema``: the schema the reply must follow (OpenAI's shape)."""

    model_config = ConfigDict(frozen=True, extra="allow", serialize_by_alias=True, validate_by_name=True)

    name: str | None = Field(default=None, description="The schema's name (OpenAI requires one).")
    description: str | None = None
    json_schema: dict[str, Any] | None = Field(
        default=None, alias="schema", description="The JSON Schema of the reply."
    )
    strict: bool | None = Field(
        default=None, description="Accepted; the local engine always enforces the schema."
    )


class ResponseFormat(_WireRequest):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


STRUCTURED_OUTPUT_CONSTRAINTS = ("json", "regex", "choice", "grammar", "json_object", "structural_tag")


class StructuredOutputs(_WireRequest):
    """vLLM's ``structured_outputs`` (its ``StructuredOutputsParams``): exactly one constraint."""

    model_config = ConfigDict(frozen=True, extra="allow", serialize_by_alias=True, validate_by_name=True)

    json_: dict[str, Any] | str | None = Field(
        default=None, alias="json", description="A JSON Schema (an object, or its JSON text)."
    )
    regex: str | None = Field(default=None, description="The whole reply matches this regular expression.")
    choice: Annotated[list[str], Field(min_length=1)] | None = Field(
        default=None, description="The reply is one of these."
    )
    grammar: str | None = Field(default=None, description="A context-free grammar (GBNF/EBNF or Lark).")
    json_object: bool | None = Field(default=None, description="`true`: the reply is any JSON object.")
    disable_any_whitespace: bool = False
    disable_additional_properties: bool = False
    whitespace_pattern: str | None = None
    structural_tag: str | None = None

    @model_validator(mode="after")
    def _exactly_one_constraint(self) -> StructuredOutputs:
        given = [name for name in STRUCTURED_OUTPUT_CONSTRAINTS if self.constraint(name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one structured outputs constraint of "
                f"{', '.join(STRUCTURED_OUTPUT_CONSTRAINTS)}; got {len(given)}: {', '.join(given) or 'none'}"
            )
        if self.json_object is False:
            raise ValueError("json_object must be true when given")
        return self

    def constraint(self, name: str) -> Any:
        """The value of constraint ``name`` (``json`` is the ``json_`` field)."""
        return self.json_ if name == "json" else getattr(self, name)


StopSequence = Annotated[str, Field(min_length=1, max_length=MAX_STOP_CHARS)]
Stop = StopSequence | Annotated[list[StopSequence], Field(max_length=MAX_STOP_SEQUENCES)]
LogitBias = dict[str, Annotated[int, Field(ge=-100, le=100)]]
Temperature = Annotated[float, Field(ge=0, le=2)]
TopP = Annotated[float, Field(gt=0, le=1)]
Penalty = Annotated[float, Field(ge=-2, le=2)]
Seed = Annotated[int, Field(ge=SEED_MIN, le=SEED_MAX)]


class _SamplingRequest(_WireRequest):
    """What chat and text completions share; checks that need both fields at once."""

    @model_validator(mode="after")
    def _stream_options_need_stream(self) -> _SamplingRequest:
        if getattr(self, "stream_options", None) is not None and not getattr(self, "stream", False):
            raise ValueError("stream_options is only allowed when stream is true")
        return self

    def stop_sequences(self) -> list[str]:
        stop = getattr(self, "stop", None)
        if stop is None:
            return []
        return [stop] if isinstance(stop, str) else list(stop)

    def include_usage(self) -> bool:
        options: StreamOptions | None = getattr(self, "stream_options", None)
        return bool(options and options.include_usage)


# -- chat completions -----------------------------------------------------------------------


class ChatCompletionRequest(_SamplingRequest):
    """``POST /v1/chat/completions``."""

    messages: list[ChatMessage] = Field(min_length=1)
    model: str = Field(min_length=1, max_length=512)
    audio: dict[str, Any] | None = None
    frequency_penalty: Penalty | None = None
    function_call: str | dict[str, Any] | None = None
    functions: list[dict[str, Any]] | None = None
    logit_bias: LogitBias | None = None
    logprobs: bool | None = None
    max_completion_tokens: int | None = Field(
        default=None, ge=1, description="Most tokens to generate per choice (bounded by the context)."
    )
    max_tokens: int | None = Field(
        default=None, ge=1, description="Deprecated spelling of `max_completion_tokens`."
    )
    metadata: dict[str, str] | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    n: int | None = Field(default=1, ge=1, le=MAX_N, description="How many choices to generate.")
    parallel_tool_calls: bool | None = None
    prediction: dict[str, Any] | None = None
    presence_penalty: Penalty | None = None
    reasoning_effort: str | None = None
    response_format: ResponseFormat | None = None
    seed: Seed | None = None
    service_tier: str | None = None
    stop: Stop | None = None
    store: bool | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    structured_outputs: StructuredOutputs | None = Field(
        default=None, description="vLLM extension: constrain the reply (JSON Schema, regex, choice, grammar)."
    )
    temperature: Temperature | None = None
    tool_choice: str | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    top_p: TopP | None = None
    user: str | None = None
    # vLLM extensions
    ignore_eos: bool | None = Field(
        default=None, description="vLLM extension: keep generating past the end-of-sequence token."
    )

    def completion_limit(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens

    def limit_param(self) -> str:
        return "max_completion_tokens" if self.max_completion_tokens is not None else "max_tokens"


class Usage(_WireResponse):
    completion_tokens: int = Field(ge=0)
    prompt_tokens: int = Field(ge=0)
    total_tokens: int = Field(ge=0)


class ChatCompletionMessage(_WireResponse):
    content: str | None
    refusal: str | None = None
    role: Literal["assistant"] = "assistant"
    tool_calls: list[ToolCall] | None = None


class ChatCompletionChoice(_WireResponse):
    finish_reason: FinishReason
    index: int
    logprobs: dict[str, Any] | None = None
    message: ChatCompletionMessage


class ChatCompletion(_WireResponse):
    id: str
    choices: list[ChatCompletionChoice]
    created: int
    model: str
    object: Literal["chat.completion"] = "chat.completion"
    system_fingerprint: str | None = None
    usage: Usage | None = None


class ChoiceDelta(_WireResponse):
    """What a chunk adds to a choice; fields not set are left out of the chunk."""

    content: str | None = None
    refusal: str | None = None
    role: Literal["developer", "system", "user", "assistant", "tool"] | None = None
    tool_calls: list[dict[str, Any]] | None = None

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: Any, info: SerializationInfo) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}


class ChatCompletionChunkChoice(_WireResponse):
    delta: ChoiceDelta
    finish_reason: FinishReason | None = None
    index: int
    logprobs: dict[str, Any] | None = None


class ChatCompletionChunk(_WireResponse):
    """One server-sent event of a streamed chat completion."""

    id: str
    choices: list[ChatCompletionChunkChoice]
    created: int
    model: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    system_fingerprint: str | None = None
    usage: Usage | None = Field(
        default=None, description="Null except on the last chunk when `stream_options.include_usage`."
    )


# -- (legacy) completions -------------------------------------------------------------------

Prompt = (
    Annotated[str, Field(max_length=10_000_000)]
    | Annotated[list[str], Field(min_length=1)]
    | Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]
    | Annotated[list[Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]], Field(min_length=1)]
)


class CompletionRequest(_SamplingRequest):
    """``POST /v1/completions``: continue a raw prompt (no chat template)."""

    model: str = Field(min_length=1, max_length=512)
    prompt: Prompt = Field(description="A string, strings, token ids, or lists of token ids.")
    best_of: int | None = Field(default=None, ge=1, le=20)
    echo: bool | None = False
    frequency_penalty: Penalty | None = None
    logit_bias: LogitBias | None = None
    logprobs: int | None = Field(default=None, ge=0, le=5)
    max_tokens: int | None = Field(default=16, ge=1, description="Most tokens to generate per choice.")
    n: int | None = Field(default=1, ge=1, le=MAX_N)
    presence_penalty: Penalty | None = None
    seed: Seed | None = None
    stop: Stop | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    suffix: str | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    user: str | None = None
    # vLLM extensions
    ignore_eos: bool | None = Field(
        default=None, description="vLLM extension: keep generating past the end-of-sequence token."
    )
    response_format: ResponseFormat | None = Field(
        default=None, description="vLLM extension: `json_object` or `json_schema`, as in chat completions."
    )
    structured_outputs: StructuredOutputs | None = Field(
        default=None, description="vLLM extension: constrain the text (JSON Schema, regex, choice, grammar)."
    )

    def prompts(self) -> list[str] | list[list[int]]:
        """The prompt as a batch: strings, or token id lists."""
        prompt = self.prompt
        if isinstance(prompt, str):
            return [prompt]
        if all(isinstance(item, str) for item in prompt):
            return list(prompt)  # type: ignore[arg-type]
        if all(isinstance(item, int) for item in prompt):
            return [list(prompt)]  # type: ignore[arg-type]
        return [list(item) for item in prompt]  # type: ignore[arg-type, union-attr]


class CompletionChoice(_WireResponse):
    finish_reason: Literal["stop", "length", "content_filter"] | None
    index: int
    logprobs: dict[str, Any] | None = None
    text: str


class Completion(_WireResponse):
    id: str
    choices: list[CompletionChoice]
    created: int
    model: str
    object: Literal["text_completion"] = "text_completion"
    system_fingerprint: str | None = None
    usage: Usage | None = None


class CompletionChunk(Completion):
    """One server-sent event of a streamed completion (OpenAI names it ``text_completion`` too)."""


# -- models ---------------------------------------------------------------------------------


class Model(_WireResponse):
    id: str
    created: int
    object: Literal["model"] = "model"
    owned_by: str
    root: str | None = Field(default=None, description="Where the weights come from (as vLLM reports).")
    parent: str | None = Field(default=None, description="For an adapter: the id of its base model.")
    max_model_len: int | None = Field(default=None, description="Context length in tokens.")
    chat_template_sha256: str | None = Field(
        default=None, description="Extension: sha256 of the chat template this model is served with."
    )
    status: str | None = Field(
        default=None,
        description=(
            "Extension: for an adapter of the gateway's registry, `promoted` (served to every "
            "`models:use` key) or `candidate` (registered, not promoted yet: served only to "
            "`models:evaluate` keys). A plain string, so upstreams that send other values still parse."
        ),
    )


class ModelList(_WireResponse):
    object: Literal["list"] = "list"
    data: list[Model]


# -- tokenize (vLLM's extension) ------------------------------------------------------------------


class TokenizeRequest(_WireRequest):
    """``POST /tokenize``: count tokens as the model sees them (vLLM's shape).

    Either ``messages`` (rendered with the model's chat template) or a raw ``prompt``.
    """

    model: str = Field(min_length=1)
    messages: list[ChatMessage] | None = Field(default=None, min_length=1)
    prompt: str | None = None
    add_generation_prompt: bool = Field(
        default=True, description="With messages: end with the assistant's turn opening (as for generation)."
    )
    add_special_tokens: bool = Field(default=True, description="With a prompt: add the tokenizer's specials.")
    return_tokens: bool = Field(default=False, description="Extension: return the token ids too.")

    @model_validator(mode="after")
    def _one_input(self) -> TokenizeRequest:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("give exactly one of `messages` or `prompt`")
        return self


class TokenizeResponse(_WireResponse):
    count: int
    max_model_len: int | None = None
    tokens: list[int] = Field(default_factory=list)
