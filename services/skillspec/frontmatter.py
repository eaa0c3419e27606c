"""Split a SKILL.md into frontmatter and body, and read the frontmatter as *safe* YAML.

Anchors, aliases and explicit tags are refused (they buy nothing in a few lines of metadata
and enable billion-laughs expansion and type confusion); duplicate keys are refused instead of
silently keeping the last one. Scalars keep the text the author wrote: ``name: 2024`` is the
string ``"2024"``, as in the reference validator, not an integer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from skill_adapter.contracts import Diagnostic

from .diagnostics import Code, error

FENCE = "---"


@dataclass
class Field:
    """One frontmatter value: a string, a list of strings, a string map, or a refusal."""

    key: str
    line: int
    value: str | list[str] | dict[str, str] | None
    kind: str  # "scalar" | "sequence" | "mapping" | "nested"
    tag: str = "tag:yaml.org,2002:str"  # what YAML resolves a scalar to (int, bool, null, ...)


@dataclass
class Frontmatter:
    fields: dict[str, Field] = field(default_factory=dict)
    body: str = ""
    body_line: int = 1


def split(text: str, file: str, max_bytes: int) -> tuple[str, str, int] | list[Diagnostic]:
    """``(yaml text, body, body start line)`` or the reason it cannot be split."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != FENCE:
        return [
            error(Code.MISSING_FRONTMATTER, "SKILL.md must start with '---' and YAML frontmatter", file, 1)
        ]
    for index in range(1, len(lines)):
        if lines[index].rstrip() in (FENCE, "..."):
            yaml_text = "\n".join(lines[1:index])
            if len(yaml_text.encode()) > max_bytes:
                return [
                    error(
                        Code.FRONTMATTER_TOO_LARGE,
                        f"frontmatter is {len(yaml_text.encode())} bytes; at most {max_bytes} allowed",
                        file,
                        2,
                    )
                ]
            return yaml_text, "\n".join(lines[index + 1 :]), index + 2
    return [error(Code.UNTERMINATED_FRONTMATTER, "frontmatter is not closed with a '---' line", file, 1)]


def parse(text: str, file: str, max_bytes: int) -> Frontmatter | list[Diagnostic]:
    parts = split(text, file, max_bytes)
    if isinstance(parts, list):
        return parts
    yaml_text, body, body_line = parts
    offset = 1  # YAML line 1 is SKILL.md line 2
    problems = _unsafe_constructs(yaml_text, file, offset)
    if problems:
        return problems
    try:
        root = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return [_yaml_error(exc, file, offset)]
    if root is None:
        return Frontmatter(body=body, body_line=body_line)
    if not isinstance(root, MappingNode):
        return [error(Code.FRONTMATTER_NOT_MAPPING, "frontmatter must be a YAML mapping of fields", file, 2)]
    result = Frontmatter(body=body, body_line=body_line)
    duplicates: list[Diagnostic] = []
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1 + offset
        if not isinstance(key_node, ScalarNode):
            return [error(Code.FRONTMATTER_NOT_MAPPING, "frontmatter keys must be plain names", file, line)]
        key = key_node.value
        if key in result.fields:
            duplicates.append(
                error(
                    Code.YAML_DUPLICATE_KEY,
                    f"field {key!r} appears twice (first on line {result.fields[key].line})",
                    file,
                    line,
                )
            )
            continue
        result.fields[key] = _field(key, line, value_node)
    return duplicates or result


def _field(key: str, line: int, node: Node) -> Field:
    if isinstance(node, ScalarNode):
        value = (
            None
            if node.tag.endswith(":null") and node.value in ("", "~", "null", "Null", "NULL")
            else node.value
        )
        return Field(key, line, value, "scalar", node.tag)
    if isinstance(node, SequenceNode):
        if all(isinstance(item, ScalarNode) for item in node.value):
            return Field(key, line, [item.value for item in node.value], "sequence")
        return Field(key, line, None, "nested")
    if isinstance(node, MappingNode):
        mapping: dict[str, str] = {}
        for k, v in node.value:
            if not isinstance(k, ScalarNode) or not isinstance(v, ScalarNode):
                return Field(key, line, None, "nested")
            mapping[k.value] = v.value
        return Field(key, line, mapping, "mapping")
    return Field(key, line, None, "nested")


MAX_DEPTH = 20
"""Frontmatter is a few fields; deeper nesting is refused before it can exhaust the stack."""


def _unsafe_constructs(yaml_text: str, file: str, offset: int) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    depth = 0
    try:
        for event in yaml.parse(yaml_text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1 + offset
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return [
                        error(
                            Code.YAML_SYNTAX, f"frontmatter nests deeper than {MAX_DEPTH} levels", file, line
                        )
                    ]
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.AliasEvent):
                problems.append(
                    error(Code.YAML_ALIAS, f"YAML alias '*{event.anchor}' is not allowed", file, line)
                )
            elif getattr(event, "anchor", None):
                problems.append(
                    error(Code.YAML_ALIAS, f"YAML anchor '&{event.anchor}' is not allowed", file, line)
                )
            tag = getattr(event, "tag", None)
            implicit = getattr(event, "implicit", True)
            explicit = tag is not None and (implicit is False or implicit == (False, False))
            if explicit and not isinstance(event, yaml.DocumentStartEvent):
                problems.append(error(Code.YAML_TAG, f"YAML tag {tag!r} is not allowed", file, line))
    except yaml.YAMLError as exc:
        return [_yaml_error(exc, file, offset)]
    except RecursionError:
        return [error(Code.YAML_SYNTAX, "frontmatter nests too deeply to read", file, 2)]
    return problems


def _yaml_error(exc: yaml.YAMLError, file: str, offset: int) -> Diagnostic:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 + offset if mark is not None else 2
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    return error(Code.YAML_SYNTAX, message, file, line)
