"""JSON Schema export of every contract, and the guard against unversioned changes.

``contracts/schemas/<subject>.json`` holds the published schema of each subject. A schema may
change under the same subject only by *adding optional properties*; anything else (removing or
retyping a property, making one required, changing a definition) needs a new major version:
a new class whose subject ends in ``.v2``. ``python -m skill_adapter.contracts.schema_registry
--write`` refreshes the snapshots and refuses breaking changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .catalog import MESSAGES

SNAPSHOT_DIR = Path(__file__).parent / "schemas"


def export_schema(subject: str) -> dict[str, Any]:
    model = MESSAGES[subject]
    schema = model.model_json_schema(mode="validation")
    schema["$id"] = f"urn:skill-adapter:{subject}"
    schema["x-subject"] = subject
    return schema


def export_all() -> dict[str, dict[str, Any]]:
    return {subject: export_schema(subject) for subject in MESSAGES}


def snapshot_path(subject: str, directory: Path = SNAPSHOT_DIR) -> Path:
    return directory / f"{subject}.json"


def load_snapshots(directory: Path = SNAPSHOT_DIR) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def _object_changes(old: dict[str, Any], new: dict[str, Any], where: str = "") -> list[str]:
    """Why object schema ``new`` cannot replace ``old``: only optional properties may be added."""
    problems: list[str] = []
    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    for name, schema in old_props.items():
        if name not in new_props:
            problems.append(f"{where}property {name!r} was removed")
        elif new_props[name] != schema:
            problems.append(f"{where}property {name!r} changed")
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        problems.append(f"{where}property {name!r} became required")
    rest = {k: v for k, v in old.items() if k not in ("properties", "required", "description")}
    for key in sorted(rest.keys() | (new.keys() - {"properties", "required", "description"})):
        if old.get(key) != new.get(key):
            problems.append(f"{where}{key!r} changed")
    return problems


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why ``new`` cannot replace ``old`` under the same version (empty: it can).

    The message and each of its definitions may only gain optional properties (and change
    descriptions); a definition that is not an object schema (an enum, a union) must not change.
    """
    problems = _object_changes(
        {k: v for k, v in old.items() if k != "$defs"}, {k: v for k, v in new.items() if k != "$defs"}
    )
    for name, schema in old.get("$defs", {}).items():
        replacement = new.get("$defs", {}).get(name, schema)
        if replacement == schema:
            continue
        if schema.get("type") == "object" and replacement.get("type") == "object":
            problems.extend(_object_changes(schema, replacement, f"definition {name!r}: "))
        else:
            problems.append(f"definition {name!r} changed")
    return problems


def check(directory: Path = SNAPSHOT_DIR) -> list[str]:
    """Every difference between the code and the snapshots, as messages for a person."""
    current, published = export_all(), load_snapshots(directory)
    problems: list[str] = []
    for subject, schema in current.items():
        if subject not in published:
            problems.append(f"{subject}: new contract without a published schema (run --write)")
            continue
        if schema == published[subject]:
            continue
        breaking = breaking_changes(published[subject], schema)
        if breaking:
            problems.append(
                f"{subject}: breaking change without a version bump ({'; '.join(breaking)}); "
                "add a new class with subject .v<major+1> instead"
            )
        else:
            problems.append(f"{subject}: compatible change not yet published (run --write)")
    for subject in sorted(set(published) - set(current)):
        problems.append(f"{subject}: published schema has no contract any more")
    return problems


def write(directory: Path = SNAPSHOT_DIR) -> list[str]:
    """Publish compatible changes; return the breaking ones, which are not written."""
    directory.mkdir(parents=True, exist_ok=True)
    published = load_snapshots(directory)
    refused: list[str] = []
    for subject, schema in export_all().items():
        old = published.get(subject)
        if old is not None and (breaking := breaking_changes(old, schema)):
            refused.append(f"{subject}: {'; '.join(breaking)}")
            continue
        snapshot_path(subject, directory).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    return refused


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="publish compatible schema changes")
    args = parser.parse_args(argv)
    if args.write:
        refused = write()
        for line in refused:
            print(f"refused (needs a version bump): {line}", file=sys.stderr)
        return 1 if refused else 0
    problems = check()
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
