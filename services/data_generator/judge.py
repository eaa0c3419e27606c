"""Judge criteria, scored by a judge model with evidence, when one is configured.

The judge gets the criterion's instruction, the user's prompt and the reply, and must answer
a JSON object ``{"passed": bool, "evidence": str}`` (asked for with ``response_format``, so a
judge that supports structured outputs cannot answer anything else). An answer that is not
that object fails the criterion with the raw answer as evidence: a broken judge rejects
samples rather than letting unjudged ones through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from skill_adapter.contracts import JudgeCheck, Rubric
from skill_adapter.skillspec.rubric.grading import applies

from .inference import ChatClient

VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"passed": {"type": "boolean"}, "evidence": {"type": "string", "maxLength": 500}},
    "required": ["passed", "evidence"],
    "additionalProperties": False,
}

SYSTEM = (
    "You grade one reply of an assistant against one criterion. Answer only with a JSON object "
    '{"passed": true|false, "evidence": "<one sentence quoting the reply>"}.'
)


@dataclass(frozen=True)
class JudgeVerdict:
    passed: bool
    evidence: str


class Judge:
    def __init__(self, client: ChatClient, model: str) -> None:
        self.client = client
        self.model = model

    async def judge(self, instruction: str, prompt: str, reply: str) -> JudgeVerdict:
        messages = [
            {"role": "system", "content": SYSTEM},
            {
                "role": "user",
                "content": f"Criterion: {instruction}\n\nUser prompt:\n{prompt}\n\nReply:\n{reply}",
            },
        ]
        result = await self.client.chat(
            self.model,
            messages,
            temperature=0,
            max_tokens=200,
            constraint={
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA},
                }
            },
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


def parse_verdict(text: str) -> JudgeVerdict:
    """The judge's answer, or a failing verdict that quotes what it said instead.

    >>> parse_verdict('{"passed": true, "evidence": "says add"}')
    JudgeVerdict(passed=True, evidence='says add')
    >>> parse_verdict("I think it passes").passed
    False
    """
    try:
        data = json.loads(text)
    except ValueError:
        return JudgeVerdict(False, f"the judge did not answer JSON: {text[:200]!r}")
    if not isinstance(data, dict) or not isinstance(data.get("passed"), bool):
        return JudgeVerdict(False, f"the judge's answer has no boolean 'passed': {text[:200]!r}")
    return JudgeVerdict(data["passed"], str(data.get("evidence", ""))[:500])
