"""What a check says about a reply: passed or not, a score, and evidence a person can read.

Every deterministic check returns a ``CheckResult``; a judge check raises ``JudgeRequired``
instead of guessing. The helpers keep evidence short and uniform ("found 'x' on line 3",
"reply has 1 word").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    score: float
    evidence: str


class JudgeRequired(Exception):
    """A judge check cannot be decided by a program; it needs an LLM judge."""

    def __init__(self, instruction: str) -> None:
        self.instruction = instruction
        super().__init__(f"needs an LLM judge: {instruction}")


def result(passed: bool, evidence: str) -> CheckResult:
    """A pass/fail result: score 1.0 or 0.0."""
    return CheckResult(passed=passed, score=1.0 if passed else 0.0, evidence=evidence)


def quote(text: str, limit: int = 60) -> str:
    """``text`` as a short quoted snippet for evidence."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def plural(n: int, unit: str) -> str:
    """``"1 word"``, ``"3 words"``: ``unit`` is given in the plural."""
    return f"{n} {unit if n != 1 else unit.removesuffix('s')}"
