"""The official ``openai`` client against a gateway serving a tiny model with the local engine."""

from __future__ import annotations

import openai
import pytest

from tests.integration.inference.conftest import SLOW, TINY, ServedGateway

pytestmark = pytest.mark.integration

HELLO = [{"role": "user", "content": "Say hello."}]


async def test_models_lists_the_served_base_models(client: openai.AsyncOpenAI) -> None:
    listed = await client.models.list()
    by_id = {model.id: model for model in listed.data}
    assert {TINY, SLOW} <= set(by_id)
    tiny = by_id[TINY]
    assert tiny.object == "model" and tiny.owned_by == "skill-adapter" and tiny.created > 0
    assert tiny.model_extra is not None
    assert tiny.model_extra["parent"] is None and tiny.model_extra["max_model_len"] == 2048

    retrieved = await client.models.retrieve(TINY)
    assert retrieved.id == TINY


async def test_an_unknown_model_is_404_model_not_found(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        await client.chat.completions.create(model="no-such-model", messages=HELLO)  # type: ignore[arg-type]
    error = raised.value.body
    assert isinstance(error, dict)
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "model_not_found",
        "model",
    )
    assert "`no-such-model` does not exist" in error["message"]
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("no-such-model")


async def test_chat_completion(client: openai.AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(model=TINY, messages=HELLO, max_tokens=12, temperature=0)  # type: ignore[arg-type]
    assert reply.object == "chat.completion" and reply.model == TINY and reply.id.startswith("chatcmpl-")
    [choice] = reply.choices
    assert choice.index == 0 and choice.message.role == "assistant"
    assert choice.finish_reason in ("length", "stop")
    assert isinstance(choice.message.content, str)
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 0
    assert reply.usage.completion_tokens == (
        12 if choice.finish_reason == "length" else reply.usage.completion_tokens
    )
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


async def test_streamed_chunks_concatenate_to_the_whole_reply(client: openai.AsyncOpenAI) -> None:
    params = {"model": TINY, "messages": HELLO, "max_completion_tokens": 40, "temperature": 0.0}
    whole = await client.chat.completions.create(**params)  # type: ignore[call-overload]
    stream = await client.chat.completions.create(
        **params, stream=True, stream_options={"include_usage": True}
    )  # type: ignore[call-overload]
    chunks = [chunk async for chunk in stream]

    assert all(chunk.id == chunks[0].id and chunk.object == "chat.completion.chunk" for chunk in chunks)
    *content_chunks, usage_chunk = chunks
    assert content_chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in content_chunks)
    assert text == whole.choices[0].message.content
    assert all(chunk.usage is None for chunk in content_chunks)
    finishes = [chunk.choices[0].finish_reason for chunk in content_chunks if chunk.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]
    assert usage_chunk.choices == []
    assert usage_chunk.usage == whole.usage


async def test_a_stream_without_include_usage_has_no_usage_chunk(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(model=TINY, messages=HELLO, max_tokens=5, stream=True)  # type: ignore[call-overload]
    chunks = [chunk async for chunk in stream]
    assert all(chunk.choices and chunk.usage is None for chunk in chunks)


async def test_n_choices(client: openai.AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(  # type: ignore[call-overload]
        model=TINY, messages=HELLO, max_tokens=8, n=2, seed=5, extra_body={"ignore_eos": True}
    )
    assert [choice.index for choice in reply.choices] == [0, 1]
    assert [choice.finish_reason for choice in reply.choices] == ["length", "length"]
    assert reply.usage is not None and reply.usage.completion_tokens == 16

    stream = await client.chat.completions.create(  # type: ignore[call-overload]
        model=TINY, messages=HELLO, max_tokens=8, n=2, seed=5, extra_body={"ignore_eos": True}, stream=True
    )
    texts: dict[int, str] = {0: "", 1: ""}
    async for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts == {c.index: c.message.content for c in reply.choices}


async def test_a_seed_reproduces_a_sampled_reply(client: openai.AsyncOpenAI) -> None:
    async def sample(seed: int) -> str:
        reply = await client.chat.completions.create(  # type: ignore[call-overload]
            model=TINY,
            messages=HELLO,
            max_tokens=30,
            temperature=1.0,
            seed=seed,
            extra_body={"ignore_eos": True},
        )
        return reply.choices[0].message.content or ""

    first, again, other = await sample(7), await sample(7), await sample(8)
    assert first == again
    assert first != other


async def test_stop_sequences_end_the_reply_before_them(client: openai.AsyncOpenAI) -> None:
    params = {
        "model": TINY,
        "messages": HELLO,
        "max_tokens": 60,
        "temperature": 1.0,
        "seed": 11,
        "extra_body": {"ignore_eos": True},
    }
    free = (await client.chat.completions.create(**params)).choices[0].message.content or ""  # type: ignore[call-overload]
    stop = free[10:13]
    assert len(stop) == 3
    stopped = await client.chat.completions.create(**params, stop=[stop, "never-there"])  # type: ignore[call-overload]
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.choices[0].message.content == free[: free.index(stop)]

    stream = await client.chat.completions.create(**params, stop=stop, stream=True)  # type: ignore[call-overload]
    streamed = "".join([chunk.choices[0].delta.content or "" async for chunk in stream])
    assert streamed == free[: free.index(stop)]


async def test_text_completions(client: openai.AsyncOpenAI) -> None:
    done = await client.completions.create(
        model=TINY, prompt="Once upon a time", max_tokens=10, temperature=0
    )
    assert done.object == "text_completion" and done.id.startswith("cmpl-")
    [choice] = done.choices
    assert done.usage is not None and done.usage.completion_tokens <= 10

    stream = await client.completions.create(
        model=TINY,
        prompt="Once upon a time",
        max_tokens=10,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.text for chunk in chunks for c in chunk.choices) == choice.text
    assert chunks[-1].choices == [] and chunks[-1].usage == done.usage

    echoed = await client.completions.create(
        model=TINY, prompt="Once upon a time", max_tokens=10, temperature=0, echo=True
    )
    assert echoed.choices[0].text == "Once upon a time" + choice.text


async def test_text_completions_of_several_prompts_and_token_ids(client: openai.AsyncOpenAI) -> None:
    done = await client.completions.create(model=TINY, prompt=["ab", "cd"], max_tokens=4, n=2, temperature=0)
    assert [c.index for c in done.choices] == [0, 1, 2, 3]
    assert done.usage is not None and done.usage.prompt_tokens == 4
    by_ids = await client.completions.create(
        model=TINY, prompt=[[40, 41, 42], [43]], max_tokens=4, temperature=0
    )
    assert len(by_ids.choices) == 2
    assert by_ids.usage is not None and by_ids.usage.prompt_tokens == 4


async def test_unsupported_parameters_are_refused_not_ignored(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await client.chat.completions.create(model=TINY, messages=HELLO, logprobs=True)  # type: ignore[arg-type]
    assert raised.value.code == "unsupported_parameter"
    assert raised.value.param == "logprobs"


async def test_a_prompt_longer_than_the_context_is_400(
    client: openai.AsyncOpenAI, gateway: ServedGateway
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await client.chat.completions.create(
            model=TINY, messages=[{"role": "user", "content": "x" * 2100}], max_tokens=10
        )
    assert raised.value.code == "context_length_exceeded"
    assert "maximum context length is 2048 tokens" in raised.value.message
