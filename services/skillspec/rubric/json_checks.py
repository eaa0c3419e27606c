"""JSON checks: the reply parses as JSON, or validates against a JSON Schema.

The reply is parsed with surrounding whitespace removed, strictly (``NaN`` and ``Infinity``
are not JSON). With ``allow_code_fence`` a reply that is exactly one fenced block
(```` ```json ```` or a bare ```` ``` ````) is unwrapped first. Schemas are Draft 2020-12
unless they name another ``$schema``; ``format`` is checked.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from skill_adapter.contracts import JsonSchemaCheck, ValidJsonCheck

from .evidence import CheckResult, result

_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _unfenced(payload: str) -> str:
    """The inside of a reply that is exactly one ```json (or bare ```) block, else the reply."""
    first, _, rest = payload.partition("\n")
    if not (first.startswith("```") and first[3:].strip().lower() in ("", "json") and rest.endswith("```")):
        return payload
    inner = rest[:-3]
    if any(line.lstrip().startswith("```") for line in inner.splitlines()):
        return payload
    return inner.strip()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str, allow_code_fence: bool) -> tuple[Any, str | None]:
    """The parsed reply, or ``(None, evidence)`` when it is not JSON."""
    payload = text.strip()
    if allow_code_fence:
        payload = _unfenced(payload)
    if not payload:
        return None, "reply is empty; expected JSON"
    try:
        return json.loads(payload, parse_constant=_reject_constant), None
    except json.JSONDecodeError as exc:
        hint = " (the reply is in a code fence)" if payload.startswith("```") else ""
        return None, f"JSON error at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}"
    except ValueError as exc:
        return None, f"JSON error: {exc}"
    except RecursionError:
        return None, "JSON error: nested too deeply"


def check_valid_json(check: ValidJsonCheck, text: str) -> CheckResult:
    data, problem = parse_json(text, check.allow_code_fence)
    if problem is not None:
        return result(False, problem)
    return result(True, f"reply is valid JSON ({_JSON_TYPES.get(type(data), 'value')})")


@functools.lru_cache(maxsize=256)
def _validator(canonical: str) -> Any:
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import SchemaError

    schema = json.loads(canonical)
    cls = validators.validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise ValueError(f"invalid JSON Schema at {where}: {exc.message}") from None
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def compile_schema(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for ``schema``; ``ValueError`` when the schema is invalid."""
    try:
        canonical = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"JSON Schema is not plain JSON: {exc}") from None
    return _validator(canonical)


def check_json_schema(check: JsonSchemaCheck, text: str) -> CheckResult:
    from jsonschema.exceptions import best_match
    from referencing.exceptions import Unresolvable

    validator = compile_schema(check.json_schema)
    data, problem = parse_json(text, check.allow_code_fence)
    if problem is not None:
        return result(False, problem)
    try:
        errors = []
        for error in validator.iter_errors(data):
            errors.append(error)
            if len(errors) >= 50:
                break
        best = best_match(errors)
    except Unresolvable as exc:
        return result(False, f"JSON Schema reference cannot be resolved: {exc}")
    except RecursionError:
        return result(False, "JSON is nested too deeply to validate")
    if best is None:
        return result(True, "reply is JSON that matches the schema")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    message = best.message if len(best.message) <= 200 else best.message[:199] + "…"
    return result(False, f"JSON Schema violation at {best.json_path}: {message}{more}")
