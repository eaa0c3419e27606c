"""Rubrics: what a skill asks of a model, as checks a program (or a judge) can verify.

A ``Rubric`` belongs to one skill version. Each ``Criterion`` has a typed check (the
discriminated union ``Check``), a weight, and its provenance: the file, line and original
sentence it was compiled from. Deterministic checks are pure functions of the model's reply
(``skill_adapter.skillspec.rubric.checks``); ``JudgeCheck`` needs an LLM judge and is never
guessed without one.

The same models are the on-disk format of ``evals/rubric.yaml`` inside a skill bundle: a list
of criteria (``id``, ``description``, ``check``, optional ``weight``), see the README.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Check(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ValidJsonCheck(_Check):
    """The whole reply (optionally inside one fenced block) parses as JSON."""

    kind: Literal["valid_json"] = "valid_json"
    allow_code_fence: bool = False


class JsonSchemaCheck(_Check):
    """The reply is JSON that validates against ``json_schema``."""

    kind: Literal["json_schema"] = "json_schema"
    json_schema: dict[str, Any]
    allow_code_fence: bool = False


class RegexCheck(_Check):
    kind: Literal["regex"] = "regex"
    pattern: str = Field(min_length=1, max_length=2000)
    mode: Literal["search", "fullmatch"] = "search"
    flags: list[Literal["IGNORECASE", "MULTILINE", "DOTALL"]] = Field(default_factory=list)


class ContainsCheck(_Check):
    kind: Literal["contains"] = "contains"
    text: str = Field(min_length=1)
    case_sensitive: bool = False


class NotContainsCheck(_Check):
    kind: Literal["not_contains"] = "not_contains"
    text: str = Field(min_length=1)
    case_sensitive: bool = False


class StartsWithCheck(_Check):
    kind: Literal["starts_with"] = "starts_with"
    text: str = Field(min_length=1)
    case_sensitive: bool = True


class EndsWithCheck(_Check):
    kind: Literal["ends_with"] = "ends_with"
    text: str = Field(min_length=1)
    case_sensitive: bool = True


class MarkdownHeadingsCheck(_Check):
    """Every heading in ``headings`` appears as a Markdown heading (case-insensitive)."""

    kind: Literal["markdown_headings"] = "markdown_headings"
    headings: list[str] = Field(min_length=1)
    level: int | None = Field(default=None, ge=1, le=6)
    in_order: bool = False


class BulletListCheck(_Check):
    kind: Literal["bullet_list"] = "bullet_list"
    min_items: int = Field(default=1, ge=0)
    max_items: int | None = Field(default=None, ge=0)


class NumberedListCheck(_Check):
    kind: Literal["numbered_list"] = "numbered_list"
    min_items: int = Field(default=1, ge=0)
    max_items: int | None = Field(default=None, ge=0)


class CodeBlockCheck(_Check):
    kind: Literal["code_block"] = "code_block"
    language: str | None = None
    min_blocks: int = Field(default=1, ge=1)


class LengthCheck(_Check):
    """A bound on the reply's words, characters, lines or sentences."""

    kind: Literal["length"] = "length"
    unit: Literal["words", "characters", "lines", "sentences"]
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounded(self) -> LengthCheck:
        if self.min is None and self.max is None:
            raise ValueError("a length check needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class JudgeCheck(_Check):
    """Needs an LLM judge: scored only where a judge endpoint is configured."""

    kind: Literal["judge"] = "judge"
    instruction: str = Field(min_length=1, max_length=4000)


Check = Annotated[
    ValidJsonCheck
    | JsonSchemaCheck
    | RegexCheck
    | ContainsCheck
    | NotContainsCheck
    | StartsWithCheck
    | EndsWithCheck
    | MarkdownHeadingsCheck
    | BulletListCheck
    | NumberedListCheck
    | CodeBlockCheck
    | LengthCheck
    | JudgeCheck,
    Field(discriminator="kind"),
]

CheckKind = Literal[
    "valid_json",
    "json_schema",
    "regex",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "markdown_headings",
    "bullet_list",
    "numbered_list",
    "code_block",
    "length",
    "judge",
]


class Provenance(BaseModel):
    """Where a criterion came from, so a person can check the compiler's reading."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    source: Literal["rubric_file", "evals", "body", "frontmatter"]
    file: str
    line: int | None = Field(default=None, ge=1)
    text: str = Field(description="The original sentence or assertion.")


class Criterion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=128)
    description: str = Field(min_length=1, max_length=2000)
    check: Check
    weight: float = Field(default=1.0, gt=0, le=100)
    provenance: Provenance
    eval_id: str | None = Field(
        default=None, description="Set when the criterion only applies to one eval prompt."
    )

    @property
    def deterministic(self) -> bool:
        return self.check.kind != "judge"


class OutputConstraint(BaseModel):
    """A formal constraint on the whole reply, for guided decoding.

    For ``kind="regex"``, ``regex`` is the most trusted full-match regex; ``grammar``, when set,
    is stricter: a Lark grammar in llguidance's dialect (vLLM's ``guidance`` backend and the
    local engine) whose one token is every full-match regex and "never contains" text of the
    rubric at once, ``/a/ & /b/ & ~/(?s:.*)text(?s:.*)/`` (intersection and complement of
    regular languages). A client that can send a grammar sends it; one that cannot, or whose
    server refuses it, sends ``regex``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["json_schema", "regex"]
    json_schema: dict[str, Any] | None = None
    regex: str | None = None
    grammar: str | None = Field(
        default=None,
        description="With kind regex: every full-match regex and never-contains text as one Lark grammar.",
    )
    criteria: list[str] = Field(default_factory=list, description="Ids of the criteria it enforces.")

    @model_validator(mode="after")
    def _one_form(self) -> OutputConstraint:
        if (self.kind == "json_schema") != (self.json_schema is not None) or (self.kind == "regex") != (
            self.regex is not None
        ):
            raise ValueError("set exactly the field that matches kind")
        if self.grammar is not None and self.kind != "regex":
            raise ValueError("grammar goes with kind regex")
        return self


class RubricCoverage(BaseModel):
    """How much of what the skill asks became deterministic checks."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    constraint_sentences: int = Field(ge=0, description="Constraint sentences found in the body.")
    compiled_sentences: int = Field(ge=0, description="Of those, compiled to deterministic checks.")
    deterministic_criteria: int = Field(ge=0)
    judge_criteria: int = Field(ge=0)

    @property
    def share(self) -> float:
        if not self.constraint_sentences:
            return 1.0
        return self.compiled_sentences / self.constraint_sentences


class Rubric(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    skill_name: str
    skill_version: str
    criteria: list[Criterion]
    output_constraint: OutputConstraint | None = None
    coverage: RubricCoverage

    @model_validator(mode="after")
    def _unique_ids(self) -> Rubric:
        ids = [c.id for c in self.criteria]
        if len(ids) != len(set(ids)):
            raise ValueError("criterion ids must be unique")
        return self


class RubricFile(BaseModel):
    """``evals/rubric.yaml``: criteria written by the skill's author (most trusted source)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    criteria: list[RubricFileCriterion] = Field(min_length=1)


class RubricFileCriterion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=128)
    description: str = Field(min_length=1, max_length=2000)
    check: Check
    weight: float = Field(default=1.0, gt=0, le=100)


RubricFile.model_rebuild()
