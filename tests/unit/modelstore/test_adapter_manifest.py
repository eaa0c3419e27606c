"""The adapter manifest: written and read back whole, refused when invalid."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from skill_adapter.modelstore import (
    ADAPTER_MANIFEST,
    AdapterManifest,
    ModelInfo,
    read_adapter_manifest,
    write_adapter_manifest,
)

pytestmark = pytest.mark.unit


def test_round_trip(tiny_model: ModelInfo, tmp_path: Path) -> None:
    manifest = AdapterManifest.for_base(
        tiny_model, rank=16, skill_name="json-reply", skill_version="ab12", job_id="ftjob-1"
    )
    assert manifest.base_model == tiny_model.id
    assert manifest.chat_template_sha256 == tiny_model.chat_template_sha256
    assert manifest.created_at.tzinfo is not None and manifest.created_at <= datetime.now(UTC)
    path = write_adapter_manifest(tmp_path, manifest)
    assert path == tmp_path / ADAPTER_MANIFEST
    assert read_adapter_manifest(tmp_path) == manifest
    assert json.loads(path.read_text())["format_version"] == 1


def test_no_manifest(tmp_path: Path) -> None:
    assert read_adapter_manifest(tmp_path) is None


@pytest.mark.parametrize(
    "content",
    [
        "{",
        json.dumps({"base_model": "m", "chat_template_sha256": None, "rank": 0}),
        json.dumps({"base_model": "m", "chat_template_sha256": None, "rank": 8, "surprise": 1}),
        json.dumps({"base_model": "m", "chat_template_sha256": None, "rank": 8, "format_version": 2}),
    ],
)
def test_invalid_manifests_are_refused(tmp_path: Path, content: str) -> None:
    (tmp_path / ADAPTER_MANIFEST).write_text(content)
    with pytest.raises(ValidationError):
        read_adapter_manifest(tmp_path)
