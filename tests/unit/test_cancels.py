"""The worker side of a cancel (``runtime.cancels.CancelWatch``), shared by the data generator
and the evaluator; the table side is tested through both services (``tests/integration/*/test_cancel.py``)."""

from __future__ import annotations

import asyncio

import pytest

from skill_adapter.runtime.cancels import DEFAULT_CANCEL_REASON, CancelWatch

pytestmark = pytest.mark.unit


class Stopped(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def test_work_that_ends_first_is_the_outcome() -> None:
    watch = CancelWatch("run-1", Stopped)

    async def work() -> int:
        return 42

    assert await watch.interruptible(work()) == 42
    watch.check()  # nothing was read


async def test_work_that_fails_first_fails_with_its_own_error() -> None:
    watch = CancelWatch("run-1", Stopped)

    async def work() -> int:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        await watch.interruptible(work())


async def test_a_cancel_read_mid_work_abandons_it_with_the_services_error_and_reason() -> None:
    watch = CancelWatch("run-1", Stopped)
    started, abandoned = asyncio.Event(), asyncio.Event()

    async def work() -> int:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            abandoned.set()
            raise
        return 0

    async def cancel_soon() -> None:
        await started.wait()
        watch.stop("the user changed their mind")

    stopper = asyncio.create_task(cancel_soon())
    with pytest.raises(Stopped) as raised:
        await watch.interruptible(work())
    await stopper
    assert raised.value.reason == "the user changed their mind"
    assert abandoned.is_set(), "the work in flight was not cancelled"
    with pytest.raises(Stopped):
        watch.check()


def test_the_default_reason_is_said_when_none_was_given() -> None:
    watch = CancelWatch("run-1", Stopped)
    assert watch.reason == DEFAULT_CANCEL_REASON
