"""Skill bundles: a single SKILL.md or a zip of the skill folder, read without trusting it.

A zip is refused for path traversal, absolute paths, symlinks, duplicate or case-colliding
names, encryption, too many files, too many bytes, and compression bombs (a member whose
inflated size is out of proportion to its compressed size; reading also stops at the declared
size, so a lying header cannot inflate further). Nothing is written to disk and nothing in it
is executed: scripts are data here.
"""

from __future__ import annotations

import io
import posixpath
import re
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from skill_adapter.contracts import Diagnostic

from .diagnostics import Code, SkillError, error, warning
from .document import SKILL_MD, Bundle
from .limits import DEFAULT_LIMITS, Limits

JUNK = re.compile(r"(^|/)(__MACOSX|\.DS_Store|\.git)(/|$)")
ZIP_MAGIC = b"PK\x03\x04"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def folder_of(object_name: str) -> str | None:
    """The folder a skill object names: ``x/SKILL.md`` -> ``x``; ``x.zip`` -> ``x``."""
    path = PurePosixPath(object_name)
    if path.suffix.lower() == ".zip":
        return path.stem or None
    return path.parent.name or None


def load_bundle(
    data: bytes, object_name: str, limits: Limits = DEFAULT_LIMITS
) -> tuple[Bundle, list[Diagnostic]]:
    """Read an object as a bundle; raises ``SkillError`` when it cannot be one."""
    if object_name.lower().endswith(".zip") or data.startswith(ZIP_MAGIC):
        return _from_zip(data, object_name, limits)
    if len(data) > limits.skill_md_bytes:
        raise SkillError(
            [
                error(
                    Code.FILE_TOO_LARGE,
                    f"SKILL.md is {len(data)} bytes; at most {limits.skill_md_bytes}",
                    SKILL_MD,
                )
            ]
        )
    return Bundle({SKILL_MD: data}, folder_of(object_name)), []


def _from_zip(data: bytes, object_name: str, limits: Limits) -> tuple[Bundle, list[Diagnostic]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise SkillError(
            [error(Code.BUNDLE_INVALID, f"not a readable zip archive: {exc}", object_name)]
        ) from exc
    problems: list[Diagnostic] = []
    files = [m for m in members if not m.is_dir() and not JUNK.search(m.filename)]
    if len(files) > limits.files:
        raise SkillError(
            [error(Code.BUNDLE_TOO_MANY_FILES, f"{len(files)} files; at most {limits.files}", object_name)]
        )
    seen: dict[str, str] = {}
    total = 0
    for member in files:
        name = member.filename.replace("\\", "/")
        if member.flag_bits & 0x1:
            problems.append(error(Code.BUNDLE_ENCRYPTED, "encrypted members cannot be read", name))
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
            problems.append(error(Code.BUNDLE_ABSOLUTE_PATH, f"absolute path {name!r}", name))
        elif ".." in PurePosixPath(name).parts:
            problems.append(error(Code.BUNDLE_PATH_TRAVERSAL, f"path {name!r} leaves the skill folder", name))
        if stat.S_ISLNK(member.external_attr >> 16):
            problems.append(error(Code.BUNDLE_SYMLINK, f"{name!r} is a symbolic link", name))
        if name in seen:
            problems.append(error(Code.BUNDLE_DUPLICATE_NAME, f"{name!r} appears twice", name))
        elif name.lower() in {k.lower() for k in seen}:
            other = next(k for k in seen if k.lower() == name.lower())
            problems.append(
                error(Code.BUNDLE_CASE_COLLISION, f"{name!r} and {other!r} differ only in case", name)
            )
        seen[name] = name
        if member.file_size > limits.file_bytes:
            problems.append(error(Code.FILE_TOO_LARGE, f"{name!r} is {member.file_size} bytes", name))
        if member.file_size > 1024 * 1024 and member.file_size > limits.compression_ratio * max(
            member.compress_size, 1
        ):
            problems.append(
                error(
                    Code.BUNDLE_COMPRESSION_BOMB,
                    f"{name!r} inflates {member.compress_size} bytes to {member.file_size}",
                    name,
                )
            )
        total += member.file_size
    if total > limits.total_bytes:
        problems.append(
            error(
                Code.BUNDLE_TOO_LARGE,
                f"{total} bytes uncompressed; at most {limits.total_bytes}",
                object_name,
            )
        )
    if problems:
        raise SkillError(problems)

    root, folder, notes = _root(list(seen), object_name)
    contents: dict[str, bytes] = {}
    for member in files:
        name = member.filename.replace("\\", "/")
        relative = name[len(root) :] if root else name
        if relative.lower() == "skill.md" and relative != SKILL_MD:
            notes.append(warning(Code.BUNDLE_INVALID, f"{relative!r} read as SKILL.md", relative))
            relative = SKILL_MD
        contents[relative] = _read_bounded(archive, member, limits)
    return Bundle(contents, folder), notes


def _root(names: list[str], object_name: str) -> tuple[str, str | None, list[Diagnostic]]:
    """The prefix of the skill folder inside the zip, and the folder's name."""
    skills = sorted(n for n in names if posixpath.basename(n).lower() == "skill.md")
    if not skills:
        raise SkillError([error(Code.BUNDLE_MISSING_SKILL_MD, "the zip has no SKILL.md", object_name)])
    depths = {posixpath.dirname(n) for n in skills}
    top = min(depths, key=lambda d: (d.count("/"), d))
    if len({d for d in depths if d.count("/") == top.count("/")}) > 1:
        raise SkillError(
            [
                error(
                    Code.BUNDLE_SEVERAL_SKILLS,
                    f"one skill per bundle; found {', '.join(skills)}",
                    object_name,
                )
            ]
        )
    if top == "":
        return "", folder_of(object_name), []
    if top.count("/") > 0:
        raise SkillError(
            [error(Code.BUNDLE_MISSING_SKILL_MD, f"SKILL.md is nested too deep ({top}/)", object_name)]
        )
    outside = [n for n in names if not n.startswith(top + "/")]
    if outside:
        raise SkillError(
            [
                error(
                    Code.BUNDLE_INVALID,
                    f"files outside the skill folder {top!r}: {', '.join(outside[:5])}",
                    object_name,
                )
            ]
        )
    return top + "/", top, []


def _read_bounded(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: Limits) -> bytes:
    cap = min(member.file_size, limits.file_bytes)
    try:
        with archive.open(member) as handle:
            data = handle.read(cap + 1)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, RuntimeError, ValueError) as exc:
        # a bad CRC, a corrupt stream, an unsupported compression method
        raise SkillError(
            [error(Code.BUNDLE_INVALID, f"{member.filename!r} cannot be read: {exc}", member.filename)]
        ) from exc
    if len(data) > cap:
        raise SkillError(
            [error(Code.BUNDLE_COMPRESSION_BOMB, "member inflates past its declared size", member.filename)]
        )
    return data


def from_directory(path: Path, limits: Limits = DEFAULT_LIMITS) -> Bundle:
    """A bundle from a folder on disk (for ``skill-adapter skills push``); symlinks refused."""
    root = Path(path)
    contents: dict[str, bytes] = {}
    problems: list[Diagnostic] = []
    total = 0
    for item in sorted(root.rglob("*")):
        relative = item.relative_to(root).as_posix()
        if JUNK.search(relative):
            continue
        if item.is_symlink():
            problems.append(error(Code.BUNDLE_SYMLINK, f"{relative!r} is a symbolic link", relative))
            continue
        if item.is_file():
            size = item.stat().st_size
            total += size
            if size > limits.file_bytes:
                problems.append(error(Code.FILE_TOO_LARGE, f"{relative!r} is {size} bytes", relative))
                continue
            contents[relative] = item.read_bytes()
    if len(contents) > limits.files:
        problems.append(
            error(Code.BUNDLE_TOO_MANY_FILES, f"{len(contents)} files; at most {limits.files}", str(root))
        )
    if total > limits.total_bytes:
        problems.append(
            error(Code.BUNDLE_TOO_LARGE, f"{total} bytes; at most {limits.total_bytes}", str(root))
        )
    if SKILL_MD not in contents:
        problems.append(error(Code.BUNDLE_MISSING_SKILL_MD, f"{root} has no SKILL.md", str(root)))
    if problems:
        raise SkillError(problems)
    return Bundle(contents, root.resolve().name)


def to_zip(bundle: Bundle, folder: str) -> bytes:
    """A deterministic zip of the bundle under ``folder/`` (same files, same bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(bundle.files):
            info = zipfile.ZipInfo(f"{folder}/{path}", date_time=FIXED_DATE)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, bundle.files[path])
    return buffer.getvalue()
