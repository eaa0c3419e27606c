"""trainer: LoRA/QLoRA adapters for a skill (SFT, then GRPO on rubric rewards), one device per replica."""
