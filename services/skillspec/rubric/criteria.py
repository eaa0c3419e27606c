"""Criteria as the compiler builds them: unique ids, readable descriptions, no duplicates.

Ids are ``rubric.<id>``, ``evals.<eval id>.<n>`` and ``body.l<line>.<what>`` (``<what>`` from
the check: ``max-words``, ``json-schema``, ``judge``...), made unique with ``-2``, ``-3``... and
cut to 128 characters with a hash. A criterion whose check is identical to an earlier one's is
dropped when the earlier one applies wherever it does (same eval, or every prompt); a criterion
for every prompt replaces earlier identical ones scoped to single evals.
"""

from __future__ import annotations

import hashlib
import json
import re

from skill_adapter.contracts import Check, Criterion, JudgeCheck, Provenance

from .line_patterns import describe_line_regex


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


def id_part(value: str) -> str:
    """``value`` as a piece of a criterion id (lowercase letters, digits, ``-`` and ``_``)."""
    return re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-_") or "x"


def _describe_schema(schema: dict[str, object]) -> str:
    keys = schema.get("required")
    properties = schema.get("properties")
    if schema.get("type") == "object" and keys:
        return "The reply is a JSON object with the keys " + ", ".join(map(str, keys))  # type: ignore[call-overload]
    if (
        schema.get("type") == "object"
        and isinstance(properties, dict)
        and len(schema) == 2
        and len(properties) == 1
    ):
        ((key, rule),) = properties.items()
        return f"In the reply's JSON object, {key!r} matches " + json.dumps(rule, sort_keys=True)[:500]
    return "The reply is JSON matching the schema " + json.dumps(schema, sort_keys=True)[:500]


def describe_check(check: Check) -> str:
    """What a check asks, in a sentence."""
    match check.kind:
        case "valid_json":
            return "The reply is valid JSON"
        case "json_schema":
            return _describe_schema(check.json_schema)
        case "regex":
            verb = "fully matches" if check.mode == "fullmatch" else "matches"
            return describe_line_regex(check) or f"The reply {verb} /{check.pattern}/"
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


def judge(instruction: str) -> JudgeCheck:
    return JudgeCheck(instruction=instruction[:4000])


class CriteriaBuilder:
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
            self.add(judge_id, judge(instruction), provenance, description=provenance.text, **fields)
        for check in checks:
            suffix = _slug(check) if prefix.startswith("body") or len(checks) > 1 else ""
            self.add(f"{prefix}.{suffix}" if suffix else prefix, check, provenance, **fields)


def dedupe(criteria: list[Criterion]) -> list[Criterion]:
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
