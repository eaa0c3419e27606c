"""Skills dropped into the bucket or the inbox folder come out parsed (with a rubric that cites
its sources) or rejected (with every error and its location)."""

from __future__ import annotations

import io
import shutil
import uuid
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from skill_adapter.contracts import SKILL_VERSIONS_BUCKET, SkillParsed, SkillRejected
from skill_adapter.skill_parser.models import Ingestion, SkillVersion
from skill_adapter.skillspec.bundle import from_directory, to_zip
from tests.support.corpus import cases, examples
from tests.support.helpers import eventually

pytestmark = pytest.mark.integration

SKILL = """---
name: {name}
description: Answers in JSON. Use when a caller needs machine-readable replies.
---
# {name}

Always respond with valid JSON.
Keep every reply under 50 words.
"""


def skill_md(name: str, extra: str = "") -> bytes:
    return (SKILL.format(name=name) + extra).encode()


async def count_versions(parser, name: str) -> int:
    async with parser.engine.connect() as conn:
        return (
            await conn.execute(
                select(func.count()).select_from(SkillVersion).where(SkillVersion.skill_name == name)
            )
        ).scalar_one()


@pytest.mark.parametrize("example", examples(), ids=lambda p: p.name)
async def test_each_example_skill_is_parsed_with_a_rubric_citing_its_sources(parser, example: Path) -> None:
    name = example.name
    await parser.put(f"{name}.zip", to_zip(from_directory(example), name))
    [event] = await parser.verdicts.wait(f"{name}.zip")
    assert isinstance(event, SkillParsed), getattr(event, "errors", None)
    assert event.skill_name == name
    assert event.rubric.skill_version == event.skill_version
    assert event.rubric.criteria, "the example skills state verifiable rules"
    deterministic = [c for c in event.rubric.criteria if c.deterministic]
    assert deterministic
    for criterion in event.rubric.criteria:
        assert criterion.provenance.file
        assert criterion.provenance.text
        if criterion.provenance.source == "body":
            assert criterion.provenance.line and criterion.provenance.line > 1
    assert {f.path for f in event.files} >= {"SKILL.md", "evals/evals.json"}
    stored = await parser.objects.get(SKILL_VERSIONS_BUCKET.name, event.bundle_object)
    assert zipfile.ZipFile(io.BytesIO(stored)).read(f"{name}/SKILL.md") == (example / "SKILL.md").read_bytes()


async def test_same_content_twice_is_one_version_and_a_change_is_a_new_one(parser) -> None:
    name = f"json-{uuid.uuid4().hex[:8]}"
    await parser.put(f"{name}/SKILL.md", skill_md(name))
    [first] = await parser.verdicts.wait(f"{name}/SKILL.md")
    # the same content, packed differently (a zip, CRLF line endings), is the same version
    crlf = skill_md(name).replace(b"\n", b"\r\n")
    await parser.put(f"{name}.zip", to_zip(_bundle({"SKILL.md": crlf}), name))
    [second] = await parser.verdicts.wait(f"{name}.zip")
    assert isinstance(first, SkillParsed) and isinstance(second, SkillParsed)
    assert first.new_version and not second.new_version
    assert second.skill_version == first.skill_version
    await parser.put(f"{name}/SKILL.md", skill_md(name, "Never use emoji.\n"))
    [_, third] = await parser.verdicts.wait(f"{name}/SKILL.md", count=2)
    assert isinstance(third, SkillParsed) and third.new_version
    assert third.skill_version != first.skill_version and third.skill_name == name
    assert await count_versions(parser, name) == 2


async def test_inbox_folder_is_mirrored_once_the_file_is_stable(parser) -> None:
    name = f"inbox-{uuid.uuid4().hex[:8]}"
    inbox = parser.settings.resolved_inbox()
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / f"{name}.md").write_bytes(skill_md(name))
    [event] = await parser.verdicts.wait(f"{name}/SKILL.md")
    assert isinstance(event, SkillParsed) and event.skill_name == name
    for example in examples():  # a whole skill folder dropped in (made unique: the bucket is shared)
        shutil.copytree(example, inbox / example.name)
        with (inbox / example.name / "SKILL.md").open("a") as skill:
            skill.write(f"\nReviewed in run {name}.\n")
        [event] = await parser.verdicts.wait(f"{example.name}.zip")
        assert isinstance(event, SkillParsed) and event.skill_name == example.name
        assert any(c.provenance.source == "body" and c.provenance.line for c in event.rubric.criteria)


async def test_reconciler_ingests_what_arrived_while_the_service_was_down(parser) -> None:
    await parser.stop()
    name = f"offline-{uuid.uuid4().hex[:8]}"
    await parser.put(f"{name}/SKILL.md", skill_md(name))
    await parser.start()
    [event] = await parser.verdicts.wait(f"{name}/SKILL.md")
    assert isinstance(event, SkillParsed)

    async def recorded() -> bool:
        async with parser.engine.connect() as conn:
            rows = await conn.execute(
                select(Ingestion.verdict).where(Ingestion.object_name == f"{name}/SKILL.md")
            )
            return rows.scalars().all() == ["parsed"]

    await eventually(recorded, what="the ingestion record")


BROKEN = cases("broken")


@pytest.mark.parametrize("case", BROKEN, ids=lambda c: c.name)
async def test_broken_skill_is_rejected_precisely_and_nothing_is_stored(parser, case) -> None:
    data, object_name = case.upload()
    await parser.put(object_name, data)
    [event] = await parser.verdicts.wait(object_name)
    assert isinstance(event, SkillRejected), f"{case.name} was accepted"
    codes = {e.code for e in event.errors}
    assert set(case.codes) <= codes, (
        f"{case.name}: expected {case.codes}, got {sorted(codes)}: {event.reason}"
    )
    assert event.reason
    if event.skill_name:
        assert await count_versions(parser, event.skill_name) == 0


async def test_the_service_keeps_consuming_after_the_broken_corpus(parser) -> None:
    for case in BROKEN[:10]:
        data, object_name = case.upload()
        await parser.put(f"again-{uuid.uuid4().hex[:6]}-{object_name}", data)
    name = f"after-{uuid.uuid4().hex[:8]}"
    await parser.put(f"{name}/SKILL.md", skill_md(name))
    [event] = await parser.verdicts.wait(f"{name}/SKILL.md", timeout=30)
    assert isinstance(event, SkillParsed)


def _bundle(files: dict[str, bytes]):
    from skill_adapter.skillspec.document import Bundle

    return Bundle(files)
