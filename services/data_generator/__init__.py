"""data-generator: prompts and verified, compliant responses for a skill version."""
