"""Layering rules: contracts are data; a service imports only contracts, the runtime and itself.

(import-linter cannot see ``skill_adapter.contracts``, which the packaging maps from the
top-level ``contracts/`` folder, so these rules read the import statements directly.)"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SHARED = {"contracts", "runtime", "skillspec", "modelstore"}  # libraries every service may use
NOT_SERVICES = {"runtime", "cli", "skillspec", "modelstore"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def service_packages() -> list[Path]:
    return sorted(
        p
        for p in (ROOT / "services").iterdir()
        if (p / "__init__.py").exists() and p.name not in NOT_SERVICES
    )


@pytest.mark.parametrize("package", service_packages() or [None], ids=lambda p: p.name if p else "none-yet")
def test_a_service_imports_only_contracts_runtime_and_itself(package: Path | None) -> None:
    if package is None:
        assert (ROOT / "services" / "runtime").is_dir()  # the rule applies as soon as a service lands
        return
    allowed = SHARED | {package.name}
    for source in package.rglob("*.py"):
        for module in imported_modules(source):
            parts = module.split(".")
            if parts[0] == "skill_adapter" and len(parts) > 1:
                assert parts[1] in allowed, f"{source.relative_to(ROOT)} imports {module}"


def test_contracts_import_nothing_heavier_than_pydantic() -> None:
    allowed_roots = set(sys.stdlib_module_names) | {"pydantic", "pydantic_core", "__future__"}
    for source in (ROOT / "contracts").rglob("*.py"):
        for module in imported_modules(source):
            root = module.split(".")[0]
            assert root in allowed_roots or module.startswith("skill_adapter.contracts"), (
                f"{source.relative_to(ROOT)} imports {module}"
            )


@pytest.mark.parametrize("library", ["runtime", "skillspec", "modelstore"])
def test_shared_libraries_depend_on_contracts_and_themselves_only(library: str) -> None:
    for source in (ROOT / "services" / library).rglob("*.py"):
        for module in imported_modules(source):
            parts = module.split(".")
            if parts[0] == "skill_adapter" and len(parts) > 1:
                assert parts[1] in {"contracts", library}, f"{source.relative_to(ROOT)} imports {module}"


def test_every_package_directory_is_packaged() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {"skill_adapter"}
    for base, prefix in (
        (ROOT / "services", "skill_adapter"),
        (ROOT / "contracts", "skill_adapter.contracts"),
    ):
        if base.name == "contracts":
            found.add(prefix)
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if rel.parts:
                found.add(".".join([prefix, *rel.parts]))
    assert found == listed
