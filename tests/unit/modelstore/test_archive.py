"""Folders travel as zips: reproducible bytes, and nothing unpacked outside its folder."""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path

import pytest

from skill_adapter.modelstore import UnsafeArchive, pack_folder, unpack_archive

pytestmark = pytest.mark.unit


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_folder_packs_reproducibly_and_unpacks_to_the_same_files(tmp_path: Path) -> None:
    folder = tmp_path / "adapter"
    (folder / "sub").mkdir(parents=True)
    (folder / "adapter_config.json").write_text('{"r": 8}')
    (folder / "sub" / "weights.bin").write_bytes(os.urandom(300_000))
    first = pack_folder(folder, tmp_path / "a.zip")
    os.utime(folder / "adapter_config.json", (1, 1))  # times and order do not change the bytes
    second = pack_folder(folder, tmp_path / "b.zip", compress=True)
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    stored = pack_folder(folder, tmp_path / "c.zip", compress=False)
    assert stored.stat().st_size > 300_000
    unpack_archive(first, tmp_path / "out")
    assert tree(tmp_path / "out") == tree(folder)


@pytest.mark.parametrize(
    "name", ["../evil", "/etc/evil", "a/../../evil", "C:/evil", "a\\..\\evil", "./x/../../y"]
)
def test_entries_that_leave_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr(name, b"x")
    with pytest.raises(UnsafeArchive):
        unpack_archive(archive, tmp_path / "out")
    assert not (tmp_path / "evil").exists()


def test_links_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "link.zip"
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchive, match="not a plain file"):
        unpack_archive(archive, tmp_path / "out")
