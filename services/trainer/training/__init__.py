"""The trainer's training code (torch, transformers, trl, peft; bitsandbytes for QLoRA)."""

from .run import run_training

__all__ = ["run_training"]
