"""The published JSON Schemas match the code, and a schema cannot change without a bump."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from skill_adapter.contracts import MESSAGES
from skill_adapter.contracts.schema_registry import (
    SNAPSHOT_DIR,
    breaking_changes,
    check,
    export_all,
    export_schema,
    write,
)

pytestmark = pytest.mark.unit


def test_published_schemas_match_the_contracts() -> None:
    problems = check()
    assert problems == [], "\n".join(problems)


def test_every_schema_is_valid_json_schema_and_validates_a_real_message() -> None:
    for subject, schema in export_all().items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["type"]["const"] == subject.rsplit(".v", 1)[0]
        assert set(schema["required"]) >= {"correlation_id", "producer"}
    sample = json.loads(
        MESSAGES["training.cmd.job.cancel.v1"](correlation_id="j", producer="p", job_id="j").model_dump_json()
    )
    jsonschema.validate(sample, export_schema("training.cmd.job.cancel.v1"))


def _schema_with(base: dict, **changes: object) -> dict:
    changed = json.loads(json.dumps(base))
    for key, value in changes.items():
        changed[key] = value
    return changed


def test_adding_an_optional_property_is_compatible() -> None:
    old = export_schema("training.evt.job.failed.v1")
    new = json.loads(json.dumps(old))
    new["properties"]["hint"] = {"type": "string"}
    assert breaking_changes(old, new) == []


@pytest.mark.parametrize("change", ["remove", "retype", "require"])
def test_other_changes_are_breaking(change: str) -> None:
    old = export_schema("training.evt.job.failed.v1")
    new = json.loads(json.dumps(old))
    if change == "remove":
        del new["properties"]["reason"]
    elif change == "retype":
        new["properties"]["reason"] = {"type": "integer"}
    else:
        new["required"] = [*new["required"], "code"]
    assert breaking_changes(old, new)


def test_a_definition_may_gain_an_optional_property_and_nothing_else() -> None:
    old = export_schema("skills.evt.skill.parsed.v1")
    definition = "OutputConstraint"
    assert old["$defs"][definition]["type"] == "object"

    def changed(edit: object) -> dict:
        new = json.loads(json.dumps(old))
        edit(new["$defs"][definition])  # type: ignore[operator]
        return new

    assert breaking_changes(old, changed(lambda d: d["properties"].update(extra={"type": "string"}))) == []
    assert breaking_changes(old, changed(lambda d: d.update(description="reworded"))) == []
    removed = breaking_changes(old, changed(lambda d: d["properties"].pop("criteria")))
    assert removed == [f"definition {definition!r}: property 'criteria' was removed"]
    required = breaking_changes(old, changed(lambda d: d.update(required=[*d["required"], "regex"])))
    assert required == [f"definition {definition!r}: property 'regex' became required"]
    closed = breaking_changes(old, changed(lambda d: d.update(additionalProperties=False)))
    assert closed == [f"definition {definition!r}: 'additionalProperties' changed"]
    new = json.loads(json.dumps(old))
    new["$defs"][definition] = {"type": "string"}
    assert breaking_changes(old, new) == [f"definition {definition!r} changed"]


def test_write_refuses_a_breaking_change_under_the_same_version(tmp_path: Path) -> None:
    snapshots = tmp_path / "schemas"
    shutil.copytree(SNAPSHOT_DIR, snapshots)
    target = snapshots / "training.evt.job.failed.v1.json"
    published = json.loads(target.read_text())
    published["properties"]["removed_since"] = {"type": "string"}  # the code no longer has it
    target.write_text(json.dumps(published))
    assert any("removed_since" in p and "breaking" in p for p in check(snapshots))
    refused = write(snapshots)
    assert refused and "removed_since" in refused[0]
    assert json.loads(target.read_text()) == published  # left as it was
