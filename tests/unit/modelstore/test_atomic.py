"""Folders built once, atomically, by whichever of several processes or threads gets there first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from skill_adapter.modelstore.atomic import build_once, write_json_atomic

pytestmark = pytest.mark.unit

# A builder in its own process: records that it ran, takes a while, writes the folder.
WORKER = """
import json, os, sys, time
from pathlib import Path
from skill_adapter.modelstore.atomic import build_once

target, log, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])

def build(folder):
    with log.open("a") as handle:
        handle.write(f"{os.getpid()}\\n")
    time.sleep(seconds)
    (folder / "weights.bin").write_bytes(os.urandom(1 << 20))
    (folder / "done").write_text(str(os.getpid()))

built = build_once(target, build, is_current=lambda folder: (folder / "done").is_file())
print(json.dumps({"built": built, "by": (target / "done").read_text()}))
"""


def start_worker(target: Path, log: Path, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(target), str(log), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def last_json_line(out: str) -> dict[str, object]:
    return json.loads(out.strip().splitlines()[-1])  # structlog's default output shares stdout


def leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.glob(f".{name}.tmp-*"))


def test_concurrent_processes_build_once(tmp_path: Path) -> None:
    target, log = tmp_path / "models" / "m", tmp_path / "builds.log"
    workers = [start_worker(target, log, 2.0) for _ in range(4)]
    results, outputs = [], ""
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        results.append(last_json_line(out))
        outputs += out
    assert len(log.read_text().splitlines()) == 1  # the build ran once
    assert "another process is building this folder; waiting" in outputs
    assert sorted(r["built"] for r in results) == [False, False, False, True]
    assert len({r["by"] for r in results}) == 1  # everyone sees the same folder
    assert leftovers(target.parent, "m") == []
    assert oct((target / "weights.bin").stat().st_mode & 0o777) == oct(0o644)


def test_concurrent_threads_build_once(tmp_path: Path) -> None:
    target, runs = tmp_path / "m", []

    def build(folder: Path) -> None:
        runs.append(threading.get_ident())
        time.sleep(0.3)
        (folder / "done").write_text("x")

    results: list[bool] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                build_once(target, build, is_current=lambda f: (f / "done").is_file())
            )
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == 1
    assert sorted(results) == [False, False, False, True]


def test_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "m"

    def build(folder: Path) -> None:
        (folder / "half").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        build_once(target, build, is_current=lambda f: f.is_dir())
    assert not target.exists()
    assert leftovers(tmp_path, "m") == []


def test_a_killed_builder_leaves_a_temp_folder_the_next_one_removes(tmp_path: Path) -> None:
    target, log = tmp_path / "m", tmp_path / "builds.log"
    worker = start_worker(target, log, 60)
    deadline = time.monotonic() + 30
    while not (log.exists() and log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    assert leftovers(tmp_path, "m") and not target.exists()
    # the lock died with the process: the next builder does not wait, and cleans up
    survivor = start_worker(target, log, 0)
    out, err = survivor.communicate(timeout=60)
    assert survivor.returncode == 0, err
    assert last_json_line(out)["built"] is True
    assert "removing what an interrupted build left" in out
    assert leftovers(tmp_path, "m") == []
    assert len(log.read_text().splitlines()) == 2


def test_a_stale_folder_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "m"
    target.mkdir()
    (target / "version").write_text("1")

    def build(folder: Path) -> None:
        (folder / "version").write_text("2")

    current = lambda f: (f / "version").is_file() and (f / "version").read_text() == "2"  # noqa: E731
    assert build_once(target, build, is_current=current) is True
    assert (target / "version").read_text() == "2"
    assert build_once(target, build, is_current=current) is False
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.lock", "m"]


def test_json_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    write_json_atomic(path, {"b": 1, "a": [1, 2]})
    write_json_atomic(path, {"c": "é"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"c": "é"}
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
