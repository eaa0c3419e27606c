"""Real ``nats-server`` processes for the deploy tests: a given config, own ports, own store."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from skill_adapter.runtime.nats_server import find_binary, free_port


@dataclass
class NatsProcess:
    """One nats-server started from ``config_text`` (``{port}``, ``{monitor_port}`` and
    ``{store_dir}``, ``{pid_file}``, ``{server_name}`` are filled in) with the environment ``env``."""

    root: Path
    name: str
    config_text: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    monitor_port: int = 0
    cluster_port: int = 0

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.monitor_port = self.monitor_port or free_port()
        self.store_dir = self.root / "jetstream"
        self.config_file = self.root / "nats-server.conf"
        self.log_file = self.root / "nats-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0, *, wait: bool = True) -> NatsProcess:
        """Launch; with ``wait``, return once /healthz answers (a cluster node answers only
        once its cluster has formed: launch every node first, then ``wait_ready`` each)."""
        self.config_file.write_text(
            self.config_text.replace("{port}", str(self.port))
            .replace("{monitor_port}", str(self.monitor_port))
            .replace("{store_dir}", json.dumps(str(self.store_dir)))
            .replace("{server_name}", self.name)
            .replace("{pid_file}", json.dumps(str(self.root / "nats.pid")))
        )
        with self.log_file.open("ab") as out:
            self.process = subprocess.Popen(
                [find_binary(), "-c", str(self.config_file)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server {self.name} exited:\n{self.log()[-3000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            time.sleep(0.05)
        raise RuntimeError(f"nats-server {self.name} not ready:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def monitor(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}{path}", timeout=2) as response:
            return json.loads(response.read())

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
