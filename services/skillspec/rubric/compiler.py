"""Compile a skill into a ``Rubric``: every criterion with where it came from.

Sources, most trusted first:

1. ``evals/rubric.yaml``: the author's own criteria, ids ``rubric.<id>`` (see ``rubric_file``
   for what makes the file or one of its criteria unusable).
2. The assertions of ``evals/evals.json``: each compiled with the pattern library, scoped to its
   eval (``eval_id``), ids ``evals.<eval id>.<n>``; one that does not compile is a judge criterion.
3. The constraint sentences of the SKILL.md body (see ``body`` for what is a sentence, and
   ``_rules`` for what is a constraint), ids ``body.l<line>.<what>``:
   deterministic where a pattern matches, else a judge criterion. A
   sentence under a condition is judged, with that condition in its instruction; a judge
   sentence ending in ":" right before a fenced block ("Respond with exactly this shape:") gets
   the block in its instruction. A sentence ending in ":" may also compile with the list or
   block it introduces ("The report has these sections, in this order:", see ``lead_ins``).

When the rubric file or an unconditional body sentence says that every reply is a JSON object,
the patterns that need that knowledge ("The object has exactly two keys ...", "`answer` is a
string of at most 300 characters") compile too, in the body and in the eval assertions.

Identical checks are deduplicated (see ``criteria``). ``RubricCoverage.compiled_sentences``
counts the body's constraint sentences that compiled to a deterministic check, whether or not
that check was then dropped as a copy of a more trusted one. The same input always gives the
same rubric.

The ``output_constraint`` (for guided decoding) comes from the criteria for every prompt: every
JSON Schema merged into one (``schemas``; one that does not merge is left to its criterion), or
for "valid JSON" alone any object or array, or else the most trusted full-match regex, with a
grammar for every full-match regex and "never contains" text at once when there are several
(``guidance``); none when another criterion needs Markdown around the JSON.
"""

from __future__ import annotations

import json

from skill_adapter.contracts import (
    Check,
    Criterion,
    Diagnostic,
    OutputConstraint,
    Provenance,
    Rubric,
    RubricCoverage,
)

from ..document import SKILL_MD, Bundle, SkillDocument
from ..evals import EVALS_PATH, EvalSet
from .body import BodySentence, body_sentences
from .criteria import CriteriaBuilder, dedupe, describe_check, id_part
from .guidance import lark_grammar, portable
from .json_checks import compile_schema
from .lead_ins import compile_lead_in
from .patterns import compile_checks
from .rubric_file import RUBRIC_PATHS, authored_criteria, load_rubric_file
from .schemas import merge_all
from .sentences import is_constraint_sentence, may_be_rule, normalize

__all__ = [
    "RUBRIC_PATHS",
    "BodySentence",
    "body_sentences",
    "compile_rubric",
    "describe_check",
    "load_rubric_file",
    "output_constraint",
]

_NEEDS_MARKDOWN = {"markdown_headings", "code_block"}


def _is_json_object(check: Check) -> bool:
    return check.kind == "json_schema" and check.json_schema.get("type") == "object"


Rule = tuple[BodySentence, str, list[Check]]  # a sentence, its normalized text, its checks


def _body_checks(sentence: BodySentence, text: str, json_reply: bool) -> list[Check]:
    if sentence.condition:
        return []
    checks = compile_checks(text, json_reply=json_reply)
    if not checks and (sentence.shown is not None or sentence.listed):
        checks = compile_lead_in(text, sentence.shown, sentence.listed)
    return checks


def _rules(doc: SkillDocument, authored: list[Criterion]) -> tuple[list[Rule], bool]:
    """The body's constraint sentences with their checks, and whether the reply is a JSON object.

    A sentence is a rule when it reads as one (``is_constraint_sentence``), or when it compiles
    only thanks to what the skill says elsewhere (a pattern that needs a JSON reply: "`confidence`
    is one of ...") or to the list or block it introduces ("The report has these sections:").
    Other patterns are not trusted on sentences that do not read as rules ("Headings: Poppins"
    describes a font). The reply is a JSON object when the rubric file or an unconditional
    constraint sentence of the body says so.
    """
    found = [(sentence, normalize(sentence.text)) for sentence in body_sentences(doc)]
    found = [(sentence, text) for sentence, text in found if may_be_rule(text)]
    json_reply = any(_is_json_object(c.check) for c in authored) or any(
        _is_json_object(check)
        for sentence, text in found
        if is_constraint_sentence(text)
        for check in _body_checks(sentence, text, False)
    )
    rules = [(sentence, text, _body_checks(sentence, text, json_reply)) for sentence, text in found]
    return [
        (sentence, text, checks)
        for sentence, text, checks in rules
        if is_constraint_sentence(text) or (checks and not compile_checks(text))
    ], json_reply


def _rubric_file(bundle: Bundle, out: CriteriaBuilder) -> list[Diagnostic]:
    usable, problems = authored_criteria(bundle)
    for authored in usable:
        item = authored.criterion
        where = Provenance(
            source="rubric_file", file=authored.path, line=authored.line, text=item.description
        )
        out.add(f"rubric.{item.id}", item.check, where, description=item.description, weight=item.weight)
    return problems


def _evals(bundle: Bundle, evals: EvalSet, out: CriteriaBuilder, json_reply: bool) -> None:
    raw = bundle.text(EVALS_PATH) or ""
    cursor = 0
    for case in evals.evals:
        for n, assertion in enumerate(case.assertions, 1):
            line, cursor = _json_string_line(raw, assertion, cursor)
            where = Provenance(source="evals", file=EVALS_PATH, line=line, text=assertion)
            checks = compile_checks(assertion, json_reply=json_reply)
            out.add_compiled(f"evals.{id_part(case.id)}.{n}", assertion, checks, where, eval_id=case.id)


def _json_string_line(raw: str, value: str, cursor: int) -> tuple[int | None, int]:
    """The line of the JSON string ``value`` in ``raw``, searching from ``cursor``."""
    for encoded in (json.dumps(value, ensure_ascii=False), json.dumps(value)):
        at = raw.find(encoded, cursor)
        if at >= 0:
            return raw.count("\n", 0, at) + 1, at + len(encoded)
    return None, cursor


def _body(rules: list[Rule], out: CriteriaBuilder) -> int:
    """Criteria from the body's constraint sentences; how many compiled deterministically."""
    compiled = 0
    for sentence, text, checks in rules:
        compiled += bool(checks)
        instruction = f"{sentence.condition.rstrip(':')}: {text}" if sentence.condition else text
        if sentence.shown is not None:
            instruction += f"\n{sentence.shown}"
        where = Provenance(source="body", file=SKILL_MD, line=sentence.line, text=text)
        out.add_compiled(f"body.l{sentence.line}", instruction, checks, where)
    return compiled


def _schema_constraint(schemas: list[Criterion], any_json: list[Criterion]) -> OutputConstraint:
    merged, used = merge_all([c.check.json_schema for c in schemas])  # type: ignore[union-attr]
    try:
        compile_schema(merged)
    except ValueError:  # cannot happen for schemas that merge; the most trusted one is safe
        merged, used = schemas[0].check.json_schema, [0]  # type: ignore[union-attr]
    ids = [schemas[i].id for i in used] + [c.id for c in any_json]
    return OutputConstraint(kind="json_schema", json_schema=merged, criteria=ids)


def output_constraint(criteria: list[Criterion]) -> OutputConstraint | None:
    """A constraint on every reply for guided decoding, when the rubric implies one."""
    everywhere = [c for c in criteria if c.eval_id is None and c.deterministic]
    schemas = [c for c in everywhere if c.check.kind == "json_schema"]
    any_json = [c for c in everywhere if c.check.kind == "valid_json"]
    if schemas or any_json:
        if any(
            c.check.kind in _NEEDS_MARKDOWN
            or (c.check.kind in ("bullet_list", "numbered_list") and c.check.min_items)
            for c in everywhere
        ):
            return None
        if schemas:
            return _schema_constraint(schemas, any_json)
        return OutputConstraint(
            kind="json_schema", json_schema={"type": ["object", "array"]}, criteria=[c.id for c in any_json]
        )
    full = [
        c for c in everywhere if c.check.kind == "regex" and c.check.mode == "fullmatch" and not c.check.flags
    ]
    if not full:
        return None
    first = full[0]
    regex = first.check.pattern  # type: ignore[union-attr]
    if not portable(regex):
        return OutputConstraint(kind="regex", regex=regex, criteria=[first.id])
    more = [c for c in full[1:] if portable(c.check.pattern)]  # type: ignore[union-attr]
    never = [c for c in everywhere if c.check.kind == "not_contains"]
    if not more and not never:
        return OutputConstraint(kind="regex", regex=regex, criteria=[first.id])
    enforced = [first, *more, *never]
    grammar = lark_grammar(
        [c.check for c in (first, *more)],  # type: ignore[misc]
        [c.check for c in never],  # type: ignore[misc]
    )
    return OutputConstraint(kind="regex", regex=regex, grammar=grammar, criteria=[c.id for c in enforced])


def compile_rubric(
    doc: SkillDocument, bundle: Bundle, version: str, evals: EvalSet | None
) -> tuple[Rubric, list[Diagnostic]]:
    """The skill's rubric and the problems found on the way (see the module docs)."""
    out = CriteriaBuilder()
    diagnostics = _rubric_file(bundle, out)
    rules, json_reply = _rules(doc, out.criteria)
    if evals is not None:
        _evals(bundle, evals, out, json_reply)
    compiled = _body(rules, out)
    criteria = dedupe(out.criteria)
    deterministic = sum(1 for c in criteria if c.deterministic)
    rubric = Rubric(
        skill_name=doc.name,
        skill_version=version,
        criteria=criteria,
        output_constraint=output_constraint(criteria),
        coverage=RubricCoverage(
            constraint_sentences=len(rules),
            compiled_sentences=compiled,
            deterministic_criteria=deterministic,
            judge_criteria=len(criteria) - deterministic,
        ),
    )
    return rubric, diagnostics
