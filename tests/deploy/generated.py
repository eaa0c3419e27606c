"""The deploy generator and the services as the code builds them, for the deploy tests."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

from pydantic_settings import BaseSettings

from skill_adapter.runtime import Service

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@cache
def permissions() -> ModuleType:
    """``deploy/nats/permissions.py`` (a script, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "deploy_nats_permissions", DEPLOY / "nats" / "permissions.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def service_packages() -> list[str]:
    """Every service package: a folder of ``services/`` with a ``__main__.py``, except the CLI."""
    return sorted(
        path.parent.name for path in (ROOT / "services").glob("*/__main__.py") if path.parent.name != "cli"
    )


def real_service(package: str, state_dir: Path) -> Service:
    """The service object ``python -m skill_adapter.<package>`` runs (nothing connects)."""
    if package == "gateway":
        return importlib.import_module("skill_adapter.gateway.readmodel").build_service()
    settings_module = importlib.import_module(f"skill_adapter.{package}.settings")
    settings_class = next(
        value
        for value in vars(settings_module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == settings_module.__name__
    )
    build = importlib.import_module(f"skill_adapter.{package}.service").build_service
    return build(settings_class(state_dir=state_dir))
