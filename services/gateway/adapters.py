"""The adapter registry: what the serving events say about each adapter.

Written by the gateway's handlers of ``AdapterRegistered`` / ``AdapterPromoted`` /
``AdapterRetired`` in the handler's transaction (so a redelivery changes nothing), read by
every replica's ``AdapterSync`` to decide what its backends serve. Events may arrive out of
order: a status changes only for an event at least as recent as the one that set it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from skill_adapter.contracts import AdapterPromoted, AdapterRegistered, AdapterRetired

from .models import AdapterRow

CANDIDATE, PROMOTED, RETIRED = "candidate", "promoted", "retired"


class AdapterRegistry:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _row(
        self, adapter_id: str, skill_name: str, status: str, at: datetime
    ) -> tuple[AdapterRow, bool]:
        """The adapter's row, inserted with ``status`` if new (``True``).

        Registration, promotion and retirement are handled by separate consumers, possibly at
        the same moment: the insert does nothing when another handler's insert won the race.
        """
        row = await self._session.get(AdapterRow, adapter_id)
        if row is not None:
            return row, False
        bind = self._session.bind
        insert = (
            postgresql.insert if bind is not None and bind.dialect.name == "postgresql" else sqlite.insert
        )
        values = {"adapter_id": adapter_id, "skill_name": skill_name, "status": status, "status_at": at}
        result = await self._session.execute(
            insert(AdapterRow).values(**values).on_conflict_do_nothing(index_elements=["adapter_id"])
        )
        created = bool(getattr(result, "rowcount", 0))
        row = await self._session.get(AdapterRow, adapter_id, populate_existing=True)
        assert row is not None
        return row, created

    @staticmethod
    def _set_status(row: AdapterRow, status: str, at: datetime, created: bool) -> bool:
        if not created and at < row.status_at:
            return False
        row.status, row.status_at = status, at
        return True

    async def record_registered(self, event: AdapterRegistered) -> None:
        row, _ = await self._row(event.adapter_id, event.skill_name, CANDIDATE, event.occurred_at)
        row.skill_name = event.skill_name
        row.skill_version = event.skill_version
        row.base_model = event.base_model
        row.job_id = event.job_id
        row.object_name = event.object_name
        row.digest = event.digest
        row.rank = event.rank
        row.chat_template_hash = event.chat_template_hash
        row.registered_at = event.occurred_at
        await self._session.flush()

    async def record_promoted(self, event: AdapterPromoted) -> bool:
        """``True`` when the adapter is now promoted (``False``: a newer event says otherwise)."""
        row, created = await self._row(event.adapter_id, event.skill_name, PROMOTED, event.occurred_at)
        changed = self._set_status(row, PROMOTED, event.occurred_at, created)
        if changed:
            row.promoted_at, row.run_id, row.reasons, row.retired_at = (
                event.occurred_at,
                event.run_id,
                list(event.reasons),
                None,
            )
        await self._session.flush()
        return changed

    async def record_retired(self, event: AdapterRetired) -> bool:
        row, created = await self._row(event.adapter_id, event.skill_name, RETIRED, event.occurred_at)
        changed = self._set_status(row, RETIRED, event.occurred_at, created)
        if changed:
            row.retired_at, row.replaced_by = event.occurred_at, event.replaced_by
        await self._session.flush()
        return changed

    async def active(self) -> list[AdapterRow]:
        """Candidates and promoted adapters (everything not retired), by id."""
        rows = await self._session.scalars(
            select(AdapterRow)
            .where(AdapterRow.status.in_((CANDIDATE, PROMOTED)))
            .order_by(AdapterRow.adapter_id)
        )
        return list(rows)
