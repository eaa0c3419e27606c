"""Structured logging (structlog) for every process, readable on a console or as JSON.

Standard-library loggers (FastStream, Alembic, nats) go through the same renderer, so a
process prints one format. Per-message access logs of FastStream are kept at DEBUG.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

QUIET = {"faststream": logging.WARNING, "alembic": logging.WARNING, "nats": logging.WARNING}


def configure_logging(level: str = "INFO", fmt: str = "console", service: str | None = None) -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO

    def add_service(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        if service:
            event.setdefault("service", service)
        return event

    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        *([structlog.stdlib.add_logger_name] if fmt == "json" else []),
        add_service,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name, floor in QUIET.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
        logger.setLevel(max(floor, numeric))


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
