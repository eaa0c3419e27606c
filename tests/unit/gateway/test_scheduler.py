"""Bounded concurrency and queue: one generation per model, 503 when full, cancel before start."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from skill_adapter.gateway.errors import EngineOverloaded
from skill_adapter.gateway.inference.backend import Cancellation
from skill_adapter.gateway.inference.scheduler import Scheduler

pytestmark = pytest.mark.unit


def counting(active: list[int], peak: list[int], lock: threading.Lock, seconds: float = 0.05):
    def work(emit: Callable[[int], None], cancel: Cancellation) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(seconds)
        emit(1)
        with lock:
            active[0] -= 1

    return work


async def test_one_model_runs_one_job_at_a_time_while_two_models_run_together() -> None:
    scheduler = Scheduler(max_concurrent=2, max_queued=10)
    active, peak, guard = [0], [0], threading.Lock()
    model = asyncio.Lock()
    jobs = [scheduler.submit(model, counting(active, peak, guard), Cancellation()) for _ in range(3)]
    assert [[x async for x in job.items()] for job in jobs] == [[1], [1], [1]]
    assert peak[0] == 1
    peak[0] = 0
    jobs = [
        scheduler.submit(asyncio.Lock(), counting(active, peak, guard, 0.2), Cancellation()) for _ in range(2)
    ]
    for job in jobs:
        await job.wait()
    assert peak[0] == 2
    await scheduler.aclose()


async def test_a_full_queue_answers_overloaded() -> None:
    scheduler = Scheduler(max_concurrent=1, max_queued=1)
    model = asyncio.Lock()
    active, peak, guard = [0], [0], threading.Lock()
    scheduler.submit(model, counting(active, peak, guard, 0.2), Cancellation())
    scheduler.submit(model, counting(active, peak, guard, 0.2), Cancellation())
    with pytest.raises(EngineOverloaded):
        scheduler.submit(model, counting(active, peak, guard), Cancellation())
    await scheduler.aclose()


async def test_a_job_cancelled_while_waiting_never_runs_and_errors_reach_the_reader() -> None:
    scheduler = Scheduler(max_concurrent=1, max_queued=5)
    model = asyncio.Lock()
    ran: list[str] = []

    def slow(emit: Callable[[str], None], cancel: Cancellation) -> None:
        time.sleep(0.1)
        ran.append("slow")

    def never(emit: Callable[[str], None], cancel: Cancellation) -> None:
        ran.append("never")

    def broken(emit: Callable[[str], None], cancel: Cancellation) -> None:
        raise RuntimeError("boom")

    scheduler.submit(model, slow, Cancellation())
    cancel = Cancellation()
    waiting = scheduler.submit(model, never, cancel)
    cancel.cancel()
    await waiting.wait()
    assert ran == ["slow"]
    failing = scheduler.submit(model, broken, Cancellation())
    with pytest.raises(RuntimeError, match="boom"):
        [x async for x in failing.items()]
    await scheduler.aclose()
