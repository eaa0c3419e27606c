"""Following a long run's events in the terminal: a progress bar until the outcome arrives."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class FollowTimeout(Exception):
    """No outcome within the time the user gave."""


async def follow(
    events: asyncio.Queue[Any], wait: float, console: Console, *, waiting: str, silent: str
) -> AsyncIterator[tuple[Progress, TaskID, Any]]:
    """Each event as it arrives, with the bar to show it on; ``silent`` shows while none came yet.

    Use it under ``contextlib.aclosing`` so the bar closes when the caller stops reading.
    """
    deadline = time.monotonic() + wait
    heard = False
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(waiting, total=None)
        while True:
            timeout = min(deadline - time.monotonic(), 15.0)
            if timeout <= 0:
                raise FollowTimeout(f"no outcome within {wait:.0f}s")
            try:
                event = await asyncio.wait_for(events.get(), timeout)
            except TimeoutError:
                if not heard:
                    bar.update(task, description=silent)
                continue
            heard = True
            yield bar, task, event
