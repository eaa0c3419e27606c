"""The skill-parser service: one handler, plus the bucket watcher, reconciler and inbox mirror."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from skill_adapter.contracts import IngestSkill, SkillParsed, SkillRejected
from skill_adapter.runtime import HandlerContext, Migrations, Service, ServiceRuntime

from .bucket import BucketWatcher
from .inbox_folder import InboxMirror
from .ingest import ingest
from .settings import SkillParserSettings

MIGRATIONS = Migrations("skill_adapter.skill_parser:migrations", "skill_adapter_skill_parser_version")


@dataclass
class Deps:
    runtime: ServiceRuntime
    watcher: BucketWatcher
    inbox: InboxMirror


def build_service(settings: SkillParserSettings) -> Service:
    @contextlib.asynccontextmanager
    async def setup(runtime: ServiceRuntime) -> AsyncIterator[Deps]:
        watcher = BucketWatcher(runtime.objects, runtime.publisher, runtime.sessions, settings.default_mode)
        inbox = InboxMirror(settings.resolved_inbox(), runtime.objects, watcher)
        tasks = [
            asyncio.create_task(watcher.watch(), name="skills-bucket-watch"),
            asyncio.create_task(
                watcher.reconcile_forever(settings.reconcile_seconds), name="skills-reconcile"
            ),
            asyncio.create_task(inbox.run(settings.inbox_poll_seconds), name="skills-inbox"),
        ]
        try:
            yield Deps(runtime, watcher, inbox)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    service = Service(
        "skill-parser",
        description="Validates, versions and compiles the rubric of every skill that arrives.",
        migrations=[MIGRATIONS],
        setup=setup,
    )

    @service.handles(IngestSkill, purpose="ingest", ack_wait=60, max_deliver=5)
    async def on_ingest(command: IngestSkill, ctx: HandlerContext) -> SkillParsed | SkillRejected | None:
        """Validate the skill object, keep a new version, and publish the verdict."""
        return await ingest(command, ctx.session, ctx.deps.runtime.objects)

    return service
