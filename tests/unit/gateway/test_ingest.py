"""How an upload is named, analyzed and stored (pure: no bucket, no broker)."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from skill_adapter.gateway.ingest import Upload, stored_form
from skill_adapter.skillspec.analysis import analyze
from tests.unit.gateway.builders import skill_md, skill_zip

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("filename", "data", "object_name"),
    [
        ("demo-skill/SKILL.md", b"---", "demo-skill/SKILL.md"),
        ("SKILL.md", b"---", "SKILL.md"),
        (None, b"---", "SKILL.md"),
        ("notes.md", b"---", "SKILL.md"),
        ("/etc/demo-skill/SKILL.md", b"---", "demo-skill/SKILL.md"),
        ("../../demo-skill/SKILL.md", b"---", "demo-skill/SKILL.md"),
        ("C:\\skills\\demo-skill\\SKILL.md", b"---", "demo-skill/SKILL.md"),
        ("demo-skill.zip", b"PK\x03\x04", "demo-skill.zip"),
        ("some/dir/demo-skill.ZIP", b"PK\x03\x04", "demo-skill.ZIP"),
        ("SKILL.md", b"PK\x03\x04", "skill.zip"),  # a zip is a zip whatever its name
    ],
)
def test_upload_object_name_keeps_only_the_last_folder(
    filename: str | None, data: bytes, object_name: str
) -> None:
    assert Upload(filename=filename, data=data).object_name() == object_name


def test_a_skill_md_is_stored_as_uploaded_under_its_name() -> None:
    upload = Upload(filename="SKILL.md", data=skill_md("demo-skill"))
    analysis = analyze(upload.data, upload.object_name())
    assert analysis.ok
    stored = stored_form(analysis, upload)
    assert stored.object_name == "demo-skill/SKILL.md"
    assert stored.data == upload.data
    assert stored.digest == hashlib.sha256(upload.data).hexdigest()


def test_a_zip_is_repacked_deterministically_under_its_name() -> None:
    upload = Upload(filename="whatever.zip", data=skill_zip("demo-skill", extra={"references/a.md": b"a"}))
    analysis = analyze(upload.data, upload.object_name())
    assert analysis.ok, analysis.errors
    stored = stored_form(analysis, upload)
    assert stored.object_name == "demo-skill.zip"
    assert sorted(zipfile.ZipFile(io.BytesIO(stored.data)).namelist()) == [
        "demo-skill/SKILL.md",
        "demo-skill/references/a.md",
    ]
    again = stored_form(analyze(upload.data, upload.object_name()), upload)
    assert again.data == stored.data and again.digest == stored.digest
