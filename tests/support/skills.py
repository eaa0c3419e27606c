"""A short JSON skill for tests whose model is tiny (its byte-level tokenizer needs short prompts)."""

from __future__ import annotations

from pathlib import Path

MINI_SKILL = """---
name: mini-json
description: Answers every question with one JSON object holding the answer. Use when the reply is read by a program.
---

# Mini JSON

Reply with one JSON object, `{"answer": "<short answer>"}`, and nothing else.

User: What is the capital of Italy?

```
{"answer": "Rome"}
```
"""

MINI_RUBRIC = """criteria:
  - id: answer-object
    description: One object with a short string answer.
    check:
      kind: json_schema
      json_schema:
        type: object
        properties:
          answer: {type: string, minLength: 1, maxLength: 40}
        required: [answer]
        additionalProperties: false
"""


def write_mini_skill(parent: Path) -> Path:
    """The skill folder ``<parent>/mini-json`` (SKILL.md and evals/rubric.yaml)."""
    folder = parent / "mini-json"
    (folder / "evals").mkdir(parents=True)
    (folder / "SKILL.md").write_text(MINI_SKILL)
    (folder / "evals" / "rubric.yaml").write_text(MINI_RUBRIC)
    return folder
