"""Datasets in the data generator's on-disk shape, and recording hooks, for trainer tests."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skill_adapter.trainer.core import Checkpoint, Control, Progress


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def sample(prompt: str, reply: str, eval_id: str | None = None) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}],
        "prompt_id": hashlib.sha256(prompt.encode()).hexdigest()[:12],
        "source": "template",
        "strategy": "guided",
        "eval_id": eval_id,
        "score": 1.0,
        "tokens": len(prompt) + len(reply),
    }


def grpo_prompt(prompt: str, std: float = 0.2, eval_id: str | None = None) -> dict[str, Any]:
    return {
        "prompt": [{"role": "user", "content": prompt}],
        "prompt_id": hashlib.sha256(prompt.encode()).hexdigest()[:12],
        "eval_id": eval_id,
        "reward_mean": 0.5,
        "reward_std": std,
    }


def write_dataset(
    folder: Path,
    train: list[dict[str, Any]],
    validation: list[dict[str, Any]] | None = None,
    grpo: list[dict[str, Any]] | None = None,
    *,
    dataset_id: str = "ds-test",
    max_length: int = 256,
) -> str:
    """Write the files and ``manifest.json`` into ``folder``; returns the manifest's sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, role, rows in (
        ("train.jsonl", "train", train),
        ("validation.jsonl", "validation", validation or []),
        ("heldout.jsonl", "heldout", []),
        ("grpo.jsonl", "grpo", grpo or []),
    ):
        data = _jsonl(rows)
        (folder / name).write_bytes(data)
        files.append(
            {
                "name": f"{dataset_id}/{name}",
                "role": role,
                "digest": hashlib.sha256(data).hexdigest(),
                "records": len(rows),
                "bytes": len(data),
            }
        )
    manifest = {"dataset_id": dataset_id, "max_length": max_length, "files": files}
    data = json.dumps(manifest, indent=2).encode()
    (folder / "manifest.json").write_bytes(data)
    return hashlib.sha256(data).hexdigest()


@dataclass
class RecordingHooks:
    """Hooks that remember everything and answer ``control()`` from a plan: step -> action."""

    plan: dict[int, Control] = field(default_factory=dict)
    started_with: list[tuple[str, dict[str, Any], int | None]] = field(default_factory=list)
    reports: list[Progress] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    kept: dict[str, Path] = field(default_factory=dict)
    calls: int = 0
    copy_to: Path | None = None
    """Copy each checkpoint here (the service uploads it; the trainer deletes its local copy)."""

    def started(self, device: str, hyperparameters: Any, resumed_step: int | None) -> None:
        self.started_with.append((device, dict(hyperparameters), resumed_step))

    def progress(self, report: Progress) -> None:
        self.reports.append(report)

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        self.checkpoints.append(checkpoint)
        if self.copy_to is not None:
            import shutil

            target = (
                self.copy_to / f"{checkpoint.phase}-{checkpoint.step}{'-final' if checkpoint.final else ''}"
            )
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(checkpoint.path, target)
            self.kept[target.name] = target

    def control(self) -> Control:
        """Asked once per optimizer step: the ``n``-th call answers ``plan[n]``."""
        self.calls += 1
        return self.plan.get(self.calls, "run")
