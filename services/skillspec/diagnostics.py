"""Diagnostics: every problem found in a skill, with a stable code and where it is."""

from __future__ import annotations

from enum import StrEnum

from skill_adapter.contracts import Diagnostic


class Code(StrEnum):
    # the file itself
    NOT_UTF8 = "not_utf8"
    BINARY_FILE = "binary_file"
    FILE_TOO_LARGE = "file_too_large"
    EMPTY_FILE = "empty_file"
    # frontmatter
    MISSING_FRONTMATTER = "missing_frontmatter"
    UNTERMINATED_FRONTMATTER = "unterminated_frontmatter"
    FRONTMATTER_TOO_LARGE = "frontmatter_too_large"
    YAML_SYNTAX = "yaml_syntax"
    YAML_ALIAS = "yaml_alias"
    YAML_TAG = "yaml_tag"
    YAML_DUPLICATE_KEY = "yaml_duplicate_key"
    FRONTMATTER_NOT_MAPPING = "frontmatter_not_mapping"
    # fields
    NAME_MISSING = "name_missing"
    NAME_INVALID = "name_invalid"
    NAME_TOO_LONG = "name_too_long"
    NAME_HYPHENS = "name_hyphens"
    NAME_MISMATCH = "name_mismatch"
    DESCRIPTION_MISSING = "description_missing"
    DESCRIPTION_TOO_LONG = "description_too_long"
    COMPATIBILITY_TOO_LONG = "compatibility_too_long"
    FIELD_TYPE = "field_type"
    METADATA_INVALID = "metadata_invalid"
    UNKNOWN_FIELD = "unknown_field"
    EMPTY_BODY = "empty_body"
    # hidden text
    HIDDEN_BIDI = "hidden_bidi"
    HIDDEN_ZERO_WIDTH = "hidden_zero_width"
    HIDDEN_TAG_CHARACTERS = "hidden_tag_characters"
    HIDDEN_HTML_COMMENT = "hidden_html_comment"
    # bundles
    OBJECT_MISSING = "object_missing"
    BUNDLE_INVALID = "bundle_invalid"
    BUNDLE_PATH_TRAVERSAL = "bundle_path_traversal"
    BUNDLE_ABSOLUTE_PATH = "bundle_absolute_path"
    BUNDLE_SYMLINK = "bundle_symlink"
    BUNDLE_DUPLICATE_NAME = "bundle_duplicate_name"
    BUNDLE_CASE_COLLISION = "bundle_case_collision"
    BUNDLE_TOO_MANY_FILES = "bundle_too_many_files"
    BUNDLE_TOO_LARGE = "bundle_too_large"
    BUNDLE_COMPRESSION_BOMB = "bundle_compression_bomb"
    BUNDLE_ENCRYPTED = "bundle_encrypted"
    BUNDLE_MISSING_SKILL_MD = "bundle_missing_skill_md"
    BUNDLE_SEVERAL_SKILLS = "bundle_several_skills"
    # evals and rubric file
    EVALS_INVALID = "evals_invalid"
    RUBRIC_FILE_INVALID = "rubric_file_invalid"
    # the analyzer itself
    INTERNAL = "internal_error"


MAX_MESSAGE = 1000
MAX_FILE = 512
MAX_PER_KIND = 50
"""At most this many diagnostics of one code in one file; the rest are summarized."""


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def error(code: Code, message: str, file: str | None = None, line: int | None = None) -> Diagnostic:
    return _make("error", code, message, file, line)


def warning(code: Code, message: str, file: str | None = None, line: int | None = None) -> Diagnostic:
    return _make("warning", code, message, file, line)


def _make(severity: str, code: Code, message: str, file: str | None, line: int | None) -> Diagnostic:
    # user text (names, paths, comments) ends up in messages: keep them bounded
    return Diagnostic(
        severity=severity,  # type: ignore[arg-type]
        code=code.value,
        message=_clip(message, MAX_MESSAGE) or code.value,
        file=_clip(file, MAX_FILE),
        line=line,
    )


def capped(diagnostics: list[Diagnostic], limit: int = MAX_PER_KIND) -> list[Diagnostic]:
    """Keep the first ``limit`` diagnostics per (file, code, severity); summarize the rest."""
    seen: dict[tuple[str | None, str, str], int] = {}
    kept: list[Diagnostic] = []
    for d in diagnostics:
        key = (d.file, d.code, d.severity)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= limit:
            kept.append(d)
    for (file, code, severity), count in seen.items():
        if count > limit:
            kept.append(
                _make(
                    severity, Code(code), f"and {count - limit} more {code} findings in this file", file, None
                )
            )
    return kept


class SkillError(Exception):
    """Raised when a skill cannot be read at all; carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("; ".join(f"{d.code}: {d.message}" for d in diagnostics))
