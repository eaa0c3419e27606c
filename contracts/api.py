"""HTTP API schemas of the gateway: the OpenAI error envelope, skills and graders.

Shapes follow OpenAI's conventions: every resource names its ``object`` type, lists are
``{"object": "list", "data": [...], "has_more": ...}`` paged with ``limit`` and ``after``,
timestamps are Unix seconds, and every error is ``{"error": {"message", "type", "param",
"code"}}``. Responses allow unknown fields (a newer gateway may add some); requests forbid them
so a typo is a 400 rather than silently ignored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .envelope import Diagnostic
from .rubric import CheckKind, Rubric
from .skills import Mode, SkillFile

Scope = Literal[
    "skills:read",
    "skills:write",
    "graders:run",
    "models:use",
    "models:evaluate",
    "jobs:read",
    "jobs:write",
    "admin",
]
SCOPES: tuple[Scope, ...] = (
    "skills:read",
    "skills:write",
    "graders:run",
    "models:use",
    "models:evaluate",
    "jobs:read",
    "jobs:write",
    "admin",
)
"""What an API key may do; ``admin`` implies every other scope.

``models:use`` serves base models and promoted adapters; ``models:evaluate`` also serves candidate
adapters (registered, not promoted yet: what an evaluator tests) and implies ``models:use``.
``jobs:write`` creates and cancels fine-tuning jobs and implies ``jobs:read`` (list, follow).
"""

IMPLIED_SCOPES: dict[Scope, tuple[Scope, ...]] = {
    "models:evaluate": ("models:use",),
    "jobs:write": ("jobs:read",),
    "admin": tuple(scope for scope in SCOPES if scope != "admin"),
}
"""The scopes a scope grants besides itself."""

ErrorType = Literal[
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "rate_limit_error",
    "server_error",
]

MAX_GRADER_SAMPLES = 100
MAX_SAMPLE_CHARS = 100_000


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- errors ---------------------------------------------------------------------------------


class ErrorDetail(_Response):
    message: str
    type: ErrorType
    param: str | None = None
    code: str | None = None
    errors: list[Diagnostic] | None = Field(
        default=None, description="Every problem found, for an invalid skill (code invalid_skill)."
    )


class ErrorResponse(_Response):
    """The body of every error response."""

    error: ErrorDetail


# -- skills ---------------------------------------------------------------------------------


class Skill(_Response):
    object: Literal["skill"] = "skill"
    name: str
    description: str
    latest_version: str
    version_count: int = Field(ge=1, description="How many versions the read model holds.")
    created_at: int = Field(description="Unix seconds of the first accepted version.")
    updated_at: int = Field(description="Unix seconds of the latest accepted version.")


class SkillVersionSummary(_Response):
    object: Literal["skill.version"] = "skill.version"
    name: str
    version: str
    description: str
    criteria: int = Field(ge=0, description="Number of rubric criteria.")
    created_at: int


class SkillDetail(Skill):
    """A skill with its versions, newest first."""

    versions: list[SkillVersionSummary]


class SkillVersion(_Response):
    """An accepted skill version as the read model holds it."""

    object: Literal["skill.version"] = "skill.version"
    name: str
    version: str = Field(description="sha256 of the normalized skill content.")
    status: Literal["ready"] = "ready"
    description: str
    mode: Mode
    object_name: str = Field(description="The object ingested from the `skills` bucket.")
    digest: str = Field(description="sha256 of that object's bytes.")
    bundle_object: str = Field(description="The normalized bundle in the `skill-versions` bucket.")
    criteria: int = Field(ge=0)
    rubric: Rubric
    warnings: list[Diagnostic]
    files: list[SkillFile]
    created_at: int


class SkillVersionAccepted(_Response):
    """An upload that passed validation and is being ingested."""

    object: Literal["skill.version"] = "skill.version"
    name: str
    version: str
    status: Literal["processing"] = "processing"
    warnings: list[Diagnostic]
    criteria: int = Field(ge=0)


class SkillValidation(_Response):
    """The verdict of ``POST /v1/skills?validate_only=true`` on a valid skill."""

    object: Literal["skill.validation"] = "skill.validation"
    valid: Literal[True] = True
    name: str
    version: str
    description: str
    mode: Mode
    warnings: list[Diagnostic]
    criteria: int = Field(ge=0)
    rubric: Rubric
    files: list[SkillFile]


class SkillList(_Response):
    object: Literal["list"] = "list"
    data: list[Skill]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool


class SkillRejection(_Response):
    """A skill the parser refused, and why."""

    object: Literal["skill.rejection"] = "skill.rejection"
    id: str = Field(description="The event id of the rejection.")
    object_name: str
    digest: str | None
    skill_name: str | None
    mode: Mode
    reason: str
    errors: list[Diagnostic]
    warnings: list[Diagnostic]
    created_at: int


class SkillRejectionList(_Response):
    object: Literal["list"] = "list"
    data: list[SkillRejection]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool


# -- graders --------------------------------------------------------------------------------


class GraderSample(_Request):
    text: str = Field(max_length=MAX_SAMPLE_CHARS, description="A model reply to grade.")
    eval_id: str | None = Field(
        default=None, max_length=128, description="Grade with the criteria of this eval prompt too."
    )


class GraderRunRequest(_Request):
    """Grade replies against a skill's rubric (by name) or an inline rubric: exactly one."""

    skill: str | None = Field(default=None, min_length=1, max_length=64)
    version: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="A version of `skill`; null is the latest."
    )
    rubric: Rubric | None = None
    samples: list[GraderSample] = Field(min_length=1, max_length=MAX_GRADER_SAMPLES)

    @model_validator(mode="after")
    def _one_source(self) -> GraderRunRequest:
        if (self.skill is None) == (self.rubric is None):
            raise ValueError("give exactly one of skill and rubric")
        if self.version is not None and self.skill is None:
            raise ValueError("version needs skill")
        return self


class CriterionGrade(_Response):
    """One criterion on one sample; ``passed`` and ``score`` are null when not evaluated."""

    criterion_id: str
    kind: CheckKind
    passed: bool | None
    score: float | None = Field(ge=0, le=1)
    evidence: str
    deterministic: bool
    weight: float
    text: str = Field(description="What the criterion asks, as its source worded it.")


class SampleGrade(_Response):
    skill_name: str
    skill_version: str
    eval_id: str | None
    passed: bool = Field(description="Every applicable deterministic criterion passed.")
    score: float | None = Field(
        description="Weighted mean of the deterministic scores; null if none applied."
    )
    results: list[CriterionGrade]


class GraderRunSummary(_Response):
    samples: int = Field(ge=1)
    passed: int = Field(ge=0)
    pass_rate: float = Field(ge=0, le=1)
    mean_score: float | None = Field(ge=0, le=1, description="Mean of the samples' scores; null if none.")


class GraderRun(_Response):
    object: Literal["grader.run"] = "grader.run"
    skill: str | None = None
    version: str | None = None
    results: list[SampleGrade] = Field(description="One grade per sample, in order.")
    summary: GraderRunSummary


# -- health ---------------------------------------------------------------------------------


class BackendHealth(_Response):
    """One inference backend as the gateway last saw it."""

    name: str
    kind: Literal["local", "openai", "vllm"]
    healthy: bool
    models: list[str] = Field(description="The model ids it serves right now (bases and adapters).")
    detail: str | None = Field(default=None, description="Why it is unhealthy, or what it is doing.")


class Health(_Response):
    status: Literal["ok", "degraded"]
    nats: bool
    database: bool
    backends: list[BackendHealth] = Field(
        default_factory=list,
        description="Inference backends (informational: an unhealthy upstream does not make the gateway unhealthy).",
    )
