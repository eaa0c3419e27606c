"""Container health check of a worker service: ``python healthcheck.py <package>``.

Healthy when the service's own NATS identity connects and every durable consumer of the
service is being pulled from (a pull request waiting, or messages in hand): a worker whose
event loop hangs or whose consumers died stops pulling and is restarted. Exit 0 or 1.
"""

from __future__ import annotations

import asyncio
import importlib
import sys

import nats
from pydantic_settings import BaseSettings


def _service(package: str):
    settings_module = importlib.import_module(f"skill_adapter.{package}.settings")
    settings_class = next(
        value
        for value in vars(settings_module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == settings_module.__name__
    )
    settings = settings_class()
    return settings, importlib.import_module(f"skill_adapter.{package}.service").build_service(settings)


async def check(package: str) -> list[str]:
    settings, service = _service(package)
    nc = await nats.connect(
        settings.nats_url or "nats://127.0.0.1:4222",
        user=settings.nats_user,
        password=settings.nats_password,
        inbox_prefix=settings.nats_inbox_prefix(),
        connect_timeout=3,
        allow_reconnect=False,
        max_reconnect_attempts=0,
    )
    problems = []
    try:
        js = nc.jetstream(timeout=3)
        for handler in service.handlers:
            spec = handler.consumer
            info = await js.consumer_info(spec.stream, spec.durable)
            if not (info.num_waiting or info.num_ack_pending):
                problems.append(f"nobody pulls {spec.stream}/{spec.durable}")
    finally:
        await nc.close()
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: healthcheck.py <service package>", file=sys.stderr)
        return 2
    try:
        problems = asyncio.run(asyncio.wait_for(check(argv[1]), timeout=15))
    except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy", with its reason
        problems = [f"{type(exc).__name__}: {exc}"]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
