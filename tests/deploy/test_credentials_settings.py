"""Services take their NATS credentials from settings: a password file, and their own inboxes."""

from __future__ import annotations

from pathlib import Path

import pytest

from skill_adapter.runtime.settings import RuntimeSettings

pytestmark = [pytest.mark.unit, pytest.mark.deploy]


def test_password_file_is_read_when_no_password_is_given(tmp_path: Path, monkeypatch) -> None:
    secret = tmp_path / "nats_password"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("SKILL_ADAPTER_NATS_USER", "trainer")
    monkeypatch.setenv("SKILL_ADAPTER_NATS_PASSWORD_FILE", str(secret))
    settings = RuntimeSettings()
    assert (settings.nats_user, settings.nats_password) == ("trainer", "s3cret")
    assert settings.nats_inbox_prefix() == "_INBOX_trainer"


def test_an_explicit_password_wins_and_no_user_keeps_the_default_inbox(tmp_path: Path) -> None:
    settings = RuntimeSettings(nats_password="given", nats_password_file=tmp_path / "absent")
    assert settings.nats_password == "given"
    assert settings.nats_inbox_prefix() == "_INBOX"


def test_a_missing_password_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        RuntimeSettings(nats_user="gateway", nats_password_file=tmp_path / "absent")
