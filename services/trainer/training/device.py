"""Which device a trainer replica trains on, in which precision, and what running out of memory looks like."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import TrainingError


@dataclass(frozen=True)
class DeviceChoice:
    name: str
    """``cpu`` or ``cuda:N``."""
    cuda: bool
    bf16: bool
    """Mixed precision in bf16 (CUDA devices that support it); fp32 otherwise."""

    @property
    def dtype(self) -> Any:
        import torch

        return torch.bfloat16 if self.bf16 else torch.float32


def resolve_device(wanted: str) -> DeviceChoice:
    """``auto``: the first CUDA device, else the CPU. A CUDA device that is not there fails the job."""
    import torch

    wanted = (wanted or "auto").strip().lower()
    if wanted == "cpu" or (wanted == "auto" and not torch.cuda.is_available()):
        return DeviceChoice("cpu", cuda=False, bf16=False)
    if wanted == "auto":
        wanted = "cuda:0"
    if wanted == "cuda":
        wanted = "cuda:0"
    if not wanted.startswith("cuda:") or not wanted[5:].isdigit():
        raise TrainingError("device_invalid", f"device {wanted!r}: use auto, cpu, cuda or cuda:N")
    index = int(wanted[5:])
    if not torch.cuda.is_available() or index >= torch.cuda.device_count():
        raise TrainingError(
            "device_unavailable",
            f"{wanted} is not available on this machine ({torch.cuda.device_count()} CUDA devices)",
            ["set SKILL_ADAPTER_TRAINER_DEVICE=auto to train on what is there"],
        )
    torch.cuda.set_device(index)
    return DeviceChoice(wanted, cuda=True, bf16=torch.cuda.is_bf16_supported())


def out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    text = str(exc).lower()
    return "out of memory" in text or "can't allocate memory" in text or "not enough memory" in text
