"""The inference plane of a gateway replica: its backends and the loops that keep them current.

``AdapterSync`` makes the backends serve exactly the promoted adapters of the registry, and its
candidates (registered, not promoted yet) when ``serve_candidates`` is on; never retired ones. It
runs at start-up, right after this replica handled a registration, promotion or retirement
(``poke``), and every ``adapter_sync_seconds`` so that replicas that did not handle the event
(JetStream gave it to one of them) follow within a second too. Upstream backends are re-probed
every ``upstream_check_seconds``. An adapter whose folder is not in ``adapters_dir`` yet is
fetched from the ``adapters`` bucket first (``materialize``) and served once it is there.

Candidates are shown to evaluators only (``visibility``). An adapter's ``AdapterSpec`` does not
depend on its status (``created`` is its registration time), so a promotion makes a served
candidate visible to everyone without any backend loading it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skill_adapter.runtime.log import get_logger
from skill_adapter.runtime.objects import Objects

from .adapters import PROMOTED, AdapterRegistry
from .inference.backend import AdapterSpec, Backend
from .inference.router import Router, build_backends
from .materialize import Materializer
from .models import AdapterRow
from .settings import GatewaySettings

log = get_logger(__name__)


def adapter_folder(adapters_dir: Path, adapter_id: str) -> Path | None:
    """``<adapters_dir>/<adapter_id>``, or ``None`` for an id that would leave the folder."""
    folder = (adapters_dir / adapter_id).resolve()
    root = adapters_dir.resolve()
    return folder if folder != root and folder.is_relative_to(root) else None


def configured_base(folder: Path) -> str | None:
    """``base_model_name_or_path`` of a PEFT adapter's config, if it has one."""
    try:
        config = json.loads((folder / "adapter_config.json").read_text())
    except (OSError, ValueError):
        return None
    base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    return base if isinstance(base, str) and base else None


def adapter_spec(row: AdapterRow, adapters_dir: Path) -> AdapterSpec | None:
    folder = adapter_folder(adapters_dir, row.adapter_id)
    if folder is None:
        log.error("adapter id would leave the adapters folder; not served", adapter=row.adapter_id)
        return None
    own_base = configured_base(folder)
    return AdapterSpec(
        adapter_id=row.adapter_id,
        path=folder,
        created=int((row.registered_at or row.promoted_at or row.status_at).timestamp()),
        skill_name=row.skill_name,
        base_model=row.base_model or own_base,
        aliases=tuple(name for name in (own_base,) if name),
    )


class InferencePlane:
    def __init__(
        self,
        settings: GatewaySettings,
        sessions: async_sessionmaker[AsyncSession],
        backends: list[Backend] | None = None,
        objects: Objects | None = None,
    ) -> None:
        self.settings = settings
        self.router = Router(backends if backends is not None else build_backends(settings))
        self._sessions = sessions
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.materializer = Materializer(objects, self.poke) if objects is not None else None

    async def start(self) -> None:
        await self.router.start()
        self._tasks = [
            asyncio.create_task(self._sync_loop(), name="adapter-sync"),
            asyncio.create_task(self._refresh_loop(), name="upstream-refresh"),
        ]

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.materializer is not None:
            await self.materializer.aclose()
        await self.router.aclose()

    def poke(self) -> None:
        """The registry changed: sync now rather than at the next tick."""
        self._wake.set()

    async def sync_adapters(self) -> None:
        async with self._sessions() as session:
            active = await AdapterRegistry(session).active()
        served = [row for row in active if row.status == PROMOTED or self.settings.serve_candidates]
        adapters_dir = self.settings.resolved_adapters_dir()
        specs = [
            spec
            for row in served
            if self._on_disk(row, adapters_dir) and (spec := adapter_spec(row, adapters_dir)) is not None
        ]
        await self.router.sync_adapters(specs, {row.adapter_id: row.status for row in active})

    def _on_disk(self, row: AdapterRow, adapters_dir: Path) -> bool:
        """Whether the adapter's folder is there to serve (if not, it is being fetched)."""
        folder = adapter_folder(adapters_dir, row.adapter_id)
        if folder is None or self.materializer is None:
            return True  # adapter_spec reports a bad id; without a bucket, the folder is what there is
        return self.materializer.ready(row, folder)

    async def _sync_loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.sync_adapters()
            except Exception as exc:  # noqa: BLE001 - e.g. the database is briefly away: next tick
                log.warning("adapter sync failed; will retry", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.adapter_sync_seconds)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.upstream_check_seconds)
            try:
                await self.router.refresh()
            except Exception as exc:  # noqa: BLE001 - logged; the next probe may succeed
                log.warning("upstream refresh failed", error=repr(exc))
