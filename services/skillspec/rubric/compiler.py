"""Compile a skill into a ``Rubric``: every criterion with where it came from.

Sources, most trusted first:

1. ``evals/rubric.yaml`` (``RubricFile``): the author's own criteria, ids ``rubric.<id>``. A file
   that is not valid YAML, uses aliases, or does not validate is an error diagnostic
   (``rubric_file_invalid``) with the line at fault, and none of it is used; a criterion whose
   check cannot run (``validate_check``) is an error and is left out.
2. The assertions of ``evals/evals.json``: each compiled with the pattern library, scoped to its
   eval (``eval_id``), ids ``evals.<eval id>.<n>``; one that does not compile is a judge criterion.
3. The constraint sentences of the SKILL.md body, ids ``body.l<line>.<what>``: deterministic where
   a pattern matches, else a judge criterion. Fenced code, tables, headings and HTML comments are
   not sentences, nor is anything under a heading that is not about the reply ("Examples", "When
   to use", "Overview", "Background", "References"...). A sentence under a conditional heading
   or lead-in ("When the user asks for a refactor:") is judged, with that condition in its
   instruction; a judge sentence ending in ":" right before a fenced block ("Respond with
   exactly this shape:") gets the block in its instruction.

A criterion whose check is identical to an earlier one's is dropped when the earlier one applies
wherever it does (same eval, or every prompt); a criterion for every prompt replaces earlier
identical ones scoped to single evals. The same input always gives the same rubric.

The ``output_constraint`` (for guided decoding) comes from the criteria for every prompt: the
first JSON Schema (or, for "valid JSON", any object or array), or a single full-match regex, and
none when another criterion needs Markdown around it.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from skill_adapter.contracts import (
    Check,
    Criterion,
    Diagnostic,
    JudgeCheck,
    OutputConstraint,
    Provenance,
    Rubric,
    RubricCoverage,
    RubricFile,
)

from ..diagnostics import Code, error
from ..document import SKILL_MD, Bundle, SkillDocument
from ..evals import EVALS_PATH, EvalSet
from .checks import atx_heading, sentence_spans, validate_check
from .patterns import compile_checks, is_constraint_sentence, normalize

RUBRIC_PATHS = ("evals/rubric.yaml", "evals/rubric.yml")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_NOT_RULES = re.compile(
    r"(?:examples?\b.*|samples?\b.*|when\s+(?:not\s+)?to\s+use\b.*|(?:overview|about(?:\s+this\s+skill)?|"
    r"background|purpose|references?|resources|see\s+also|files)\s*:?)$",
    re.IGNORECASE,
)
_CONDITION = re.compile(
    r"^(?:if|when|whenever|unless|for|in\s+case|once|after|before|while)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class BodySentence:
    """A sentence of the SKILL.md body: its line, its text and the condition it is under."""

    line: int
    text: str
    condition: str | None = None
    shown: str | None = None  # the fenced block right after a sentence ending in ":"


# --- the body -------------------------------------------------------------------------------


class _BodyReader:
    """Reads the body line by line into blocks (paragraphs, list items), then sentences."""

    def __init__(self) -> None:
        self.sentences: list[BodySentence] = []
        self.block: list[tuple[int, str]] = []
        self.is_list = False
        self.conditions: dict[int, str] = {}  # the conditional headings the text is under, by level
        self.lead_in: str | None = None  # a conditional paragraph ending in ":" before a list
        self.skip_level = 0  # the level of an "Examples" heading being skipped
        self.fence: str | None = None
        self.in_comment = False
        self.colon = False  # the last sentence read ends in ":" and nothing came since
        self.shown_to: int | None = None  # the sentence the open fence is shown to
        self.code: list[str] = []

    def flush(self) -> None:
        if not self.block:
            return
        under = [self.conditions[level] for level in sorted(self.conditions)]
        if self.is_list and self.lead_in:
            under.append(self.lead_in)
        condition = "; ".join(under) or None
        sentences = _split(self.block)
        self.block = []
        if not self.is_list:
            last = sentences[-1].text if sentences else ""
            self.lead_in = last.rstrip(":") if last.endswith(":") and _CONDITION.match(last) else None
        self.sentences.extend(BodySentence(s.line, s.text, condition) for s in sentences)
        self.colon = bool(sentences) and sentences[-1].text.endswith(":")

    def heading_line(self, level: int, title: str) -> None:
        self.flush()
        self.colon = False
        if self.skip_level and level > self.skip_level:
            return
        self.skip_level = level if _NOT_RULES.match(title) else 0
        self.conditions = {k: v for k, v in self.conditions.items() if k < level}
        if _CONDITION.match(title):
            self.conditions[level] = title
        self.lead_in = None

    def read(self, line_no: int, raw: str) -> None:
        if self.fence is not None:
            if raw.strip().startswith(self.fence):
                self.fence = None
                if self.shown_to is not None:
                    shown = "\n".join(self.code)
                    self.sentences[self.shown_to] = replace(self.sentences[self.shown_to], shown=shown)
                    self.shown_to = None
            elif self.shown_to is not None:
                self.code.append(raw)
            return
        if self.in_comment:
            self.in_comment = "-->" not in raw
            return
        raw = re.sub(r"<!--.*?-->", "", raw)
        if "<!--" in raw:
            raw, self.in_comment = raw[: raw.index("<!--")], True
        raw = re.sub(r"^\s*(?:>\s?)+", "", raw)  # blockquotes read as their content
        if opened := _FENCE.match(raw):
            self.flush()
            self.fence = opened.group(1)
            if self.colon and not self.skip_level:
                self.shown_to, self.code = len(self.sentences) - 1, []
            self.colon = False
        elif heading := atx_heading(raw):
            self.heading_line(*heading)
        elif self.skip_level:
            return
        elif not raw.strip():
            self.flush()
        elif raw.lstrip().startswith("|"):
            self.flush()
            self.colon = False
        elif item := _LIST_ITEM.match(raw):
            self.flush()
            self.is_list = True
            self.block.append((line_no, raw[item.end() :].strip()))
        else:
            if not self.block:
                self.is_list = False
            self.block.append((line_no, raw.strip()))


def body_sentences(doc: SkillDocument) -> list[BodySentence]:
    """The body's prose sentences and list items, with their SKILL.md line numbers."""
    reader = _BodyReader()
    for line_no, raw in doc.body_lines():
        reader.read(line_no, raw)
    reader.flush()
    return reader.sentences


def _split(block: list[tuple[int, str]]) -> list[BodySentence]:
    """Split a paragraph or list item into sentences, each with the line it starts on."""
    starts: list[int] = []
    joined = ""
    for _, text in block:
        starts.append(len(joined))
        joined += text + " "
    masked = re.sub(r"`[^`]*`", lambda m: "`" + "x" * (len(m.group()) - 2) + "`", joined)
    return [
        BodySentence(block[bisect.bisect_right(starts, start) - 1][0], joined[start:end])
        for start, end in sentence_spans(masked)
    ]


# --- criteria -------------------------------------------------------------------------------


def _slug(check: Check) -> str:
    if check.kind == "length":
        if check.min is not None and check.max is not None:
            bound = "exact" if check.min == check.max else "range"
        else:
            bound = "max" if check.max is not None else "min"
        return f"{bound}-{check.unit}"
    return {"markdown_headings": "headings"}.get(check.kind, check.kind.replace("_", "-"))


def _fit(identifier: str) -> str:
    if len(identifier) <= 128:
        return identifier
    return identifier[:119] + "-" + hashlib.sha256(identifier.encode()).hexdigest()[:8]


def _id_part(value: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-_") or "x"


def describe_check(check: Check) -> str:
    """What a check asks, in a sentence."""
    match check.kind:
        case "valid_json":
            return "The reply is valid JSON"
        case "json_schema":
            keys = check.json_schema.get("required")
            if check.json_schema.get("type") == "object" and keys:
                return "The reply is a JSON object with the keys " + ", ".join(map(str, keys))
            return (
                "The reply is JSON matching the schema " + json.dumps(check.json_schema, sort_keys=True)[:500]
            )
        case "regex":
            return (
                f"The reply {'fully matches' if check.mode == 'fullmatch' else 'matches'} /{check.pattern}/"
            )
        case "contains" | "not_contains" | "starts_with" | "ends_with":
            verb = {"contains": "contains", "not_contains": "does not contain"}.get(
                check.kind, check.kind.replace("_", "s ")
            )
            return f"The reply {verb} {check.text!r}"
        case "markdown_headings":
            names = ", ".join(repr(h) for h in check.headings)
            level = f" at level {check.level}" if check.level else ""
            return f"The reply has the heading{'s' if len(check.headings) > 1 else ''} {names}{level}" + (
                ", in this order" if check.in_order else ""
            )
        case "bullet_list" | "numbered_list":
            kind = "bullet" if check.kind == "bullet_list" else "numbered"
            if check.max_items == 0:
                return f"The reply has no {kind} list"
            most = f", at most {check.max_items}" if check.max_items is not None else ""
            return f"The reply has a {kind} list (at least {check.min_items} items{most})"
        case "code_block":
            label = f"{check.language} code block" if check.language else "fenced code block"
            return f"The reply has at least {check.min_blocks} {label}{'s' if check.min_blocks > 1 else ''}"
        case "length":
            if check.min is not None and check.max is not None:
                bound = (
                    f"exactly {check.min}"
                    if check.min == check.max
                    else f"between {check.min} and {check.max}"
                )
            else:
                bound = f"at most {check.max}" if check.max is not None else f"at least {check.min}"
            return f"The reply has {bound} {check.unit}"
    return check.instruction  # type: ignore[union-attr]


class _Builder:
    """Collects criteria in trust order, with unique ids."""

    def __init__(self) -> None:
        self.criteria: list[Criterion] = []
        self._ids: set[str] = set()
        self._uses: dict[str, int] = {}  # the last suffix given to each id, so suffixes come fast

    def add(self, identifier: str, check: Check, provenance: Provenance, **fields: object) -> None:
        base = _fit(identifier)
        unique, n = base, self._uses.get(base, 1)
        while unique in self._ids:
            n += 1
            unique = _fit(f"{base}-{n}")
        self._ids.add(unique)
        self._uses[base] = n
        description = fields.pop("description", None) or describe_check(check)
        self.criteria.append(
            Criterion(
                id=unique, description=str(description)[:2000], check=check, provenance=provenance, **fields
            )
        )

    def add_compiled(
        self, prefix: str, instruction: str, checks: list[Check], provenance: Provenance, **fields: object
    ) -> None:
        """Deterministic criteria for ``checks``, or one judge criterion when there are none."""
        if not checks:
            judge_id = f"{prefix}.judge" if prefix.startswith("body") else prefix
            self.add(judge_id, _judge(instruction), provenance, description=provenance.text, **fields)
        for check in checks:
            suffix = _slug(check) if prefix.startswith("body") or len(checks) > 1 else ""
            self.add(f"{prefix}.{suffix}" if suffix else prefix, check, provenance, **fields)


def _judge(instruction: str) -> JudgeCheck:
    return JudgeCheck(instruction=instruction[:4000])


# --- the sources ----------------------------------------------------------------------------


def _node_line(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the YAML node at ``loc`` (keys not found are skipped), or of its nearest parent."""
    from yaml.nodes import MappingNode, SequenceNode

    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, MappingNode):
            found = [value for key, value in node.value if getattr(key, "value", None) == part]
            if not found:
                continue
            node = found[0]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _where(loc: tuple[Any, ...]) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    return text or "(root)"


def load_rubric_file(
    text: str, path: str
) -> tuple[RubricFile | None, dict[int, int | None], list[Diagnostic]]:
    """The parsed rubric file, the line of each criterion, and its problems (``None`` if unusable)."""
    import yaml

    def failed(message: str, line: int | None = None) -> tuple[None, dict[int, int | None], list[Diagnostic]]:
        return None, {}, [error(Code.RUBRIC_FILE_INVALID, message, path, line)]

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                return failed("YAML aliases are not allowed in a rubric file", event.start_mark.line + 1)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        return failed(f"not valid YAML: {problem}", mark.line + 1 if mark else None)
    if data is None:
        return failed("the rubric file is empty")
    try:
        parsed = RubricFile.model_validate(data)
    except ValidationError as exc:
        return (
            None,
            {},
            [
                error(
                    Code.RUBRIC_FILE_INVALID,
                    f"{_where(e['loc'])}: {e['msg']}",
                    path,
                    _node_line(node, e["loc"]),
                )
                for e in exc.errors()[:20]
            ],
        )
    lines = {i: _node_line(node, ("criteria", i)) for i in range(len(parsed.criteria))}
    return parsed, lines, []


def _rubric_file(bundle: Bundle, out: _Builder) -> list[Diagnostic]:
    path = next((p for p in RUBRIC_PATHS if p in bundle.files), None)
    if path is None:
        return []
    text = bundle.text(path) or ""
    rubric_file, lines, problems = load_rubric_file(text, path)
    if rubric_file is None:
        return problems
    seen: set[str] = set()
    for index, item in enumerate(rubric_file.criteria):
        line = lines.get(index)
        if item.id in seen:
            problems.append(
                error(
                    Code.RUBRIC_FILE_INVALID, f"criteria[{index}]: id {item.id!r} is used twice", path, line
                )
            )
            continue
        seen.add(item.id)
        if issues := validate_check(item.check):
            problems.extend(
                error(Code.RUBRIC_FILE_INVALID, f"criteria[{index}] ({item.id}): {issue}", path, line)
                for issue in issues
            )
            continue
        where = Provenance(source="rubric_file", file=path, line=line, text=item.description)
        out.add(f"rubric.{item.id}", item.check, where, description=item.description, weight=item.weight)
    return problems


def _evals(bundle: Bundle, evals: EvalSet, out: _Builder) -> None:
    raw = bundle.text(EVALS_PATH) or ""
    cursor = 0
    for case in evals.evals:
        for n, assertion in enumerate(case.assertions, 1):
            line, cursor = _json_string_line(raw, assertion, cursor)
            where = Provenance(source="evals", file=EVALS_PATH, line=line, text=assertion)
            checks = compile_checks(assertion)
            out.add_compiled(f"evals.{_id_part(case.id)}.{n}", assertion, checks, where, eval_id=case.id)


def _json_string_line(raw: str, value: str, cursor: int) -> tuple[int | None, int]:
    """The line of the JSON string ``value`` in ``raw``, searching from ``cursor``."""
    for encoded in (json.dumps(value, ensure_ascii=False), json.dumps(value)):
        at = raw.find(encoded, cursor)
        if at >= 0:
            return raw.count("\n", 0, at) + 1, at + len(encoded)
    return None, cursor


def _body(doc: SkillDocument, out: _Builder) -> tuple[int, int]:
    """Criteria from the body; ``(constraint sentences, compiled deterministically)``."""
    constraints = compiled = 0
    for sentence in body_sentences(doc):
        text = normalize(sentence.text)
        if not is_constraint_sentence(text):
            continue
        constraints += 1
        checks = [] if sentence.condition else compile_checks(text)
        compiled += bool(checks)
        instruction = f"{sentence.condition.rstrip(':')}: {text}" if sentence.condition else text
        if sentence.shown is not None:
            instruction += f"\n{sentence.shown}"
        where = Provenance(source="body", file=SKILL_MD, line=sentence.line, text=text)
        out.add_compiled(f"body.l{sentence.line}", instruction, checks, where)
    return constraints, compiled


# --- dedupe and output constraint -----------------------------------------------------------


def _dedupe(criteria: list[Criterion]) -> list[Criterion]:
    """Drop criteria an earlier identical check already covers (see the module docs)."""
    kept: dict[int, Criterion] = {}
    same_check: dict[str, list[int]] = {}
    for index, criterion in enumerate(criteria):
        earlier = same_check.setdefault(
            json.dumps(criterion.check.model_dump(mode="json"), sort_keys=True), []
        )
        if any(kept[i].eval_id in (None, criterion.eval_id) for i in earlier):
            continue
        if criterion.eval_id is None:
            for i in earlier:
                del kept[i]
            earlier.clear()
        kept[index] = criterion
        earlier.append(index)
    return list(kept.values())


_NEEDS_MARKDOWN = {"markdown_headings", "code_block"}


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
            chosen = schemas[0]
            return OutputConstraint(
                kind="json_schema",
                json_schema=chosen.check.json_schema,  # type: ignore[union-attr]
                criteria=[chosen.id, *(c.id for c in any_json)],
            )
        return OutputConstraint(
            kind="json_schema", json_schema={"type": ["object", "array"]}, criteria=[c.id for c in any_json]
        )
    full = [
        c for c in everywhere if c.check.kind == "regex" and c.check.mode == "fullmatch" and not c.check.flags
    ]
    if len(full) == 1:
        return OutputConstraint(kind="regex", regex=full[0].check.pattern, criteria=[full[0].id])  # type: ignore[union-attr]
    return None


def compile_rubric(
    doc: SkillDocument, bundle: Bundle, version: str, evals: EvalSet | None
) -> tuple[Rubric, list[Diagnostic]]:
    """The skill's rubric and the problems found on the way (see the module docs)."""
    out = _Builder()
    diagnostics = _rubric_file(bundle, out)
    if evals is not None:
        _evals(bundle, evals, out)
    constraints, compiled = _body(doc, out)
    criteria = _dedupe(out.criteria)
    deterministic = sum(1 for c in criteria if c.deterministic)
    rubric = Rubric(
        skill_name=doc.name,
        skill_version=version,
        criteria=criteria,
        output_constraint=output_constraint(criteria),
        coverage=RubricCoverage(
            constraint_sentences=constraints,
            compiled_sentences=compiled,
            deterministic_criteria=deterministic,
            judge_criteria=len(criteria) - deterministic,
        ),
    )
    return rubric, diagnostics
