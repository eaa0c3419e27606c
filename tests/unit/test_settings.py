from __future__ import annotations

from pathlib import Path

import pytest

from skill_adapter.runtime.settings import RuntimeSettings, normalize_database_url

pytestmark = pytest.mark.unit


def test_defaults_work_on_one_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("NATS_URL", "DATABASE_URL", "SKILL_ADAPTER_NATS_URL", "SKILL_ADAPTER_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SKILL_ADAPTER_STATE_DIR", str(tmp_path))
    settings = RuntimeSettings()
    assert settings.nats_url is None
    assert settings.embedded_nats
    assert settings.resolved_database_url() == f"sqlite+aiosqlite:///{tmp_path / 'skill-adapter.db'}"


def test_conventional_unprefixed_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://example:4222")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/skills")
    settings = RuntimeSettings()
    assert settings.nats_url == "nats://example:4222"
    assert settings.resolved_database_url() == "postgresql+asyncpg://u@db/skills"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
    ],
)
def test_database_urls_get_an_async_driver(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected
