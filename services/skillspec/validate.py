"""The Agent Skills rules for a SKILL.md, in strict and lenient modes.

Strict follows the specification. Lenient loads what agent clients load, turning these errors
into warnings: fields the spec does not define (clients add ``argument-hint``,
``disable-model-invocation``...), a name that differs from its folder, zero-width characters,
bidi marks and HTML comments. Unicode tag characters stay errors in both modes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from skill_adapter.contracts import Diagnostic

from . import frontmatter, hidden
from .diagnostics import Code, capped, error, warning
from .document import SKILL_MD, Bundle, SkillDocument, as_text
from .limits import DEFAULT_LIMITS, Limits

Mode = Literal["strict", "lenient"]

SPEC_FIELDS = ("name", "description", "license", "compatibility", "metadata", "allowed-tools")
NAME_MAX, DESCRIPTION_MAX, COMPATIBILITY_MAX = 64, 1024, 500
_NAME = re.compile(r"^[a-z0-9-]+$")
STRING_TAGS = ("tag:yaml.org,2002:str",)


@dataclass
class ValidationResult:
    document: SkillDocument | None
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.document is not None


def decode(data: bytes, file: str, limit: int) -> str | list[Diagnostic]:
    """UTF-8 text with LF line endings and no BOM, or why not."""
    if not data.strip():
        return [error(Code.EMPTY_FILE, "the file is empty", file)]
    if len(data) > limit:
        return [error(Code.FILE_TOO_LARGE, f"{file} is {len(data)} bytes; at most {limit} allowed", file)]
    if b"\x00" in data:
        return [error(Code.BINARY_FILE, f"{file} is binary (it contains NUL bytes), not text", file)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return [error(Code.NOT_UTF8, f"{file} is not UTF-8: byte {exc.start} cannot be decoded", file, line)]
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def validate_name(name: str, line: int, folder: str | None, strict: bool) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if len(name) > NAME_MAX:
        found.append(
            error(Code.NAME_TOO_LONG, f"name is {len(name)} characters; at most {NAME_MAX}", SKILL_MD, line)
        )
    if not _NAME.match(name):
        found.append(
            error(
                Code.NAME_INVALID,
                f"name {name!r} may only contain lowercase letters a-z, digits and hyphens",
                SKILL_MD,
                line,
            )
        )
    if name.startswith("-") or name.endswith("-") or "--" in name:
        found.append(
            error(
                Code.NAME_HYPHENS,
                f"name {name!r} must not start or end with '-' or contain '--'",
                SKILL_MD,
                line,
            )
        )
    if folder is not None and folder != name:
        make = error if strict else warning
        found.append(
            make(Code.NAME_MISMATCH, f"name {name!r} must equal its folder name {folder!r}", SKILL_MD, line)
        )
    return found


def validate_bundle(
    bundle: Bundle, mode: Mode = "strict", limits: Limits = DEFAULT_LIMITS
) -> ValidationResult:
    strict = mode == "strict"
    text = decode(bundle.skill_md, SKILL_MD, limits.skill_md_bytes)
    if isinstance(text, list):
        return ValidationResult(None, text)
    parsed = frontmatter.parse(text, SKILL_MD, limits.frontmatter_bytes)
    if isinstance(parsed, list):
        return ValidationResult(None, parsed)
    found: list[Diagnostic] = []
    fields = parsed.fields

    def string(key: str, required: bool, missing: Code) -> str | None:
        item = fields.get(key)
        if item is None or item.value is None or (item.kind == "scalar" and not str(item.value).strip()):
            if required:
                line = item.line if item else 2
                found.append(error(missing, f"required field {key!r} is missing or empty", SKILL_MD, line))
            return None
        if item.kind == "scalar" and item.tag not in STRING_TAGS:
            found.append(
                error(
                    Code.FIELD_TYPE,
                    f"field {key!r} must be a string; YAML reads {item.value!r} as a {item.tag.rsplit(':', 1)[-1]}"
                    " (quote it)",
                    SKILL_MD,
                    item.line,
                )
            )
            return None
        if item.kind != "scalar":
            found.append(
                error(
                    Code.FIELD_TYPE, f"field {key!r} must be a string, not a {item.kind}", SKILL_MD, item.line
                )
            )
            return None
        return str(item.value)

    name = string("name", True, Code.NAME_MISSING)
    if name is not None:
        found += validate_name(name, fields["name"].line, bundle.folder, strict)
    description = string("description", True, Code.DESCRIPTION_MISSING)
    if description is not None and len(description) > DESCRIPTION_MAX:
        found.append(
            error(
                Code.DESCRIPTION_TOO_LONG,
                f"description is {len(description)} characters; at most {DESCRIPTION_MAX}",
                SKILL_MD,
                fields["description"].line,
            )
        )
    license_ = string("license", False, Code.FIELD_TYPE)
    compatibility = string("compatibility", False, Code.FIELD_TYPE)
    if compatibility is not None and len(compatibility) > COMPATIBILITY_MAX:
        found.append(
            error(
                Code.COMPATIBILITY_TOO_LONG,
                f"compatibility is {len(compatibility)} characters; at most {COMPATIBILITY_MAX}",
                SKILL_MD,
                fields["compatibility"].line,
            )
        )
    metadata: dict[str, str] = {}
    if (item := fields.get("metadata")) is not None and item.value is not None:
        if item.kind == "mapping":
            metadata = dict(item.value)  # type: ignore[arg-type]
        else:
            found.append(
                error(
                    Code.METADATA_INVALID,
                    "metadata must map strings to strings (no nesting)",
                    SKILL_MD,
                    item.line,
                )
            )
    elif item is not None and item.kind == "nested":
        found.append(
            error(
                Code.METADATA_INVALID,
                "metadata must map strings to strings (no nesting)",
                SKILL_MD,
                item.line,
            )
        )
    tools: list[str] = []
    if (item := fields.get("allowed-tools")) is not None and item.value is not None:
        if item.kind == "scalar":
            tools = str(item.value).split()
        elif item.kind == "sequence":
            tools = list(item.value)  # type: ignore[arg-type]
            make = error if strict else warning
            found.append(
                make(
                    Code.FIELD_TYPE,
                    "allowed-tools must be a space-separated string, not a list",
                    SKILL_MD,
                    item.line,
                )
            )
        else:
            found.append(
                error(Code.FIELD_TYPE, "allowed-tools must be a space-separated string", SKILL_MD, item.line)
            )
    extra = {k: f.value for k, f in fields.items() if k not in SPEC_FIELDS}
    for key in extra:
        make = error if strict else warning
        found.append(
            make(
                Code.UNKNOWN_FIELD,
                f"field {key!r} is not in the Agent Skills spec",
                SKILL_MD,
                fields[key].line,
            )
        )
    if not parsed.body.strip():
        make = error if strict else warning
        found.append(
            make(
                Code.EMPTY_BODY, "the body is empty: nothing tells a model how to follow the skill", SKILL_MD
            )
        )

    found += hidden.scan(text, SKILL_MD, strict=strict)
    for path, data in sorted(bundle.files.items()):
        # every text file, scripts included: a Trojan Source line hides in code as well
        if path != SKILL_MD and (other := as_text(data)) is not None:
            found += hidden.scan(other, path, strict=strict)
    found = capped(found)

    errors = [d for d in found if d.severity == "error"]
    warnings = [d for d in found if d.severity == "warning"]
    if name is None or description is None:
        return ValidationResult(None, errors, warnings)
    document = SkillDocument(
        name=name,
        description=description,
        body=parsed.body,
        body_line=parsed.body_line,
        license=license_,
        compatibility=compatibility,
        metadata=metadata,
        allowed_tools=tools,
        extra=extra,
        lines={k: f.line for k, f in fields.items()},
    )
    return ValidationResult(document, errors, warnings)
