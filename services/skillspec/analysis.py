"""One call from bytes to verdict: bundle -> validation -> evals -> version -> rubric.

Both the skill-parser service (for the bucket) and the gateway (for ``POST /v1/skills`` and
``validate_only``) use it, so a skill gets the same verdict whichever way it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from skill_adapter.contracts import Diagnostic, Rubric, SkillFile

from .bundle import load_bundle
from .diagnostics import Code, SkillError, capped, error
from .document import Bundle, SkillDocument
from .evals import EvalSet, load_evals
from .limits import DEFAULT_LIMITS, Limits
from .validate import validate_bundle
from .version import sha256, version_digest

Mode = Literal["strict", "lenient"]


@dataclass
class Analysis:
    object_name: str
    digest: str
    mode: Mode
    bundle: Bundle | None = None
    document: SkillDocument | None = None
    version: str | None = None
    evals: EvalSet | None = None
    rubric: Rubric | None = None
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.rubric is not None

    @property
    def skill_name(self) -> str | None:
        return self.document.name if self.document else None

    def reason(self) -> str:
        """One line for a person: the first error, and how many there are."""
        if not self.errors:
            return "accepted"
        first = self.errors[0]
        where = f" ({first.file}{f':{first.line}' if first.line else ''})" if first.file else ""
        more = f" and {len(self.errors) - 1} more" if len(self.errors) > 1 else ""
        return f"{first.message}{where}{more}"

    def files(self) -> list[SkillFile]:
        if self.bundle is None:
            return []
        return [
            SkillFile(path=path, size=len(data), digest=sha256(data))
            for path, data in sorted(self.bundle.files.items())
        ]


def analyze(
    data: bytes, object_name: str, mode: Mode = "strict", limits: Limits = DEFAULT_LIMITS
) -> Analysis:
    """Never raises: input that breaks the analyzer itself is a rejection with code
    ``internal_error`` (retrying the same bytes would fail the same way)."""
    try:
        return _analyze(data, object_name, mode, limits)
    except Exception as exc:  # noqa: BLE001 - turned into a verdict, logged by the caller
        analysis = Analysis(object_name=object_name, digest=sha256(data), mode=mode)
        analysis.errors = [
            error(
                Code.INTERNAL, f"the skill could not be analyzed ({type(exc).__name__}: {exc})", object_name
            )
        ]
        return analysis


def _analyze(data: bytes, object_name: str, mode: Mode, limits: Limits) -> Analysis:
    from .rubric.compiler import compile_rubric

    analysis = Analysis(object_name=object_name, digest=sha256(data), mode=mode)
    try:
        bundle, notes = load_bundle(data, object_name, limits)
    except SkillError as exc:
        analysis.errors = capped(list(exc.diagnostics))
        return analysis
    analysis.bundle = bundle
    analysis.warnings += notes
    result = validate_bundle(bundle, mode, limits)
    analysis.document = result.document
    analysis.errors += result.errors
    analysis.warnings += result.warnings
    evals, eval_problems = load_evals(bundle)
    analysis.evals = evals
    analysis.errors += [d for d in eval_problems if d.severity == "error"]
    analysis.warnings += [d for d in eval_problems if d.severity == "warning"]
    analysis.errors, analysis.warnings = capped(analysis.errors), capped(analysis.warnings)
    if analysis.errors or result.document is None:
        return analysis
    analysis.version = version_digest(bundle)
    rubric, rubric_problems = compile_rubric(result.document, bundle, analysis.version, evals)
    analysis.errors += [d for d in rubric_problems if d.severity == "error"]
    analysis.warnings += [d for d in rubric_problems if d.severity == "warning"]
    if not analysis.errors:
        analysis.rubric = rubric
    analysis.errors, analysis.warnings = capped(analysis.errors), capped(analysis.warnings)
    return analysis
