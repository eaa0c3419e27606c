"""The seam between the trainer's service (jobs, leases, events, object store) and its training code.

``run_training(spec, hooks)`` (in ``training.run``) is blocking and runs in a worker thread; it
talks back only through ``Hooks``, which the service implements: progress reports, a
checkpoint folder that is complete on disk (the hook uploads it before returning, so a crash
after the hook returns loses nothing), and ``control()``, polled between optimizer steps, that
says whether to go on, pause (save a checkpoint, then stop) or cancel (stop, save nothing).
Nothing here imports torch: the service and its tests import it without the training extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from skill_adapter.contracts import Rubric
from skill_adapter.contracts.training import AdapterType, Hyperparameter, Method
from skill_adapter.modelstore import ModelInfo

Phase = Literal["sft", "grpo"]
Control = Literal["run", "pause", "cancel"]

CHECKPOINT_META = "skill_adapter_checkpoint.json"
"""Written into every checkpoint folder: phase, step, metrics (``CheckpointMeta``)."""


@dataclass(frozen=True)
class TrainSpec:
    job_id: str
    base: ModelInfo
    """The resolved base model (``ModelStore.resolve``): its folder, id and chat template hash."""
    dataset_dir: Path
    """The dataset's files as the data generator stored them: ``manifest.json``, ``train.jsonl``,
    ``validation.jsonl``, ``grpo.jsonl`` (``heldout.jsonl`` is never read by the trainer)."""
    dataset_digest: str
    """sha256 of ``manifest.json``; every file is checked against the manifest's digests."""
    rubric: Rubric | None
    """The skill's rubric: GRPO's rewards. Needed for ``grpo`` and ``sft+grpo``."""
    method: Method
    adapter_type: AdapterType
    hyperparameters: Mapping[str, Hyperparameter]
    seed: int
    device: str
    """``auto``, ``cpu``, ``cuda``, ``cuda:N``: resolved by the training code, which says what it chose."""
    work_dir: Path
    """Scratch folder of this job on this worker: checkpoints are written below it."""
    resume_from: Path | None = None
    """A checkpoint folder (as handed to ``Hooks.checkpoint`` earlier, possibly by another worker)."""
    skill_name: str | None = None
    skill_version: str | None = None


@dataclass(frozen=True)
class Progress:
    phase: Phase
    step: int
    total_steps: int
    epoch: float
    loss: float | None = None
    reward_mean: float | None = None
    reward_std: float | None = None
    learning_rate: float | None = None
    tokens_per_second: float | None = None
    eta_seconds: float | None = None


@dataclass(frozen=True)
class Checkpoint:
    phase: Phase
    step: int
    """Optimizer steps done in ``phase``."""
    path: Path
    """A folder, complete: resuming from it continues exactly where it was written."""
    metrics: dict[str, float] = field(default_factory=dict)
    final: bool = False
    """The last checkpoint of a phase (e.g. the SFT adapter GRPO starts from)."""


@dataclass(frozen=True)
class Outcome:
    adapter_dir: Path
    """A PEFT adapter folder with ``skill_adapter_adapter.json`` and ``skill_adapter_training.json``."""
    device: str
    hyperparameters: dict[str, Hyperparameter]
    """Every value used, ``auto`` ones resolved."""
    metrics: dict[str, float]
    trained_tokens: int


class Hooks(Protocol):
    """Called from the training thread; each call may block briefly (publishing, uploading)."""

    def started(
        self, device: str, hyperparameters: Mapping[str, Hyperparameter], resumed_step: int | None
    ) -> None: ...

    def progress(self, report: Progress) -> None: ...

    def checkpoint(self, checkpoint: Checkpoint) -> None: ...

    def control(self) -> Control: ...


class TrainingStopped(Exception):
    """``control()`` said pause or cancel; for a pause the last checkpoint handed over resumes it."""

    def __init__(self, kind: Literal["pause", "cancel"], phase: Phase, step: int) -> None:
        super().__init__(f"training {kind}d at {phase} step {step}")
        self.kind = kind
        self.phase = phase
        self.step = step


class TrainingError(Exception):
    """A failure a person can act on: ``code`` for machines, ``reason`` and ``suggestions`` for people."""

    def __init__(self, code: str, reason: str, suggestions: list[str] | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.suggestions = list(suggestions or [])
