"""Is a candidate response good enough to train on? Every check must say yes.

A candidate is kept only when every deterministic criterion of the rubric that applies to its
prompt passes, the content check of a near-miss prompt passes (the skill must not change what
the answer says), and, when a judge is configured, every judge criterion passes too. Without
a judge, judge criteria are listed as not evaluated, never guessed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from skill_adapter.contracts import Rubric
from skill_adapter.skillspec.rubric.grading import grade

from .judge import Judge, JudgeVerdict
from .prompts import Prompt

CONTENT = "near-miss.content"
"""The pseudo-criterion id of a near-miss prompt's content check."""


@dataclass(frozen=True)
class Verdict:
    passed: bool
    score: float
    """Weighted mean of the deterministic scores (1.0 when none apply)."""
    scores: dict[str, float]
    failed: list[str]
    judged: dict[str, JudgeVerdict] = field(default_factory=dict)


def content_ok(prompt: Prompt, text: str) -> bool:
    """A near-miss answer must still contain one of the expected strings."""
    if not prompt.expected_content:
        return True
    folded = text.casefold()
    return any(expected.casefold() in folded for expected in prompt.expected_content)


def check_deterministic(rubric: Rubric, prompt: Prompt, text: str) -> Verdict:
    graded = grade(rubric, text, eval_id=prompt.eval_id)
    scores = {r.criterion_id: r.score for r in graded.results if r.score is not None}
    failed = [r.criterion_id for r in graded.results if r.deterministic and not r.passed]
    if not content_ok(prompt, text):
        failed.append(CONTENT)
    return Verdict(
        passed=not failed,
        score=graded.score if graded.score is not None else 1.0,
        scores=scores,
        failed=failed,
    )


async def verify(rubric: Rubric, prompt: Prompt, text: str, judge: Judge | None) -> Verdict:
    """The deterministic checks first; the judge (a model call) only for what passed them."""
    verdict = check_deterministic(rubric, prompt, text)
    if not verdict.passed or judge is None:
        return verdict
    judged = await judge.judge_all(rubric, prompt.text, text, eval_id=prompt.eval_id)
    failed = [cid for cid, v in judged.items() if not v.passed]
    return Verdict(
        passed=not failed,
        score=verdict.score,
        scores={**verdict.scores, **{cid: float(v.passed) for cid, v in judged.items()}},
        failed=failed,
        judged=judged,
    )


class FailureTally:
    """Which criteria reject candidates most: the reason a failed run names."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, verdict: Verdict) -> None:
        self.counts.update(verdict.failed)

    def top(self, limit: int = 3) -> list[tuple[str, int]]:
        return self.counts.most_common(limit)

    def describe(self, limit: int = 3) -> str:
        top = self.top(limit)
        if not top:
            return "no candidate was rejected by a check"
        return ", ".join(f"{cid} ({count}x)" for cid, count in top)
