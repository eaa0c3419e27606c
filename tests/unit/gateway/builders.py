"""Skills, rubrics and events for the gateway's tests, built inline (pure, no I/O)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from skill_adapter.contracts import (
    Criterion,
    Diagnostic,
    JudgeCheck,
    LengthCheck,
    Provenance,
    Rubric,
    RubricCoverage,
    SkillFile,
    SkillParsed,
    SkillRejected,
    ValidJsonCheck,
)


def skill_md(name: str = "demo-skill", body: str = "Always respond with valid JSON.\n") -> bytes:
    return (
        f"---\nname: {name}\ndescription: Replies in JSON. Use when the user asks for JSON.\n---\n{body}"
    ).encode()


def skill_zip(
    name: str = "demo-skill", extra: dict[str, bytes] | None = None, top: str | None = None
) -> bytes:
    """A zip of the skill folder ``top/`` (the skill's name unless given)."""
    folder = top if top is not None else name
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{folder}/SKILL.md", skill_md(name))
        for path, data in (extra or {}).items():
            archive.writestr(f"{folder}/{path}", data)
    return buffer.getvalue()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def criterion(
    identifier: str, check: Any, text: str, *, weight: float = 1.0, eval_id: str | None = None
) -> Criterion:
    return Criterion(
        id=identifier,
        description=text,
        check=check,
        weight=weight,
        provenance=Provenance(source="body", file="SKILL.md", line=5, text=text),
        eval_id=eval_id,
    )


def json_rubric(name: str = "demo-skill", version: str | None = None, *, judge: bool = True) -> Rubric:
    """valid JSON + at most 50 words (+ a judge criterion, never evaluated without a judge)."""
    criteria = [
        criterion("valid-json", ValidJsonCheck(), "Always respond with valid JSON."),
        criterion("short", LengthCheck(unit="words", max=50), "Keep replies under 50 words."),
    ]
    if judge:
        criteria.append(criterion("polite", JudgeCheck(instruction="The reply is polite."), "Be polite."))
    return Rubric(
        skill_name=name,
        skill_version=version or sha(name),
        criteria=criteria,
        coverage=RubricCoverage(
            constraint_sentences=3,
            compiled_sentences=2,
            deterministic_criteria=2,
            judge_criteria=1 if judge else 0,
        ),
    )


def skill_parsed(
    name: str,
    version: str | None = None,
    *,
    description: str = "Replies in JSON. Use when the user asks for JSON.",
    occurred_at: datetime | None = None,
    event_id: str | None = None,
) -> SkillParsed:
    version = version or sha(f"{name}:v1")
    fields: dict[str, Any] = {
        "correlation_id": f"skill:{name}",
        "producer": "tests",
        "skill_name": name,
        "skill_version": version,
        "object_name": f"{name}/SKILL.md",
        "digest": sha(f"{name}:{version}:object"),
        "bundle_object": f"{name}/{version}.zip",
        "description": description,
        "new_version": True,
        "files": [SkillFile(path="SKILL.md", size=120, digest=sha(f"{name}:{version}:file"))],
        "warnings": [
            Diagnostic(
                severity="warning", code="body_long", message="the body is long", file="SKILL.md", line=9
            )
        ],
        "rubric": json_rubric(name, version),
        "occurred_at": occurred_at or datetime.now(UTC),
    }
    if event_id:
        fields["event_id"] = event_id
    return SkillParsed(**fields)


def skill_rejected(
    object_name: str, *, skill_name: str | None = None, at: datetime | None = None
) -> SkillRejected:
    return SkillRejected(
        correlation_id=f"skill:{skill_name or object_name}",
        producer="tests",
        object_name=object_name,
        digest=sha(object_name),
        skill_name=skill_name,
        reason="name 'Bad_Name' must be lowercase letters, digits and hyphens (SKILL.md:2)",
        errors=[
            Diagnostic(
                severity="error",
                code="name_invalid",
                message="name 'Bad_Name' must be lowercase letters, digits and hyphens",
                file="SKILL.md",
                line=2,
            )
        ],
        occurred_at=at or datetime.now(UTC),
    )


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)
