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
        """Its package and, for a service with an extra, that extra's dependencies import."""
        try:
            if importlib.util.find_spec(self.module) is None:
                return False
        except ModuleNotFoundError:
            return False
        return all(
            importlib.util.find_spec(dep) is not None for dep in EXTRA_PROBES.get(self.extra or "", ())
        )


EXTRA_PROBES: dict[str, tuple[str, ...]] = {
    "gateway": ("litestar", "uvicorn"),
    "data-generator": ("httpx",),
    "trainer": ("torch", "trl", "peft"),
    "evaluator": ("httpx", "matplotlib"),
}


SERVICES: tuple[ServiceEntry, ...] = (
    ServiceEntry("skill-parser", "skill_adapter.skill_parser"),
    ServiceEntry("gateway", "skill_adapter.gateway", extra="gateway"),
    ServiceEntry("data-generator", "skill_adapter.data_generator", extra="data-generator"),
    ServiceEntry("trainer", "skill_adapter.trainer", extra="trainer"),
    ServiceEntry("evaluator", "skill_adapter.evaluator", extra="evaluator"),
)
"""Every service, in start order."""


def parse_extra(spec: str) -> ServiceEntry:
    """``NAME=MODULE`` from ``skill-adapter up --with``."""
    name, sep, module = spec.partition("=")
    if not sep or not name or not module:
        raise ValueError(f"expected NAME=MODULE, got {spec!r}")
    return ServiceEntry(name=name.strip(), module=module.strip())
