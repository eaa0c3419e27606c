"""Errors reach the user in OpenAI's envelope: ``{"error": {"message", "type", "param", "code"}}``.

Services raise the typed ``ApiError`` subclasses below; Litestar's own exceptions (unknown
route, wrong method, body too large, a body that fails validation) are mapped to the same
envelope, and anything unexpected becomes a generic 500 that is logged with its traceback and an
error id the user can quote. Litestar's default ``{"status_code", "detail"}`` body never leaves.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, SerializationException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap

from skill_adapter.contracts import Diagnostic
from skill_adapter.contracts.api import ErrorDetail, ErrorResponse, ErrorType
from skill_adapter.contracts.openai import UNION_TAGS
from skill_adapter.runtime.log import get_logger

log = get_logger(__name__)


class ApiError(Exception):
    """An error the user caused or can act on, with its HTTP status and envelope fields."""

    status_code = 400
    type: ErrorType = "invalid_request_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        errors: Sequence[Diagnostic] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code or self.code
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})

    def detail(self) -> ErrorDetail:
        return ErrorDetail(
            message=self.message, type=self.type, param=self.param, code=self.code, errors=self.errors
        )


class BadRequest(ApiError):
    code = "invalid_request"


class SkillNotFound(ApiError):
    status_code = 404
    code = "skill_not_found"

    def __init__(self, name: str, *, param: str = "name") -> None:
        super().__init__(f"No skill named {name!r}.", param=param)


class VersionNotFound(ApiError):
    status_code = 404
    code = "version_not_found"

    def __init__(self, name: str, version: str) -> None:
        super().__init__(f"Skill {name!r} has no version {version!r}.", param="version")


class UploadTooLarge(ApiError):
    status_code = 413
    code = "file_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The upload is larger than the {limit} bytes this gateway accepts.", param="file")


class InvalidSkill(ApiError):
    """The skill failed validation: ``errors`` lists every diagnostic with its file and line."""

    status_code = 422
    code = "invalid_skill"

    def __init__(self, reason: str, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__(reason, param="file", errors=diagnostics)


class ServiceUnavailable(ApiError):
    status_code = 503
    type: ErrorType = "server_error"
    code = "service_unavailable"


class ModelNotFound(ApiError):
    """OpenAI's wording for a model id nobody serves."""

    status_code = 404
    code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model `{model}` does not exist or you do not have access to it.", param="model"
        )


class UnsupportedParameter(ApiError):
    code = "unsupported_parameter"

    def __init__(self, param: str, why: str) -> None:
        super().__init__(f"Unsupported parameter: '{param}' {why}", param=param)


class ContextLengthExceeded(ApiError):
    code = "context_length_exceeded"

    def __init__(self, limit: int, prompt: int, completion: int, *, param: str = "messages") -> None:
        super().__init__(
            f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{prompt + completion} tokens ({prompt} in the messages, {completion} in the completion). "
            "Please reduce the length of the messages or completion.",
            param=param,
        )


class ModelUnavailable(ApiError):
    """The model is known but cannot serve right now (still loading, failed to load)."""

    status_code = 503
    type: ErrorType = "server_error"
    code = "model_unavailable"


class EngineOverloaded(ApiError):
    status_code = 503
    type: ErrorType = "server_error"
    code = "engine_overloaded"

    def __init__(self) -> None:
        super().__init__("The engine is currently overloaded, please try again later.")


class RateLimited(ApiError):
    status_code = 429
    type: ErrorType = "rate_limit_error"
    code = "rate_limit_exceeded"


class UpstreamError(ApiError):
    """An upstream backend failed or refused; ``status_code`` is what the client gets."""

    type: ErrorType = "server_error"
    code = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 502,
        type: ErrorType | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code, headers=headers)
        self.status_code = status_code
        if type is not None:
            self.type = type


# What Litestar's exceptions become, by status: (type, code).
_BY_STATUS: dict[int, tuple[ErrorType, str]] = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "insufficient_scope"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    409: ("invalid_request_error", "conflict"),
    413: ("invalid_request_error", "request_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    422: ("invalid_request_error", "invalid_request"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")
_GENERIC_500 = "The server had an error while processing your request (error id {error_id})."


def error_response(
    status_code: int, detail: ErrorDetail, headers: Mapping[str, str] | None = None
) -> Response[dict[str, Any]]:
    body = ErrorResponse(error=detail).model_dump(mode="json")
    if body["error"].get("errors") is None:
        body["error"].pop("errors", None)
    return Response(body, status_code=status_code, media_type=MediaType.JSON, headers=dict(headers or {}))


def handle_api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, Any]]:
    return error_response(exc.status_code, exc.detail(), exc.headers)


def handle_validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    """A request that failed validation: name the first offending field in ``param``."""
    problems = [p for p in exc.extra if isinstance(p, dict)] if isinstance(exc.extra, list) else []
    problems = [_locate(p) for p in problems]
    param = next((as_param(str(p["key"])) for p in problems if p.get("key")), None)
    if problems:
        message = "; ".join(_describe(p) for p in problems)
    else:
        message = str(exc.detail) if exc.detail else "The request is invalid."
    return error_response(
        400, ErrorDetail(message=message, type="invalid_request_error", param=param, code="invalid_request")
    )


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if status >= 500:
        return handle_internal_error(request, exc)
    error_type, code = _BY_STATUS.get(status, ("invalid_request_error", "invalid_request"))
    message = str(exc.detail) if exc.detail else "The request is invalid."
    if isinstance(exc.__cause__, SerializationException):
        message, code = f"We could not parse the JSON body of your request: {exc.detail}.", "invalid_json"
    elif status == 404 and isinstance(exc, NotFoundException) and exc.detail == "Not Found":
        message = f"Invalid URL ({request.method} {request.url.path})."
    elif status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    elif status == 413:
        message = "The request body is larger than this server accepts."
    return error_response(
        status, ErrorDetail(message=message, type=error_type, param=None, code=code), exc.headers
    )


def handle_internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    error_id = uuid.uuid4().hex[:12]
    log.error(
        "unhandled error",
        error_id=error_id,
        method=request.method,
        path=request.url.path,
        exc_info=exc,
    )
    detail = ErrorDetail(
        message=_GENERIC_500.format(error_id=error_id), type="server_error", param=None, code="internal_error"
    )
    return error_response(500, detail)


_DESCRIPTIONS = {
    400: "Malformed request: bad JSON, a wrong type or a value out of range (`param` names it).",
    401: "No API key, or an unknown or revoked one.",
    403: "The API key lacks the scope this route needs.",
    404: "No such resource.",
    409: "The resource is not in a state that allows this (a finished job cannot be cancelled).",
    413: "The upload or request body is too large.",
    422: "The skill is invalid; `errors` lists every diagnostic with its file and line.",
    429: "Too many requests for this API key; `Retry-After` says when to retry.",
    502: "An upstream inference backend failed.",
    503: "The gateway is starting or stopping, or the model is loading or overloaded.",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error statuses a route can answer, all with the envelope."""
    return {
        status: ResponseSpec(
            data_container=ErrorResponse, description=_DESCRIPTIONS[status], generate_examples=False
        )
        for status in (400, 401, 403, *statuses)
    }


def exception_handlers() -> ExceptionHandlersMap:
    return {
        ApiError: handle_api_error,
        ValidationException: handle_validation_error,
        HTTPException: handle_http_exception,
        Exception: handle_internal_error,
    }


_TYPE_PARTS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "literal"})


def clean_key(key: str) -> str:
    """A pydantic location without its union noise: type names (``str``, ``list[...]``) and
    discriminator tags after an index (``messages.0.user.content`` -> ``messages.0.content``)."""
    given = [p for p in re.split(r"\.(?![^\[]*\])", key) if "[" not in p and p not in _TYPE_PARTS]
    parts = [
        part
        for index, part in enumerate(given)
        if not (part in UNION_TAGS and 0 < index < len(given) - 1 and given[index - 1].isdigit())
    ]
    return ".".join(parts)


def as_param(key: str) -> str:
    """``samples.0.text`` -> ``samples[0].text`` (how OpenAI names nested fields)."""
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", clean_key(key))


def _locate(problem: dict[str, Any]) -> dict[str, Any]:
    """A form or body missing a field is reported on the body (``data``): point at the field."""
    missing = _MISSING_FIELD.search(str(problem.get("message", "")))
    if problem.get("key") == "data" and missing:
        return {**problem, "key": missing[1], "message": "this field is required"}
    return problem


def _describe(problem: dict[str, Any]) -> str:
    message = str(problem.get("message") or "invalid value").removeprefix("Value error, ")
    key = problem.get("key")
    return f"{as_param(str(key))}: {message}" if key else message
