"""The services ``skill-adapter up`` runs, each as its own process (``python -m MODULE``).

A service appears here once it exists; one whose extra is not installed is skipped with a
note, so a gateway-only install still comes up.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    module: str
    extra: str | None = None

    def available(self) -> bool:
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:
            return False


SERVICES: tuple[ServiceEntry, ...] = ()
"""Filled in as the services land (skill-parser, data-generator, trainer, evaluator, gateway)."""


def parse_extra(spec: str) -> ServiceEntry:
    """``NAME=MODULE`` from ``skill-adapter up --with``."""
    name, sep, module = spec.partition("=")
    if not sep or not name or not module:
        raise ValueError(f"expected NAME=MODULE, got {spec!r}")
    return ServiceEntry(name=name.strip(), module=module.strip())
