"""The watched bucket: every object put into ``skills`` becomes an ``IngestSkill`` command.

Object Store watch events are not acknowledged (a crash, or an exception in a callback, loses
one), so a reconciler compares the bucket with the ingestion table at start-up and
periodically, and asks again for what is missing. Asking twice is harmless: the command's
event id is derived from the object's name and digest, so the stream and the consumer
de-duplicate it.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skill_adapter.contracts import MODE_HEADER, SKILLS_BUCKET, IngestSkill, auto_train_of
from skill_adapter.runtime.log import get_logger
from skill_adapter.runtime.objects import Objects, StoredObject, stored
from skill_adapter.runtime.publisher import Publisher

from .ingest import PRODUCER
from .models import Ingestion

log = get_logger(__name__)

Source = Literal["bucket", "inbox", "reconciler"]


class BucketWatcher:
    def __init__(
        self,
        objects: Objects,
        publisher: Publisher,
        sessions: async_sessionmaker[AsyncSession],
        mode: Literal["strict", "lenient"] = "strict",
    ) -> None:
        self._objects = objects
        self._publisher = publisher
        self._sessions = sessions
        self._mode = mode

    def mode_of(self, headers: dict[str, str] | None) -> Literal["strict", "lenient"]:
        """The mode the uploader asked for (object header), else the configured default."""
        asked = (headers or {}).get(MODE_HEADER)
        return asked if asked in ("strict", "lenient") else self._mode  # type: ignore[return-value]

    async def request(self, obj: StoredObject, source: Source) -> IngestSkill:
        command = IngestSkill.for_object(
            obj.name,
            obj.digest,
            obj.nuid,
            source=source,
            mode=self.mode_of(obj.headers),
            producer=PRODUCER,
            auto_train=auto_train_of(obj.headers),
        )
        await self._publisher.publish(command)
        log.info("ingestion requested", object=obj.name, source=source, mode=command.mode)
        return command

    async def reconcile(self) -> int:
        """Ask for every object the database has no verdict for; returns how many."""
        stored = await self._objects.list(SKILLS_BUCKET.name)
        async with self._sessions() as session:
            rows = await session.execute(select(Ingestion.object_name, Ingestion.digest))
            known = {(name, digest) for name, digest in rows}
        missing = [obj for obj in stored if (obj.name, obj.digest) not in known]
        for obj in missing:
            await self.request(obj, "reconciler")
        return len(missing)

    async def watch(self) -> None:
        """Follow new puts until cancelled; reconnects after errors."""
        delay = 1.0
        while True:
            try:
                store = await self._objects.store(SKILLS_BUCKET.name)
                watcher = await store.watch(ignore_deletes=True, updates_only=True)
                delay = 1.0
                async for info in watcher:
                    if info is None or info.deleted:
                        continue
                    await self.request(stored(SKILLS_BUCKET.name, info), "bucket")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the reconciler covers the gap; keep watching
                log.warning("bucket watch interrupted; restarting", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def reconcile_forever(self, interval: float) -> None:
        while True:
            try:
                count = await self.reconcile()
                if count:
                    log.info("reconciler found objects without a verdict", count=count)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - try again next round
                log.warning("reconciliation failed", error=str(exc))
            await asyncio.sleep(interval)
