"""``evals/evals.json``: eval prompts with expected outputs and assertions.

Shape: ``{"skill_name": str, "evals": [{"id", "prompt", "expected_output", "files",
"assertions"}]}``; some tools say ``expectations`` for ``assertions``, and both are read.
"""

from __future__ import annotations

import json

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from skill_adapter.contracts import Diagnostic

from .diagnostics import Code, error
from .document import Bundle

EVALS_PATH = "evals/evals.json"


class EvalCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    prompt: str = Field(min_length=1)
    expected_output: str | None = None
    files: list[str] = Field(default_factory=list)
    assertions: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("assertions", "expectations")
    )

    @classmethod
    def model_validate_loose(cls, data: object) -> EvalCase:
        if isinstance(data, dict) and isinstance(data.get("id"), int):
            data = {**data, "id": str(data["id"])}
        return cls.model_validate(data)


class EvalSet(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    skill_name: str | None = None
    evals: list[EvalCase] = Field(default_factory=list)


def load_evals(bundle: Bundle) -> tuple[EvalSet | None, list[Diagnostic]]:
    """The bundle's eval set, ``None`` when it has none; problems become diagnostics."""
    raw = bundle.files.get(EVALS_PATH)
    if raw is None:
        return None, []
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        return None, [error(Code.EVALS_INVALID, f"evals.json is not valid JSON: {exc}", EVALS_PATH, line)]
    except RecursionError:
        return None, [error(Code.EVALS_INVALID, "evals.json nests too deeply to read", EVALS_PATH)]
    if not isinstance(data, dict) or not isinstance(data.get("evals", []), list):
        return None, [
            error(Code.EVALS_INVALID, "evals.json must be an object with an 'evals' list", EVALS_PATH)
        ]
    cases: list[EvalCase] = []
    problems: list[Diagnostic] = []
    for index, item in enumerate(data.get("evals", [])):
        try:
            cases.append(EvalCase.model_validate_loose(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            problems.append(error(Code.EVALS_INVALID, f"evals[{index}].{where}: {first['msg']}", EVALS_PATH))
    ids = [c.id for c in cases]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(error(Code.EVALS_INVALID, f"eval id {duplicate!r} is used twice", EVALS_PATH))
    if problems:
        return None, problems
    return EvalSet(skill_name=data.get("skill_name"), evals=cases), []
