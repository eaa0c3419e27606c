"""Who generates when: bounded concurrency, a bounded queue, one generation per model.

A model instance holds one adapter active at a time (PEFT's ``set_adapter`` is global to the
model), so work on one model is serialized by its lock; ``max_concurrent`` bounds the worker
threads across models, and ``max_queued`` how many requests may wait before the engine
answers 503. Work runs in a thread off the event loop; its output crosses back to the loop
through an ``asyncio.Queue``. A ``Job`` outlives the request that started it: the model stays
locked until the thread has really stopped, even when the client left long before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from ..errors import EngineOverloaded
from .backend import Cancellation

T = TypeVar("T")

_DONE = object()


class Scheduler:
    def __init__(self, max_concurrent: int, max_queued: int) -> None:
        self._slots = asyncio.Semaphore(max_concurrent)
        self._capacity = max_concurrent + max_queued
        self._executor = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="generate")
        self._jobs: set[Job[Any]] = set()

    @property
    def pending(self) -> int:
        """Jobs running or waiting for their turn."""
        return len(self._jobs)

    def submit(
        self,
        lock: asyncio.Lock,
        work: Callable[[Callable[[T], None], Cancellation], None],
        cancel: Cancellation,
    ) -> Job[T]:
        """Queue ``work(emit, cancel)`` on the model behind ``lock``; 503 when the queue is full."""
        if len(self._jobs) >= self._capacity:
            raise EngineOverloaded()
        job: Job[T] = Job(cancel)
        self._jobs.add(job)
        job.task = asyncio.create_task(self._run(job, lock, work))
        job.task.add_done_callback(lambda _: self._jobs.discard(job))
        return job

    async def _run(
        self, job: Job[T], lock: asyncio.Lock, work: Callable[[Callable[[T], None], Cancellation], None]
    ) -> None:
        loop = asyncio.get_running_loop()

        def emit(item: T) -> None:
            loop.call_soon_threadsafe(job.queue.put_nowait, item)

        try:
            async with lock, self._slots:
                if job.cancel.cancelled:
                    return
                future = loop.run_in_executor(self._executor, work, emit, job.cancel)
                try:
                    await asyncio.shield(future)
                except asyncio.CancelledError:
                    # Never unlock the model while its thread still runs: stop it, then wait.
                    job.cancel.cancel()
                    with contextlib.suppress(BaseException):
                        await future
                    raise
                except Exception as exc:  # noqa: BLE001 - handed to the reader, re-raised there
                    job.error = exc
        finally:
            # After the thread's last emit (call_soon_threadsafe keeps the order).
            loop.call_soon(job.queue.put_nowait, _DONE)

    async def aclose(self) -> None:
        """Cancel every job and wait for the threads to stop."""
        for job in list(self._jobs):
            job.cancel.cancel()
        tasks = [job.task for job in self._jobs if job.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._executor.shutdown(wait=True, cancel_futures=True)


class Job(Generic[T]):
    """One queued piece of work: read its output with ``items()``."""

    def __init__(self, cancel: Cancellation) -> None:
        self.cancel = cancel
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] | None = None

    async def items(self) -> AsyncIterator[T]:
        """What the work emits, in order; the work's exception at the end, if any.

        Leaving early (the client went away) cancels the work.
        """
        try:
            while True:
                item = await self.queue.get()
                if item is _DONE:
                    break
                yield item
        finally:
            if self.task is not None and not self.task.done():
                self.cancel.cancel()
        if self.error is not None:
            raise self.error

    async def wait(self) -> None:
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
