"""``evals/rubric.yaml``: the author's own criteria, read safely and checked line by line.

A file that is not valid YAML, uses aliases, or does not validate as a ``RubricFile`` is an
error diagnostic (``rubric_file_invalid``) with the line at fault, and none of it is used. A
criterion whose id is used twice, or whose check cannot run (``validate_check``), is an error
and is left out; the others are kept, each with its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from skill_adapter.contracts import Diagnostic, RubricFile
from skill_adapter.contracts.rubric import RubricFileCriterion

from ..diagnostics import Code, error
from ..document import Bundle
from .checks import validate_check

RUBRIC_PATHS = ("evals/rubric.yaml", "evals/rubric.yml")


@dataclass(frozen=True)
class AuthoredCriterion:
    """A usable criterion of the rubric file, with where it is."""

    criterion: RubricFileCriterion
    path: str
    line: int | None


def _node_line(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the YAML node at ``loc`` (keys not found are skipped), or of its nearest parent."""
    from yaml.nodes import MappingNode, SequenceNode

    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, MappingNode):
            found = [value for key, value in node.value if getattr(key, "value", None) == part]
            if not found:
                continue
            node = found[0]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _where(loc: tuple[Any, ...]) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    return text or "(root)"


def load_rubric_file(
    text: str, path: str
) -> tuple[RubricFile | None, dict[int, int | None], list[Diagnostic]]:
    """The parsed rubric file, the line of each criterion, and its problems (``None`` if unusable)."""
    import yaml

    def failed(message: str, line: int | None = None) -> tuple[None, dict[int, int | None], list[Diagnostic]]:
        return None, {}, [error(Code.RUBRIC_FILE_INVALID, message, path, line)]

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                return failed("YAML aliases are not allowed in a rubric file", event.start_mark.line + 1)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        return failed(f"not valid YAML: {problem}", mark.line + 1 if mark else None)
    if data is None:
        return failed("the rubric file is empty")
    try:
        parsed = RubricFile.model_validate(data)
    except ValidationError as exc:
        return (
            None,
            {},
            [
                error(
                    Code.RUBRIC_FILE_INVALID,
                    f"{_where(e['loc'])}: {e['msg']}",
                    path,
                    _node_line(node, e["loc"]),
                )
                for e in exc.errors()[:20]
            ],
        )
    lines = {i: _node_line(node, ("criteria", i)) for i in range(len(parsed.criteria))}
    return parsed, lines, []


def authored_criteria(bundle: Bundle) -> tuple[list[AuthoredCriterion], list[Diagnostic]]:
    """The usable criteria of the bundle's rubric file (none if it has none) and its problems."""
    path = next((p for p in RUBRIC_PATHS if p in bundle.files), None)
    if path is None:
        return [], []
    rubric_file, lines, problems = load_rubric_file(bundle.text(path) or "", path)
    if rubric_file is None:
        return [], problems
    usable: list[AuthoredCriterion] = []
    seen: set[str] = set()
    for index, item in enumerate(rubric_file.criteria):
        line = lines.get(index)
        if item.id in seen:
            message = f"criteria[{index}]: id {item.id!r} is used twice"
            problems.append(error(Code.RUBRIC_FILE_INVALID, message, path, line))
            continue
        seen.add(item.id)
        if issues := validate_check(item.check):
            problems.extend(
                error(Code.RUBRIC_FILE_INVALID, f"criteria[{index}] ({item.id}): {issue}", path, line)
                for issue in issues
            )
            continue
        usable.append(AuthoredCriterion(item, path, line))
    return usable, problems
