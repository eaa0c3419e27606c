"""The gateway as an event consumer: it keeps the skills read model from the parser's events.

Each handler writes in ``ctx.session``, the transaction in which the runtime also records the
event as processed, so a redelivery finds the record and changes nothing.
"""

from __future__ import annotations

from skill_adapter.contracts import SkillParsed, SkillRejected
from skill_adapter.runtime import HandlerContext, Service
from skill_adapter.runtime.service import Setup

from .models import MIGRATIONS
from .repository import SkillRepository

SERVICE_NAME = "gateway"


async def record_parsed(event: SkillParsed, ctx: HandlerContext) -> None:
    """Add an accepted skill version (and its rubric) to the read model."""
    added = await SkillRepository(ctx.session).record_parsed(event)
    ctx.log.info(
        "skill version recorded" if added else "skill version already known",
        skill=event.skill_name,
        version=event.skill_version,
    )


async def record_rejected(event: SkillRejected, ctx: HandlerContext) -> None:
    """Keep a rejected skill and its errors so the user can see why it was refused."""
    await SkillRepository(ctx.session).record_rejected(event)
    ctx.log.info("skill rejection recorded", object_name=event.object_name, reason=event.reason)


def build_service(setup: Setup | None = None) -> Service:
    """The gateway's consumers (``gateway_skills_parsed``, ``gateway_skills_rejected``)."""
    service = Service(
        SERVICE_NAME,
        description="HTTP API of Agent Skill Adapter and the read model behind it.",
        migrations=[MIGRATIONS],
        setup=setup,
    )
    service.handles(SkillParsed, purpose="skills_parsed", ack_wait=30, max_deliver=10)(record_parsed)
    service.handles(SkillRejected, purpose="skills_rejected", ack_wait=30, max_deliver=10)(record_rejected)
    return service
