"""Continuous batching on a fake model: shared steps, replies as if alone, the queue bound,
cancellation, errors, adapter groups, the prefix cache and work between steps."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from skill_adapter.gateway.errors import EngineOverloaded, ModelUnavailable
from skill_adapter.gateway.inference.backend import Cancellation

torch = pytest.importorskip("torch", reason="the local engine needs torch (the local extra)")

from skill_adapter.gateway.inference.batch import Batch, new_cache, prefill  # noqa: E402
from skill_adapter.gateway.inference.engine import Delta, EngineStats, SamplingParams  # noqa: E402
from skill_adapter.gateway.inference.prefix_cache import PrefixCache  # noqa: E402
from skill_adapter.gateway.inference.scheduler import ModelEngine, Request  # noqa: E402
from tests.unit.gateway.fake_lm import FakePeft, NoiseLM, loaded_model  # noqa: E402

pytestmark = pytest.mark.unit

VOCAB = 64


class Engines:
    """Engines over fake models, stopped at the end of the test."""

    def __init__(self) -> None:
        self.started: list[ModelEngine] = []

    def __call__(self, model: Any = None, *, peft: Any = None, **options: Any) -> ModelEngine:
        loaded = loaded_model(model if model is not None else NoiseLM(VOCAB), VOCAB)
        loaded.peft = peft
        settings = {"max_rows": 16, "gate": threading.Semaphore(1), **options}
        engine = ModelEngine(loaded, EngineStats(), **settings)
        self.started.append(engine)
        return engine


@pytest.fixture
def engines() -> Iterator[Engines]:
    made = Engines()
    yield made
    for engine in made.started:
        engine.stop()
        engine.join(timeout=10)


def prompt(length: int, start: int = 3) -> list[int]:
    return [3 + (start + i) % (VOCAB - 3) for i in range(length)]


def request(prompts: list[list[int]], **sampling: Any) -> Request:
    adapter = sampling.pop("adapter", None)
    group = sampling.pop("group", "")
    params = SamplingParams(**{"max_tokens": 12, "temperature": 0.0, **sampling})
    return Request(prompts, params, Cancellation(), adapter=adapter, group=group)


async def reply(deltas: AsyncIterator[list[Delta]]) -> dict[int, tuple[str, str | None]]:
    """Each choice's text (its token ids) and finish reason."""
    texts: dict[int, list[str]] = {}
    finish: dict[int, str | None] = {}
    async for step in deltas:
        for delta in step:
            texts.setdefault(delta.index, []).append(delta.text)
            finish[delta.index] = delta.finish_reason
    return {index: ("".join(parts), finish[index]) for index, parts in texts.items()}


def submit(engine: ModelEngine, req: Request, max_queued: int = 64) -> Request:
    engine.submit(req, max_queued=max_queued)
    return req


async def alone(engines: Engines, prompts: list[list[int]], **sampling: Any) -> dict[int, Any]:
    return await reply(submit(engines(), request(prompts, **sampling)).items())


MIXED = [
    ({"prompts": [prompt(5)]}, {}),
    ({"prompts": [prompt(9, 20)]}, {"max_tokens": 20}),
    ({"prompts": [prompt(3, 40)]}, {"temperature": 1.0, "seed": 7, "n": 2, "max_tokens": 15}),
    ({"prompts": [prompt(7, 9)]}, {"temperature": 0.8, "top_p": 0.9, "seed": 3, "frequency_penalty": 0.5}),
    ({"prompts": [prompt(4, 2), prompt(11, 30)]}, {"n": 2, "max_tokens": 6, "logit_bias": {5: 4.0}}),
]


async def test_concurrent_requests_share_steps_and_each_gets_what_it_gets_alone(engines: Engines) -> None:
    expected = [await alone(engines, case["prompts"], **sampling) for case, sampling in MIXED]
    model = NoiseLM(VOCAB)
    engine = engines(model)
    requests = [submit(engine, request(case["prompts"], **sampling)) for case, sampling in MIXED]
    replies = await asyncio.gather(*(reply(r.items()) for r in requests))
    assert replies == expected
    generated = sum(len(text.split(",")) - 1 for r in replies for text, _ in r.values())
    assert engine.stats.peak_batch_rows > 2
    assert engine.stats.steps < generated / 2  # rows shared the forward passes
    assert max(rows for rows, length in model.calls if length == 1) == engine.stats.peak_batch_rows
    assert engine.stats.running == 0 and engine.stats.generations == len(MIXED)


async def test_a_request_joining_a_running_batch_gets_what_it_gets_alone(engines: Engines) -> None:
    long_one, late = prompt(4), prompt(13, 7)
    expected = [await alone(engines, [long_one], max_tokens=40), await alone(engines, [late], n=2)]
    engine = engines(NoiseLM(VOCAB, delay=0.005))
    first = submit(engine, request([long_one], max_tokens=40))
    items = first.items()
    opening = await anext(items)  # decoding has begun

    async def rest() -> AsyncIterator[list[Delta]]:
        yield opening
        async for step in items:
            yield step

    second = submit(engine, request([late], n=2))
    assert [await reply(rest()), await reply(second.items())] == expected
    assert engine.stats.peak_batch_rows == 3


async def test_a_model_whose_cache_cannot_be_merged_decodes_one_prompt_at_a_time(engines: Engines) -> None:
    cases = [([prompt(5)], {"n": 2}), ([prompt(9, 20)], {}), ([prompt(3, 40)], {"max_tokens": 5})]
    expected = [await alone(engines, prompts, **sampling) for prompts, sampling in cases]
    model = NoiseLM(VOCAB, sliding=True)
    engine = engines(model)
    requests = [submit(engine, request(prompts, **sampling)) for prompts, sampling in cases]
    assert [await reply(r.items()) for r in requests] == expected
    assert engine.stats.peak_batch_rows == 2 and {rows for rows, length in model.calls} == {1, 2}


async def test_a_cancelled_request_leaves_the_batch_while_the_others_finish(engines: Engines) -> None:
    expected = await alone(engines, [prompt(6)], max_tokens=30, ignore_eos=True)
    model = NoiseLM(VOCAB, delay=0.005)
    engine = engines(model)
    endless = submit(engine, request([prompt(8, 11)], max_tokens=3000, ignore_eos=True, n=2))
    other = submit(engine, request([prompt(6)], max_tokens=30, ignore_eos=True))
    stream = endless.items()
    await anext(stream)
    await anext(stream)
    await stream.aclose()  # the client went away
    assert await reply(other.items()) == expected
    for _ in range(200):
        if engine.stats.cancelled == 1 and engine.stats.running == 0:
            break
        await asyncio.sleep(0.01)
    assert engine.stats.cancelled == 1 and engine.stats.generations == 1
    assert engine.stats.generated_tokens < 200
    assert model.calls[-1][0] <= 1  # the cancelled rows left; only the other one went on


async def test_a_full_queue_answers_overloaded_but_a_request_that_fits_never_counts(engines: Engines) -> None:
    engine = engines(NoiseLM(VOCAB, delay=0.005), max_rows=2)
    running = submit(engine, request([prompt(4)], n=2, max_tokens=200, ignore_eos=True), max_queued=0)
    await anext(running.items())
    waiting = submit(engine, request([prompt(5)]), max_queued=1)  # no room: waits
    with pytest.raises(EngineOverloaded):
        engine.submit(request([prompt(6)]), max_queued=1)
    with pytest.raises(EngineOverloaded):
        engine.submit(request([prompt(6)]), max_queued=2, queued_elsewhere=1)
    running.cancel.cancel()
    assert 0 in await reply(waiting.items())


async def test_a_request_cancelled_while_waiting_never_runs(engines: Engines) -> None:
    model = NoiseLM(VOCAB, delay=0.005)
    engine = engines(model, max_rows=1)
    first = submit(engine, request([prompt(4)], max_tokens=30, ignore_eos=True))
    stream = first.items()
    await anext(stream)
    waiting = submit(engine, request([prompt(9)]))
    waiting.cancel.cancel()
    assert await reply(waiting.items()) == {}
    await reply(stream)
    assert engine.stats.prefills == 1 and engine.stats.cancelled == 0
    assert (9, 9) not in {(length, length) for _, length in model.calls}


async def test_a_failing_prompt_fails_its_request_only(engines: Engines) -> None:
    model = NoiseLM(VOCAB)
    model.fail_on = 60
    engine = engines(model)
    expected = await alone(engines, [prompt(5)])
    good = submit(engine, request([prompt(5)]))
    bad = submit(engine, request([prompt(5), prompt(3, 57)]))  # its second prompt breaks the model
    with pytest.raises(RuntimeError, match="breaks the model"):
        await reply(bad.items())
    assert await reply(good.items()) == expected


async def test_rows_of_adapters_and_the_base_share_a_forward_pass(engines: Engines) -> None:
    cases = [{"adapter": None}, {"adapter": "a"}, {"adapter": "b", "n": 2}]

    def peft() -> FakePeft:
        return FakePeft(NoiseLM(VOCAB), ["a", "b"])

    expected = []
    for case in cases:
        fake = peft()
        expected.append(
            await reply(submit(engines(fake.base, peft=fake), request([prompt(6)], **case)).items())
        )
    assert len({str(e) for e in expected}) == 3  # the adapters change the replies
    fake = peft()
    engine = engines(fake.base, peft=fake)
    requests = [submit(engine, request([prompt(6)], **case)) for case in cases]
    assert [await reply(r.items()) for r in requests] == expected
    assert ["__base__", "a", "b", "b"] in fake.rows  # one mixed forward pass


async def test_an_unmixable_adapter_takes_its_turn_and_nobody_starves(engines: Engines) -> None:
    fake = FakePeft(NoiseLM(VOCAB, delay=0.005), ["a", "dora"])
    engine = engines(fake.base, peft=fake)
    first = submit(engine, request([prompt(4)], max_tokens=8))
    stream = first.items()
    await anext(stream)
    dora = submit(engine, request([prompt(5)], adapter="dora", group="dora", max_tokens=8))
    await asyncio.sleep(0.05)
    later = submit(engine, request([prompt(6)], max_tokens=8))  # base again, after the other group
    await asyncio.gather(reply(stream), reply(dora.items()), reply(later.items()))
    passes = ["dora" in rows for rows in fake.rows]
    first_dora, last_dora = passes.index(True), len(passes) - 1 - passes[::-1].index(True)
    assert all(passes[first_dora : last_dora + 1])  # never mixed with the base
    assert {len(rows) for rows in fake.rows} == {1}  # the base request waited for the adapter's turn
    assert fake.rows[-1] == ["__base__"] and fake.rows[0] == ["__base__"]


async def test_a_prefix_hit_prefills_only_the_rest_and_replies_as_a_cold_prefill(engines: Engines) -> None:
    shared = prompt(40)
    first, second = [*shared, 5, 6, 7], [*shared, 9, 10]
    cold = await alone(engines, [second])
    model = NoiseLM(VOCAB)
    engine = engines(model, prefix_cache_tokens=1000, prefix_min_tokens=32)
    await reply(submit(engine, request([first])).items())
    assert await reply(submit(engine, request([second])).items()) == cold
    assert engine.stats.prefix_hits == 1 and engine.stats.prefix_reused_tokens == 40
    assert model.calls[0] == (1, 43) and (1, 2) in model.calls
    assert await reply(submit(engine, request([second])).items()) == cold  # the whole prompt but one
    assert engine.stats.prefix_reused_tokens == 40 + 41


def test_the_prefix_cache_is_bounded_per_adapter_and_invalidated() -> None:
    model = NoiseLM(VOCAB)
    cache = PrefixCache(max_tokens=100, min_tokens=4)

    def filled(ids: list[int]) -> Any:
        kv = new_cache(model)
        prefill(model, ids, "cpu", kv)
        return kv

    a, b = prompt(40), prompt(50, 30)
    cache.store(None, a, filled(a))
    cache.store("x", b, filled(b))
    assert cache.lookup("x", [*a, 1])[1] == 0  # another adapter's prompt is not shared
    kv, reused = cache.lookup(None, [*a[:10], 1, 2])
    assert reused == 10 and kv.get_seq_length() == 10
    cache.store(None, [*a, 7, 8], filled([*a, 7, 8]))  # extends `a`: replaces it
    assert len(cache) == 2 and cache.tokens == 92
    cache.store(None, prompt(30, 50), filled(prompt(30, 50)))  # over the bound: the oldest goes
    assert cache.lookup("x", b)[1] == 0 and cache.tokens == 72
    cache.invalidate(None)
    assert len(cache) == 0 and cache.tokens == 0


def test_a_batch_pads_on_the_left_and_trims_what_no_row_needs() -> None:
    model = NoiseLM(VOCAB)
    batch = Batch()
    for ids in (prompt(3), prompt(7)):
        kv = new_cache(model)
        prefill(model, ids, "cpu", kv)
        batch.join(kv, [5], "cpu")
    assert batch.width == 7 and batch.mask.tolist() == [[0, 0, 0, 0, 1, 1, 1], [1] * 7]
    batch.step(model)
    assert batch.lengths.tolist() == [4, 8]
    batch.advance([6], [0])  # the longer row leaves: its columns go
    assert batch.width == 4 and batch.mask is None and batch.rows == 1


async def test_work_between_steps_and_an_adapter_retired_after_its_rows_finish(engines: Engines) -> None:
    fake = FakePeft(NoiseLM(VOCAB, delay=0.005), ["a"])
    engine = engines(fake.base, peft=fake)
    assert await engine.call(lambda: 42) == 42
    running = submit(engine, request([prompt(4)], adapter="a", max_tokens=30, ignore_eos=True))
    stream = running.items()
    await anext(stream)
    retired = engine.retire("a", lambda: fake.peft_config.pop("a"))
    with pytest.raises(ModelUnavailable):
        engine.submit(request([prompt(4)], adapter="a"), max_queued=8)
    texts = await reply(stream)
    await retired
    assert texts[0][1] == "length" and "a" not in fake.peft_config
