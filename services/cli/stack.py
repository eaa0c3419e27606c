"""The stack on one machine: NATS (embedded unless ``NATS_URL`` answers), the streams and
buckets, and every installed service as a child process. ``skill-adapter up`` runs it until
Ctrl-C; ``skill-adapter demo`` runs it for as long as the demo takes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nats

from skill_adapter.contracts import BUCKETS, STREAMS
from skill_adapter.runtime.nats_server import nats_endpoint
from skill_adapter.runtime.provisioning import ProvisionResult, provision
from skill_adapter.runtime.settings import RuntimeSettings

from .registry import ServiceEntry
from .supervisor import Supervisor

INTERNAL_KEY_NAME = "up:internal"


async def provision_streams(url: str, settings: RuntimeSettings, apply: bool) -> list[ProvisionResult]:
    """Create (or check, or with ``apply`` update) every stream and bucket."""
    nc = await nats.connect(url, **connect_kwargs(settings))
    try:
        js = nc.jetstream(timeout=10)
        streams = [spec.with_replicas(settings.stream_replicas) for spec in STREAMS]
        buckets = [spec.with_replicas(settings.stream_replicas) for spec in BUCKETS]
        return await provision(js, streams, buckets=buckets, apply=apply)
    finally:
        await nc.close()


def connect_kwargs(settings: RuntimeSettings) -> dict[str, object]:
    kwargs: dict[str, object] = {"max_reconnect_attempts": 2, "connect_timeout": 5}
    if settings.nats_user:
        kwargs.update(user=settings.nats_user, password=settings.nats_password)
    return kwargs


def internal_key_env(settings: RuntimeSettings, entries: Sequence[ServiceEntry]) -> dict[str, str]:
    """A fresh key for the services that call the gateway (the previous one is revoked).

    One key for all of them (the data generator and the evaluator): scope ``models:evaluate``,
    which implies ``models:use`` and lets the evaluator generate with candidate adapters before
    they are promoted. Set ``SKILL_ADAPTER_INFERENCE_API_KEY`` to use a key of your own instead.
    """
    names = {e.name for e in entries}
    if os.environ.get("SKILL_ADAPTER_INFERENCE_API_KEY") or "gateway" not in names or names == {"gateway"}:
        return {}
    from skill_adapter.gateway.keys import create_key, list_keys, revoke_key

    for key in list_keys(settings):
        if key.name == INTERNAL_KEY_NAME and key.active:
            revoke_key(settings, key.id)
    issued = create_key(settings, INTERNAL_KEY_NAME, ["models:use", "models:evaluate"])
    return {"SKILL_ADAPTER_INFERENCE_API_KEY": issued.token}


@dataclass
class Stack:
    url: str
    supervisor: Supervisor
    run_file: Path
    provisioned: list[ProvisionResult]

    def tick(self) -> None:
        """Restart services that died and keep the run file current (call about once a second)."""
        self.supervisor.poll()
        write_run_file(self.run_file, self.url, self.supervisor.pids())


def write_run_file(path: Path, url: str, pids: dict[str, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), "nats_url": url, "services": pids}))


@contextlib.contextmanager
def running_stack(
    settings: RuntimeSettings,
    entries: Sequence[ServiceEntry],
    emit: Callable[[str, str, str], None],
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    """NATS up, streams provisioned, every entry started; everything stopped on exit.

    Raises ``NatsServerError`` when no NATS can be had (before anything else starts)."""
    with nats_endpoint(settings.state_dir, settings.nats_url, embedded=settings.embedded_nats) as url:
        results = asyncio.run(provision_streams(url, settings, settings.apply_stream_changes))
        supervisor = Supervisor(
            entries,
            env={
                "NATS_URL": url,
                "SKILL_ADAPTER_STATE_DIR": str(settings.state_dir),
                "SKILL_ADAPTER_LOG_FORMAT": settings.log_format,
                **internal_key_env(settings, entries),
                **(extra_env or {}),
            },
            emit=emit,
            grace_seconds=settings.graceful_timeout,
        )
        run_file = settings.state_dir / "run" / "up.json"
        supervisor.start_all()
        stack = Stack(url, supervisor, run_file, results)
        try:
            write_run_file(run_file, url, supervisor.pids())
            yield stack
        finally:
            supervisor.stop_all()
            with contextlib.suppress(FileNotFoundError):
                run_file.unlink()
