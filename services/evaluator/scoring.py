"""One reply, graded: the rubric's pure checks (``skillspec.rubric.grading``), the content check
of near-miss and general prompts, and the judge's verdicts when there is a judge.

A ``SampleResult`` is one line of ``samples.jsonl``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from skill_adapter.contracts import Rubric
from skill_adapter.skillspec.rubric.grading import Grade, grade
from skill_adapter.skillspec.rubric.judging import JudgeVerdict

from .prompts import EvalPrompt, content_ok

SampleKind = Literal["greedy", "sampled"]


@dataclass(frozen=True)
class CriterionOutcome:
    passed: bool | None
    evidence: str
    text: str
    deterministic: bool


@dataclass
class SampleResult:
    arm: str
    model: str
    prompt_id: str
    prompt_set: str
    source: str
    near_miss: bool
    kind: SampleKind
    seed: int | None
    temperature: float
    text: str
    finish_reason: str | None
    output_tokens: int
    latency_seconds: float
    passed: bool | None
    """Every applicable deterministic criterion passed (skill prompts; ``None`` for the general set)."""
    score: float | None
    """Weighted rubric score (``None`` when no deterministic criterion applied)."""
    content_ok: bool | None = None
    """Near-miss and general prompts: the answer still says what it must."""
    criteria: dict[str, CriterionOutcome] = field(default_factory=dict)
    judged: dict[str, JudgeVerdict] = field(default_factory=dict)
    eval_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def grade_reply(rubric: Rubric, prompt: EvalPrompt, text: str) -> tuple[Grade | None, bool | None]:
    """The rubric's grade (skill prompts only) and the content verdict (where one is expected)."""
    graded = grade(rubric, text, eval_id=prompt.eval_id) if prompt.set == "skill" else None
    content = content_ok(prompt.expected, text) if prompt.expected else None
    return graded, content


def outcomes(graded: Grade | None) -> dict[str, CriterionOutcome]:
    if graded is None:
        return {}
    return {
        r.criterion_id: CriterionOutcome(r.passed, r.evidence, r.text, r.deterministic)
        for r in graded.results
    }
