"""The checkpoint ledger: which checkpoints of a job are stored, which is newest, which to keep.

Order: a later phase is newer than an earlier one (GRPO continues from SFT, and steps count
from 0 again in each phase); within a phase a higher step is newer, and a phase's final
checkpoint is newer than the step checkpoint of the same step.

Retention keeps, per job: the last ``keep_last`` checkpoints (so the newest, the resume point,
is always kept), each phase's final checkpoint (GRPO starts from SFT's; a job that dies in GRPO
does not redo SFT), and each phase's best by metric (validation loss, else held-out reward,
else training reward, else training loss). Everything else is deleted, object first, then row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skill_adapter.runtime.log import get_logger
from skill_adapter.runtime.objects import Objects

from .models import CheckpointRecord

log = get_logger(__name__)

PHASE_ORDER = {"sft": 0, "grpo": 1}
BEST_BY: tuple[tuple[str, Callable[..., object]], ...] = (
    ("eval_loss", min),
    ("eval_reward", max),
    ("reward", max),
    ("loss", min),
)


class Recorded(Protocol):
    id: int
    phase: str
    step: int
    final: bool
    metrics: dict


def recency(record: Recorded) -> tuple[int, int, bool, int]:
    return (PHASE_ORDER.get(record.phase, len(PHASE_ORDER)), record.step, record.final, record.id or 0)


def newest_first(records: Iterable[Recorded]) -> list[Recorded]:
    return sorted(records, key=recency, reverse=True)


def _metric(record: Recorded, name: str) -> float | None:
    value = (record.metrics or {}).get(name)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def best(records: Sequence[Recorded]) -> Recorded | None:
    """The best checkpoint of one phase by the first metric any of them has (newest wins ties)."""
    ordered = newest_first(records)
    for name, pick in BEST_BY:
        scored = [r for r in ordered if _metric(r, name) is not None]
        if scored:
            return pick(scored, key=lambda r, name=name: _metric(r, name))  # type: ignore[return-value]
    return None


def kept(records: Sequence[Recorded], keep_last: int) -> set[int]:
    """Ids of the checkpoints retention keeps."""
    ordered = newest_first(records)
    keep = {r.id for r in ordered[: max(1, keep_last)]}
    keep |= {r.id for r in ordered if r.final}
    for phase in {r.phase for r in ordered}:
        top = best([r for r in ordered if r.phase == phase and not r.final])
        if top is not None:
            keep.add(top.id)
    return keep


class Ledger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], objects: Objects, bucket: str) -> None:
        self._sessions = sessions
        self._objects = objects
        self._bucket = bucket

    async def checkpoints(self, job_id: str) -> list[CheckpointRecord]:
        """The job's stored checkpoints, newest first."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(select(CheckpointRecord).where(CheckpointRecord.job_id == job_id))
            ).all()
        return newest_first(rows)  # type: ignore[return-value]

    async def apply_retention(self, job_id: str, keep_last: int) -> list[str]:
        """Delete what retention does not keep; returns the object names deleted."""
        rows = await self.checkpoints(job_id)
        keep = kept(rows, keep_last)
        doomed = [row for row in rows if row.id not in keep]
        deleted: list[str] = []
        for row in doomed:
            try:
                await self._objects.delete(self._bucket, row.object_name)
            except Exception as exc:  # noqa: BLE001 - kept in the ledger; the next checkpoint retries
                log.warning(
                    "checkpoint not deleted; will retry", object_name=row.object_name, error=repr(exc)
                )
                continue
            deleted.append(row.object_name)
        if deleted:
            async with self._sessions() as session, session.begin():
                await session.execute(
                    delete(CheckpointRecord).where(
                        CheckpointRecord.job_id == job_id, CheckpointRecord.object_name.in_(deleted)
                    )
                )
        return deleted
