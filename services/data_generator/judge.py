"""Judge criteria, scored by a judge model with evidence, when one is configured.

What the judge is asked and how its answer is read live in
``skill_adapter.skillspec.rubric.judging`` (the evaluator asks the same way): an answer that is
not a ``{"passed", "evidence"}`` object fails the criterion with the raw answer as evidence, so a
broken judge rejects samples rather than letting unjudged ones through.
"""

from __future__ import annotations

from skill_adapter.contracts import JudgeCheck, Rubric
from skill_adapter.skillspec.rubric.grading import applies
from skill_adapter.skillspec.rubric.judging import (
    RESPONSE_FORMAT,
    SYSTEM,
    VERDICT_SCHEMA,
    JudgeVerdict,
    judge_messages,
    parse_verdict,
)

from .inference import ChatClient

__all__ = ["SYSTEM", "VERDICT_SCHEMA", "Judge", "JudgeVerdict", "parse_verdict"]


class Judge:
    def __init__(self, client: ChatClient, model: str) -> None:
        self.client = client
        self.model = model

    async def judge(self, instruction: str, prompt: str, reply: str) -> JudgeVerdict:
        result = await self.client.chat(
            self.model,
            judge_messages(instruction, prompt, reply),
            temperature=0,
            max_tokens=200,
            constraint=RESPONSE_FORMAT,
        )
        text = result.choices[0].text if result.choices else ""
        return parse_verdict(text)

    async def judge_all(
        self, rubric: Rubric, prompt: str, reply: str, *, eval_id: str | None
    ) -> dict[str, JudgeVerdict]:
        verdicts: dict[str, JudgeVerdict] = {}
        for criterion in rubric.criteria:
            if isinstance(criterion.check, JudgeCheck) and applies(criterion, eval_id):
                verdicts[criterion.id] = await self.judge(criterion.check.instruction, prompt, reply)
        return verdicts
