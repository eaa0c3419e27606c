"""The worker side of a cancel (``runtime.cancels.CancelWatch``), shared by the data generator
and the evaluator, and when a local worker is poked; the table side is tested through both
services (``tests/integration/*/test_cancel.py``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from skill_adapter.contracts import CancelDataset, GenerateDataset
from skill_adapter.data_generator import cancel
from skill_adapter.data_generator.models import DataGeneratorBase, DatasetRun
from skill_adapter.runtime.cancels import DEFAULT_CANCEL_REASON, CancelWatch
from skill_adapter.runtime.db import create_engine, session_factory

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


async def test_a_local_worker_is_poked_only_once_the_cancel_mark_is_committed(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(DataGeneratorBase.metadata.create_all)
    sessions = session_factory(engine)
    command = GenerateDataset(
        producer="t", correlation_id="c", dataset_id="ds-1", skill_name="s", skill_version="1", base_model="m"
    )
    async with sessions() as session, session.begin():
        for run_id, status in (("ds-1", "running"), ("ds-2", "running"), ("ds-3", "queued")):
            session.add(
                DatasetRun(
                    dataset_id=run_id,
                    command=command.model_copy(update={"dataset_id": run_id}).model_dump(mode="json"),
                    status=status,
                    attempts=1 if status == "running" else 0,
                )
            )
    poked: list[str] = []
    try:
        async with sessions() as session, session.begin():
            effect = await cancel.cancel(
                session, CancelDataset(producer="t", correlation_id="c", dataset_id="ds-1"), poked.append
            )
            assert effect.poke and effect.event is None
            assert poked == []  # the worker would read no mark yet
        assert poked == ["ds-1"]

        with pytest.raises(RuntimeError):
            async with sessions() as session, session.begin():
                await cancel.cancel(
                    session, CancelDataset(producer="t", correlation_id="c", dataset_id="ds-2"), poked.append
                )
                raise RuntimeError("the handler failed after the cancel")
        assert poked == ["ds-1"]  # rolled back: no mark, no poke

        async with sessions() as session, session.begin():
            queued = await cancel.cancel(
                session, CancelDataset(producer="t", correlation_id="c", dataset_id="ds-3"), poked.append
            )
        assert queued.event is not None and not queued.poke
        assert poked == ["ds-1"]  # a queued run has no worker to poke
        async with sessions() as session:
            rows = {r.dataset_id: r for r in (await session.execute(select(DatasetRun))).scalars()}
        assert rows["ds-1"].cancel_requested_at is not None and rows["ds-1"].status == "running"
        assert rows["ds-2"].cancel_requested_at is None
        assert rows["ds-3"].status == "failed"
    finally:
        await engine.dispose()
