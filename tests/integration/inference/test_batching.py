"""Continuous batching on a real (tiny, random) Llama: rows in a batch get what they get alone.

Most tests drive the model's engine directly, with a decoder whose text is the token ids, so
replies compare as token ids; the last ones go through a gateway over HTTP.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from skill_adapter.gateway.inference.backend import AdapterSpec, Cancellation
from skill_adapter.gateway.inference.constraints import Constraint
from skill_adapter.gateway.inference.engine import Delta, EngineStats, SamplingParams
from skill_adapter.gateway.inference.grammar import GrammarCompiler
from skill_adapter.gateway.inference.local_model import LoadedAdapter, LoadedModel, attach_adapter
from skill_adapter.gateway.inference.scheduler import ModelEngine, Request
from skill_adapter.gateway.settings import ServedModel
from tests.integration.inference.conftest import SLOW, TINY, ServedGateway, make_adapter

pytestmark = pytest.mark.integration

EOS = 2


class IdsDecoder:
    """Text is the token ids (``"5,17,"``), so replies compare as token ids."""

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(f"{token}," for token in ids)


def ids_of(text: str) -> list[int]:
    return [int(token) for token in text.split(",") if token]


@pytest.fixture(scope="module")
def adapters(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("batching-adapters")
    return [make_adapter(tiny_model_path, root / f"a{seed}", seed=seed) for seed in (11, 12)]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_path, local_files_only=True)


@pytest.fixture(scope="module")
def loaded(tiny_model_path: Path, adapters: list[Path], tokenizer: Any) -> LoadedModel:
    """The tiny model's architecture with weights whose replies vary from token to token, and
    two LoRA adapters attached (PEFT names ``a0`` and ``a1``)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_path, local_files_only=True).eval()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)  # wider weights: at its initial scale the tiny model repeats its input
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.normal_(0, 0.2)
    vocab = int(model.config.vocab_size)
    loaded = LoadedModel(
        served=ServedModel(id=TINY),
        info=None,
        model=model,
        tokenizer=IdsDecoder(),
        context_length=2048,
        eos_ids=frozenset({EOS}),
        created=0,
        grammars=GrammarCompiler(tokenizer, vocab, frozenset({EOS})),
    )
    for number, path in enumerate(adapters):
        adapter = LoadedAdapter(AdapterSpec(f"adapter-{number}", path), f"a{number}")
        attach_adapter(loaded, adapter)
        assert adapter.mixable  # plain LoRA: its rows may share a forward pass with others
    return loaded


class Engines:
    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.started: list[ModelEngine] = []

    def __call__(self, **options: Any) -> ModelEngine:
        settings = {"max_rows": 16, "gate": threading.Semaphore(1), **options}
        engine = ModelEngine(self.loaded, EngineStats(), **settings)
        self.started.append(engine)
        return engine


@pytest.fixture
def engines(loaded: LoadedModel) -> Iterator[Engines]:
    made = Engines(loaded)
    yield made
    for engine in made.started:
        engine.stop()
        engine.join(timeout=30)


def prompt(length: int, start: int = 0) -> list[int]:
    return [3 + (start * 7 + i * 13) % 256 for i in range(length)]


def request(prompts: list[list[int]], **options: Any) -> Request:
    adapter = options.pop("adapter", None)
    grammar = options.pop("grammar", None)
    params = SamplingParams(**{"max_tokens": 24, "temperature": 0.0, "ignore_eos": True, **options})
    return Request(prompts, params, Cancellation(), adapter=adapter, grammar=grammar)


async def reply(deltas: AsyncIterator[list[Delta]]) -> dict[int, list[int]]:
    texts: dict[int, list[str]] = {}
    async for step in deltas:
        for delta in step:
            texts.setdefault(delta.index, []).append(delta.text)
    return {index: ids_of("".join(parts)) for index, parts in sorted(texts.items())}


async def alone(engine: ModelEngine, cases: list[tuple[list[list[int]], dict[str, Any]]]) -> list[Any]:
    """Each case on its own: a batch of one request."""
    replies = []
    for prompts, options in cases:
        req = request(prompts, **options)
        engine.submit(req, max_queued=64)
        replies.append(await reply(req.items()))
    return replies


async def together(engine: ModelEngine, cases: list[tuple[list[list[int]], dict[str, Any]]]) -> list[Any]:
    """Half the cases at once, the other half joining the running batch (left padding)."""
    first = [request(prompts, **options) for prompts, options in cases[: len(cases) // 2]]
    for req in first:
        engine.submit(req, max_queued=64)
    streams = [req.items() for req in first]
    openings = [await anext(stream) for stream in streams]
    later = [request(prompts, **options) for prompts, options in cases[len(cases) // 2 :]]
    for req in later:
        engine.submit(req, max_queued=64)

    async def rest(opening: list[Delta], stream: AsyncIterator[list[Delta]]) -> AsyncIterator[list[Delta]]:
        yield opening
        async for step in stream:
            yield step

    return await asyncio.gather(
        *(reply(rest(o, s)) for o, s in zip(openings, streams, strict=True)),
        *(reply(req.items()) for req in later),
    )


GREEDY: list[tuple[list[list[int]], dict[str, Any]]] = [
    ([prompt(5)], {}),
    ([prompt(29, 1)], {"max_tokens": 40}),
    ([prompt(12, 2)], {"n": 2}),
    ([prompt(3, 3)], {"max_tokens": 9}),
    ([prompt(41, 4)], {"max_tokens": 30}),
    ([prompt(8, 5), prompt(20, 6)], {"max_tokens": 16}),
]


async def test_greedy_rows_in_a_batch_get_the_token_ids_they_get_alone(engines: Engines) -> None:
    engine = engines()
    expected = await alone(engine, GREEDY)
    steps = engine.stats.steps
    assert await together(engine, GREEDY) == expected
    assert engine.stats.peak_batch_rows >= 5
    generated = sum(len(ids) for reply_ in expected for ids in reply_.values())
    assert engine.stats.steps - steps < generated / 3  # fewer forward passes than tokens


async def test_seeded_sampling_in_a_batch_is_reproducible(engines: Engines) -> None:
    cases = [
        ([prompt(6, 7)], {"temperature": 1.0, "seed": 1, "n": 2}),
        ([prompt(15, 8)], {"temperature": 0.7, "top_p": 0.8, "seed": 2, "presence_penalty": 0.5}),
        ([prompt(9, 9)], {"temperature": 1.2, "seed": 3, "frequency_penalty": 1.0, "logit_bias": {40: 3.0}}),
        ([prompt(22, 10)], {"temperature": 1.0, "seed": 4, "max_tokens": 12}),
    ]
    engine = engines()
    expected = await alone(engine, cases)
    assert await together(engine, cases) == expected
    assert await together(engine, cases) == expected


async def test_two_adapters_and_the_base_share_a_batch(engines: Engines) -> None:
    cases: list[tuple[list[list[int]], dict[str, Any]]] = [
        ([prompt(10, 11)], {}),
        ([prompt(10, 11)], {"adapter": "a0"}),
        ([prompt(10, 11)], {"adapter": "a1", "n": 2}),
        ([prompt(17, 12)], {"adapter": "a0", "temperature": 1.0, "seed": 5}),
        ([prompt(4, 13)], {}),
        ([prompt(30, 14)], {"adapter": "a1"}),
    ]
    engine = engines()
    expected = await alone(engine, cases)
    assert len({str(reply_[0]) for reply_ in expected[:3]}) == 3  # the adapters change the reply
    assert await together(engine, cases) == expected
    assert engine.stats.peak_batch_rows >= 5


async def test_grammar_rows_in_a_batch_follow_their_grammar(
    engines: Engines, loaded: LoadedModel, tokenizer: Any
) -> None:
    digits = loaded.grammars.compile(Constraint("regex", "[0-9]{3}-[a-c]{2,5}", "structured_outputs.regex"))
    choice = loaded.grammars.compile(Constraint("choice", '["alpha", "beta"]', "structured_outputs.choice"))
    cases: list[tuple[list[list[int]], dict[str, Any]]] = [
        ([prompt(7, 15)], {"grammar": digits, "temperature": 1.0, "seed": 6, "n": 2}),
        ([prompt(13, 16)], {"max_tokens": 20}),
        ([prompt(5, 17)], {"grammar": choice, "ignore_eos": False}),
        ([prompt(19, 18)], {"grammar": digits}),
    ]
    engine = engines()
    expected = await alone(engine, cases)
    replies = await together(engine, cases)
    assert replies == expected
    texts = {
        (case, index): tokenizer.decode(ids) for case, r in enumerate(replies) for index, ids in r.items()
    }
    for case, index in [(0, 0), (0, 1), (3, 0)]:
        assert re.fullmatch("[0-9]{3}-[a-c]{2,5}", texts[case, index]), texts[case, index]
    assert texts[2, 0] in ("alpha", "beta")


async def test_a_prefix_cache_hit_replies_as_a_cold_prefill(engines: Engines) -> None:
    system = prompt(64, 19)
    first, second = [*system, *prompt(5, 20)], [*system, *prompt(9, 21)]
    cold = await alone(engines(), [([second], {}), ([second], {"adapter": "a0"})])
    engine = engines(prefix_cache_tokens=1024, prefix_min_tokens=32)
    await alone(engine, [([first], {}), ([first], {"adapter": "a0"})])
    assert engine.stats.prefix_hits == 0
    assert await alone(engine, [([second], {}), ([second], {"adapter": "a0"})]) == cold
    assert engine.stats.prefix_hits == 2
    assert engine.stats.prefix_reused_tokens == 2 * (64 + shared_tail(first, second))
    assert engine.stats.prefill_tokens == 2 * len(first) + 2 * (len(second) - 64 - shared_tail(first, second))


def shared_tail(a: list[int], b: list[int]) -> int:
    """Tokens the two prompts share after the 64-token system prompt."""
    common = 0
    for x, y in zip(a[64:], b[64:], strict=False):
        if x != y:
            break
        common += 1
    return common


# -- through the gateway -----------------------------------------------------------------------

HELLO = [{"role": "system", "content": "You answer briefly. " * 4}, {"role": "user", "content": "Hi!"}]


async def test_concurrent_chats_share_steps_and_reply_as_they_do_alone(
    gateway: ServedGateway, client: openai.AsyncOpenAI
) -> None:
    async def chat(question: str) -> tuple[str, int]:
        messages = [*HELLO[:1], {"role": "user", "content": question}]
        reply_ = await client.chat.completions.create(  # type: ignore[call-overload]
            model=SLOW, messages=messages, max_tokens=20, temperature=0, extra_body={"ignore_eos": True}
        )
        assert reply_.usage is not None
        return reply_.choices[0].message.content or "", reply_.usage.completion_tokens

    questions = ["Hi!", "What is two plus two?", "Name a colour.", "Why?"]
    stats = gateway.local().stats
    hits = stats.prefix_hits
    expected = [await chat(q) for q in questions]
    assert stats.prefix_hits >= hits + 3  # the shared system prompt was prefilled once
    steps = stats.steps
    assert await asyncio.gather(*(chat(q) for q in questions)) == expected
    assert stats.steps - steps < 0.75 * sum(tokens - 1 for _, tokens in expected)  # steps were shared


async def test_a_stream_closed_in_a_batch_stops_while_the_others_finish(
    gateway: ServedGateway, client: openai.AsyncOpenAI
) -> None:
    params = {"model": TINY, "messages": HELLO, "temperature": 0, "extra_body": {"ignore_eos": True}}
    expected = (await client.chat.completions.create(**params, max_tokens=200)).choices[0].message.content  # type: ignore[call-overload]
    stats = gateway.local().stats
    cancelled = stats.cancelled
    stream = await client.chat.completions.create(**params, max_tokens=1500, stream=True)  # type: ignore[call-overload]
    other = asyncio.create_task(client.chat.completions.create(**params, max_tokens=200))  # type: ignore[call-overload]
    received = 0
    async for chunk in stream:
        received += bool(chunk.choices and chunk.choices[0].delta.content)
        if received == 3:
            break
    await stream.close()
    assert (await other).choices[0].message.content == expected
    for _ in range(200):
        if stats.cancelled > cancelled:
            break
        await asyncio.sleep(0.05)
    assert stats.cancelled == cancelled + 1
