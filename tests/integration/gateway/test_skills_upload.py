"""``POST /v1/skills``: an immediate verdict; valid skills are stored and their ingestion asked."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from skill_adapter.contracts import SKILLS_BUCKET, IngestSkill, ingest_event_id
from skill_adapter.runtime.objects import Objects
from skill_adapter.skillspec.bundle import load_bundle, to_zip
from tests.integration.gateway.conftest import Gateway, StartGateway, error_of
from tests.support.helpers import eventually
from tests.unit.gateway.builders import skill_md, skill_parsed, skill_zip

pytestmark = pytest.mark.integration


@dataclass
class Ingests:
    """Every IngestSkill published while the test runs."""

    received: list[Msg] = field(default_factory=list)

    async def collect(self, msg: Msg) -> None:
        self.received.append(msg)

    def for_object(self, object_name: str) -> list[tuple[IngestSkill, dict[str, str]]]:
        commands = [(IngestSkill.model_validate_json(m.data), dict(m.headers or {})) for m in self.received]
        return [(c, h) for c, h in commands if c.object_name == object_name]

    def objects(self) -> list[str]:
        return [IngestSkill.model_validate_json(m.data).object_name for m in self.received]

    async def wait_for(self, object_name: str) -> tuple[IngestSkill, dict[str, str]]:
        [found] = await eventually(
            lambda: _now(self.for_object(object_name)), what=f"IngestSkill for {object_name}"
        )
        return found


async def _now(value: Any) -> Any:
    return value


@pytest.fixture
async def ingests(nc: Client) -> AsyncIterator[Ingests]:
    seen = Ingests()
    sub = await nc.subscribe(IngestSkill.SUBJECT, cb=seen.collect)
    yield seen
    await sub.unsubscribe()


async def upload(
    gateway: Gateway,
    filename: str,
    data: bytes,
    headers: dict[str, str],
    *,
    mode: str | None = None,
    validate_only: bool = False,
) -> Any:
    return await gateway.client.post(
        "/v1/skills",
        headers=headers,
        files={"file": (filename, data, "application/octet-stream")},
        data={"mode": mode} if mode else None,
        params={"validate_only": "true"} if validate_only else None,
    )


async def stored(js: JetStreamContext, object_name: str) -> bytes | None:
    objects = Objects(js)
    if await objects.info(SKILLS_BUCKET.name, object_name) is None:
        return None
    return await objects.get(SKILLS_BUCKET.name, object_name)


async def barrier(gateway: Gateway, ingests: Ingests, headers: dict[str, str], unique: str) -> None:
    """Upload another skill and wait for its command: anything published before it arrived."""
    name = f"barrier-{unique}"
    response = await upload(gateway, f"{name}/SKILL.md", skill_md(name), headers)
    assert response.status_code == 202, response.text
    await ingests.wait_for(f"{name}/SKILL.md")


async def test_a_valid_skill_md_is_stored_and_its_ingestion_requested(
    gateway: Gateway, ingests: Ingests, js: JetStreamContext, unique: str
) -> None:
    headers = await gateway.auth("skills:write")
    name = f"demo-{unique}"
    data = skill_md(name)
    response = await upload(gateway, f"{name}/SKILL.md", data, headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body == {
        "object": "skill.version",
        "name": name,
        "version": body["version"],
        "status": "processing",
        "warnings": [],
        "criteria": 1,
    }
    assert len(body["version"]) == 64
    assert response.headers["location"] == f"/v1/skills/{name}/versions/{body['version']}"

    object_name = f"{name}/SKILL.md"
    assert await stored(js, object_name) == data
    command, msg_headers = await ingests.wait_for(object_name)
    digest = hashlib.sha256(data).hexdigest()
    info = await Objects(js).info(SKILLS_BUCKET.name, object_name)
    assert info is not None and command.object_nuid == info.nuid, "the command names this put"
    assert command.event_id == ingest_event_id(object_name, digest, info.nuid) == msg_headers["Nats-Msg-Id"]
    assert (command.digest, command.source, command.mode) == (digest, "api", "strict")
    assert (command.producer, command.correlation_id) == ("gateway", f"object:{object_name}")


async def test_a_zip_is_stored_as_a_normalized_bundle(
    gateway: Gateway, ingests: Ingests, js: JetStreamContext, unique: str
) -> None:
    headers = await gateway.auth("skills:write")
    name = f"zipped-{unique}"
    data = skill_zip(name, extra={"references/guide.md": b"# Guide\n", "evals/notes.txt": b"notes"})
    response = await upload(gateway, "upload.zip", data, headers)  # any file name; the folder decides
    assert response.status_code == 202, response.text

    object_name = f"{name}.zip"
    kept = await stored(js, object_name)
    assert kept is not None
    bundle, _ = load_bundle(data, object_name)
    assert kept == to_zip(bundle, name)
    assert sorted(zipfile.ZipFile(io.BytesIO(kept)).namelist()) == [
        f"{name}/SKILL.md",
        f"{name}/evals/notes.txt",
        f"{name}/references/guide.md",
    ]
    command, _ = await ingests.wait_for(object_name)
    assert command.digest == hashlib.sha256(kept).hexdigest()
    assert command.event_id == ingest_event_id(object_name, command.digest, command.object_nuid)


async def test_lenient_mode_accepts_what_strict_refuses(
    gateway: Gateway, ingests: Ingests, unique: str
) -> None:
    headers = await gateway.auth("skills:write")
    name = f"lenient-{unique}"
    data = skill_md(name).replace(b"---\nAlways", b"argument-hint: a question\n---\nAlways")
    strict = await upload(gateway, f"{name}/SKILL.md", data, headers)
    assert strict.status_code == 422
    assert [e["code"] for e in error_of(strict)["errors"]] == ["unknown_field"]

    lenient = await upload(gateway, f"{name}/SKILL.md", data, headers, mode="lenient")
    assert lenient.status_code == 202, lenient.text
    [warning] = lenient.json()["warnings"]
    assert (warning["severity"], warning["code"], warning["line"]) == ("warning", "unknown_field", 4)
    command, _ = await ingests.wait_for(f"{name}/SKILL.md")
    assert command.mode == "lenient"


async def test_validate_only_reports_without_storing_or_publishing(
    gateway: Gateway, ingests: Ingests, js: JetStreamContext, unique: str
) -> None:
    headers = await gateway.auth("skills:write")
    name = f"checked-{unique}"
    response = await upload(gateway, f"{name}/SKILL.md", skill_md(name), headers, validate_only=True)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["object"] == "skill.validation" and report["valid"] is True
    assert (report["name"], report["mode"], report["warnings"]) == (name, "strict", [])
    assert report["criteria"] == len(report["rubric"]["criteria"]) == 1
    assert report["rubric"]["criteria"][0]["check"]["kind"] == "valid_json"
    assert [f["path"] for f in report["files"]] == ["SKILL.md"]
    assert "location" not in response.headers

    await barrier(gateway, ingests, headers, unique)
    assert await stored(js, f"{name}/SKILL.md") is None
    assert ingests.for_object(f"{name}/SKILL.md") == []


@pytest.mark.parametrize(
    ("filename", "data", "codes"),
    [
        ("Bad_Name/SKILL.md", skill_md("Bad_Name"), ["name_invalid"]),
        ("other/SKILL.md", skill_md("demo-skill"), ["name_mismatch"]),
        ("demo-skill.zip", b"PK\x03\x04 not really a zip", ["bundle_invalid"]),
        ("demo-skill/SKILL.md", b"no frontmatter at all\n", None),
    ],
)
async def test_an_invalid_skill_is_422_with_every_diagnostic_and_nothing_happens(
    gateway: Gateway,
    ingests: Ingests,
    js: JetStreamContext,
    unique: str,
    filename: str,
    data: bytes,
    codes: list[str] | None,
) -> None:
    headers = await gateway.auth("skills:write")
    response = await upload(gateway, filename, data, headers)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        "file",
        "invalid_skill",
    )
    assert error["errors"], error
    for diagnostic in error["errors"]:
        assert set(diagnostic) == {"severity", "code", "message", "file", "line"}
    first = error["errors"][0]
    assert error["message"].startswith(first["message"])
    if codes is not None:
        assert [d["code"] for d in error["errors"] if d["severity"] == "error"] == codes

    await barrier(gateway, ingests, headers, unique)
    assert ingests.objects() == [f"barrier-{unique}/SKILL.md"]
    for object_name in {filename, "demo-skill/SKILL.md", "demo-skill.zip"}:
        info = await Objects(js).info(SKILLS_BUCKET.name, object_name)  # other tests may use these names
        assert info is None or info.digest != hashlib.sha256(data).hexdigest()


async def test_a_known_version_is_answered_from_the_read_model(
    gateway: Gateway, ingests: Ingests, unique: str
) -> None:
    headers = await gateway.auth("skills:write", "skills:read")
    name = f"twice-{unique}"
    first = await upload(gateway, f"{name}/SKILL.md", skill_md(name), headers)
    assert first.status_code == 202
    version = first.json()["version"]
    await ingests.wait_for(f"{name}/SKILL.md")

    # What the skill-parser announces once it has ingested the upload.
    await gateway.publish(skill_parsed(name, version))
    await gateway.wait_for(f"/v1/skills/{name}/versions/{version}", headers, "the parsed version")

    again = await upload(gateway, f"{name}/SKILL.md", skill_md(name), headers)
    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["object"], body["status"], body["name"], body["version"]) == (
        "skill.version",
        "ready",
        name,
        version,
    )
    assert "rubric" in body
    assert again.headers["location"] == f"/v1/skills/{name}/versions/{version}"
    as_zip = await upload(gateway, f"{name}.zip", skill_zip(name), headers)  # same content, other packing
    assert as_zip.status_code == 200
    assert as_zip.json()["version"] == version

    await barrier(gateway, ingests, headers, unique)
    assert len(ingests.for_object(f"{name}/SKILL.md")) == 1
    assert ingests.for_object(f"{name}.zip") == []


async def test_an_upload_over_the_cap_is_413(
    start_gateway: StartGateway, ingests: Ingests, js: JetStreamContext, unique: str
) -> None:
    name = f"big-{unique}"
    data = skill_md(name, body="Always respond with valid JSON.\n" + "x" * 2000 + "\n")
    async with start_gateway(max_upload_bytes=1000) as gw:
        response = await upload(gw, f"{name}/SKILL.md", data, await gw.auth("skills:write"))
    assert response.status_code == 413
    error = error_of(response)
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        "file",
        "file_too_large",
    )
    assert "1000 bytes" in error["message"]
    assert await stored(js, f"{name}/SKILL.md") is None


async def test_a_form_without_a_file_or_with_a_bad_mode_is_400(gateway: Gateway) -> None:
    headers = await gateway.auth("skills:write")
    no_file = await gateway.client.post("/v1/skills", headers=headers, files={"mode": (None, "strict")})
    assert no_file.status_code == 400
    assert error_of(no_file)["param"] == "file"
    bad_mode = await upload(gateway, "demo-skill/SKILL.md", skill_md(), headers, mode="wild")
    assert bad_mode.status_code == 400
    assert error_of(bad_mode)["param"] == "mode"
