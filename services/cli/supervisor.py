"""Runs services as child processes for ``skill-adapter up``: prefixed logs, restarts with
backoff when one dies, and a clean stop (SIGTERM, then SIGKILL after the grace period)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .registry import ServiceEntry

COLORS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red")


@dataclass
class Child:
    entry: ServiceEntry
    color: str
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0
    reader: threading.Thread | None = field(default=None, repr=False)


class Supervisor:
    def __init__(
        self,
        entries: Sequence[ServiceEntry],
        env: Mapping[str, str],
        emit: Callable[[str, str, str], None],
        grace_seconds: float = 30.0,
    ) -> None:
        self.children = [Child(e, COLORS[i % len(COLORS)]) for i, e in enumerate(entries)]
        self.env = dict(env)
        self.emit = emit  # (service, color, line)
        self.grace_seconds = grace_seconds
        self._stopping = threading.Event()

    def start_all(self) -> None:
        for child in self.children:
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(
            [sys.executable, "-m", child.entry.module],
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C goes to us; we stop children in order
        )
        child.started_at = time.monotonic()
        child.reader = threading.Thread(target=self._pump, args=(child, child.process), daemon=True)
        child.reader.start()
        self.emit(child.entry.name, child.color, f"started (pid {child.process.pid})")

    def _pump(self, child: Child, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self.emit(child.entry.name, child.color, raw.decode(errors="replace").rstrip())

    def poll(self) -> None:
        """Restart children that died, with exponential backoff (1 s doubling to 60 s)."""
        now = time.monotonic()
        for child in self.children:
            process = child.process
            if process is None:
                if now >= child.next_start and not self._stopping.is_set():
                    self._spawn(child)
                continue
            code = process.poll()
            if code is None:
                if now - child.started_at > 60:
                    child.restarts = 0  # it has been healthy for a while
                continue
            child.process = None
            delay = min(60.0, 2.0**child.restarts)
            child.restarts += 1
            child.next_start = now + delay
            self.emit(child.entry.name, "red", f"exited with code {code}; restarting in {delay:.0f}s")

    def stop_all(self) -> None:
        self._stopping.set()
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.emit(child.entry.name, "red", "did not stop in time; killing")
                child.process.kill()
                child.process.wait()
            code = child.process.returncode
            how = "cleanly" if code in (0, -signal.SIGTERM) else f"with code {code}"
            self.emit(child.entry.name, child.color, f"stopped {how}")
        for child in self.children:
            if child.reader is not None:
                child.reader.join(timeout=2)

    def pids(self) -> dict[str, int]:
        return {c.entry.name: c.process.pid for c in self.children if c.process is not None}
