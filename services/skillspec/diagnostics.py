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


def error(code: Code, message: str, file: str | None = None, line: int | None = None) -> Diagnostic:
    return Diagnostic(severity="error", code=code.value, message=message, file=file, line=line)


def warning(code: Code, message: str, file: str | None = None, line: int | None = None) -> Diagnostic:
    return Diagnostic(severity="warning", code=code.value, message=message, file=file, line=line)


class SkillError(Exception):
    """Raised when a skill cannot be read at all; carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("; ".join(f"{d.code}: {d.message}" for d in diagnostics))
