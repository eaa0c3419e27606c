"""Folders as zip archives: how adapters and checkpoints travel through the Object Store.

``pack_folder`` writes a reproducible archive (entries sorted, fixed timestamps and modes),
so the same files always give the same bytes and the same digest. ``unpack_archive`` refuses
entries that would land outside the target folder (absolute paths, ``..``, drive letters,
backslashes) and links, whoever wrote the archive.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
CHUNK = 1 << 20


class UnsafeArchive(ValueError):
    """An archive entry that would be written outside the target folder, or is not a plain file."""


def pack_folder(folder: Path, target: Path, *, compress: bool = True) -> Path:
    """Zip every file below ``folder`` (paths relative to it) into ``target``; returns ``target``."""
    folder, target = Path(folder), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    files = sorted(path for path in folder.rglob("*") if path.is_file() and not path.is_symlink())
    with zipfile.ZipFile(target, "w", allowZip64=True) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=EPOCH)
            info.compress_type = method
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.file_size = path.stat().st_size  # lets zipfile pick ZIP64 for large files up front
            with path.open("rb") as source, archive.open(info, "w") as sink:
                shutil.copyfileobj(source, sink, CHUNK)
    return target


def _safe_parts(name: str) -> tuple[str, ...]:
    if not name or name.startswith("/") or "\\" in name or ":" in name.split("/", 1)[0]:
        raise UnsafeArchive(f"archive entry {name!r} has an absolute or foreign path")
    parts = PurePosixPath(name).parts
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafeArchive(f"archive entry {name!r} leaves its folder")
    return parts


def unpack_archive(archive_path: Path, target: Path) -> list[Path]:
    """Extract ``archive_path`` into ``target`` (created); returns the files written."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            parts = _safe_parts(info.filename)
            if info.is_dir():
                continue
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind and kind != stat.S_IFREG:
                raise UnsafeArchive(f"archive entry {info.filename!r} is not a plain file")
            destination = target.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, destination.open("wb") as sink:
                shutil.copyfileobj(source, sink, CHUNK)
            written.append(destination)
    return written
