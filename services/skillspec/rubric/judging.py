"""Judge criteria: what a judge model is asked and how its answer is read.

The judge gets the criterion's instruction, the user's prompt and the reply, and must answer
a JSON object ``{"passed": bool, "evidence": str}`` (asked for with ``response_format``, so a
judge that supports structured outputs cannot answer anything else). An answer that is not
that object fails the criterion with the raw answer as evidence: a broken judge never lets an
unjudged reply through. The data generator and the evaluator send the same request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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

RESPONSE_FORMAT: dict[str, Any] = {
    "response_format": {"type": "json_schema", "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA}}
}
"""Merged into the chat completion request: the judge's answer has the verdict's shape."""


@dataclass(frozen=True)
class JudgeVerdict:
    passed: bool
    evidence: str


def judge_messages(instruction: str, prompt: str, reply: str) -> list[dict[str, str]]:
    """The chat messages that ask a judge about one criterion on one reply."""
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Criterion: {instruction}\n\nUser prompt:\n{prompt}\n\nReply:\n{reply}"},
    ]


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
