"""The adapter registry follows the serving events, in order of occurrence, once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from skill_adapter.contracts import AdapterPromoted, AdapterRegistered, AdapterRetired
from skill_adapter.gateway.models import AdapterRow
from tests.integration.gateway.conftest import Gateway
from tests.support.helpers import eventually

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def row_of(gateway: Gateway, adapter_id: str) -> AdapterRow | None:
    async def read() -> AdapterRow | None:
        async with gateway.state.runtime.sessions() as session:
            return await session.scalar(select(AdapterRow).where(AdapterRow.adapter_id == adapter_id))

    return gateway.in_app(read)


async def test_registration_then_promotion_then_retirement(gateway: Gateway, unique: str) -> None:
    adapter_id = f"reg-{unique}"
    await gateway.publish(
        AdapterRegistered(
            correlation_id=adapter_id,
            producer="tests",
            adapter_id=adapter_id,
            base_model="base",
            skill_name="json-reply",
            skill_version="1" * 64,
            object_name="a.zip",
            digest="2" * 64,
            rank=16,
            chat_template_hash="abc",
            occurred_at=T0,
        )
    )
    registered = await eventually(lambda: row_of(gateway, adapter_id), what="registration")
    assert (registered.status, registered.base_model, registered.rank) == ("candidate", "base", 16)

    await gateway.publish(
        AdapterPromoted(
            correlation_id=adapter_id,
            producer="tests",
            adapter_id=adapter_id,
            skill_name="json-reply",
            run_id="run-9",
            reasons=["passes"],
            occurred_at=T0 + timedelta(minutes=1),
        )
    )

    async def promoted() -> AdapterRow | None:
        row = await row_of(gateway, adapter_id)
        return row if row is not None and row.status == "promoted" else None

    row = await eventually(promoted, what="promotion")
    assert (row.run_id, row.reasons, row.skill_version) == ("run-9", ["passes"], "1" * 64)

    await gateway.publish(
        AdapterRetired(
            correlation_id=adapter_id,
            producer="tests",
            adapter_id=adapter_id,
            skill_name="json-reply",
            replaced_by="newer",
            occurred_at=T0 + timedelta(minutes=2),
        )
    )

    async def retired() -> AdapterRow | None:
        row = await row_of(gateway, adapter_id)
        return row if row is not None and row.status == "retired" else None

    row = await eventually(retired, what="retirement")
    assert row.replaced_by == "newer"


async def test_a_late_older_event_does_not_undo_a_newer_one(gateway: Gateway, unique: str) -> None:
    adapter_id = f"late-{unique}"
    await gateway.publish(
        AdapterRetired(
            correlation_id=adapter_id,
            producer="tests",
            adapter_id=adapter_id,
            skill_name="s",
            occurred_at=T0 + timedelta(minutes=5),
        )
    )
    await eventually(lambda: row_of(gateway, adapter_id), what="retirement")
    await gateway.publish(
        AdapterPromoted(
            correlation_id=adapter_id,
            producer="tests",
            adapter_id=adapter_id,
            skill_name="s",
            run_id="r",
            occurred_at=T0,
        )
    )
    marker = f"marker-{unique}"
    await gateway.publish(
        AdapterPromoted(
            correlation_id=marker, producer="tests", adapter_id=marker, skill_name="s", run_id="r"
        )
    )
    await eventually(
        lambda: row_of(gateway, marker), what="the marker (the late event was handled before it)"
    )
    row = await row_of(gateway, adapter_id)
    assert row is not None and row.status == "retired"
