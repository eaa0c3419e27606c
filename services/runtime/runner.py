"""Run one service as a process: ``python -m skill_adapter.<service>`` calls ``run_service``."""

from __future__ import annotations

import asyncio

from .log import configure_logging
from .nats_server import nats_endpoint
from .service import Service
from .settings import RuntimeSettings


def run_service(service: Service, settings: RuntimeSettings) -> None:
    """Serve until SIGINT/SIGTERM, joining (or starting) the embedded NATS if needed."""
    configure_logging(settings.log_level, settings.log_format, service=service.name)
    with nats_endpoint(settings.state_dir, settings.nats_url, embedded=settings.embedded_nats) as url:
        app = service.create_app(settings.model_copy(update={"nats_url": url}))
        asyncio.run(app.run())
