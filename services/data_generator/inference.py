"""The generator's only way to a model: an OpenAI-compatible endpoint, over httpx.

Requests carry the same structured-output fields on every backend (``response_format`` for
JSON Schemas, vLLM's ``structured_outputs`` for regexes), so guided generation works against
the gateway's local engine and vLLM alike. Transient failures (connection, 429, 5xx,
timeouts) are retried with backoff; what is left becomes ``InferenceUnavailable`` (the
endpoint is down or broken: the run fails with that reason) or ``InferenceRefused`` (the
endpoint refused the request: unknown model, bad parameters).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from skill_adapter.runtime.log import get_logger

log = get_logger(__name__)

RETRY_DELAYS = (0.5, 2.0, 5.0)
_TRANSIENT = {408, 409, 429, 500, 502, 503, 504}


class InferenceError(Exception):
    """An inference request that did not give a usable answer."""


class InferenceUnavailable(InferenceError):
    """The endpoint cannot be reached, keeps failing, or answers garbage."""


class InferenceRefused(InferenceError):
    """The endpoint refused the request (4xx): retrying the same request is pointless."""

    def __init__(self, message: str, status: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str | None


@dataclass(frozen=True)
class ChatResult:
    choices: list[Completion]
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class TokenCount:
    count: int
    max_model_len: int | None


class ChatClient:
    """One OpenAI-compatible endpoint (``base_url`` ends in ``/v1``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float,
        name: str = "inference",
        transport: httpx.AsyncBaseTransport | None = None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.name = name
        self.retry_delays = retry_delays
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def chat(
        self,
        model: str,
        messages: list[dict[str, str]],
        *,
        n: int = 1,
        temperature: float = 0.8,
        top_p: float = 1.0,
        seed: int | None = None,
        max_tokens: int = 256,
        constraint: dict[str, Any] | None = None,
    ) -> ChatResult:
        """``constraint`` is merged into the body (``response_format`` / ``structured_outputs``)."""
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "n": n,
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
        }
        if seed is not None:
            body["seed"] = seed
        body.update(constraint or {})
        data = await self._post("/chat/completions", body)
        try:
            choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
            usage = data.get("usage") or {}
            return ChatResult(
                choices=[
                    Completion(str(c["message"].get("content") or ""), c.get("finish_reason"))
                    for c in choices
                ],
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InferenceUnavailable(f"{self.name} answered a malformed chat completion: {exc!r}") from exc

    async def tokenize(
        self, model: str, messages: list[dict[str, str]], *, add_generation_prompt: bool = True
    ) -> TokenCount:
        """Tokens of ``messages`` under ``model``'s chat template (vLLM's ``/tokenize``): a prompt
        about to be answered, or (``add_generation_prompt=False``) a finished conversation."""
        root = self.base_url.removesuffix("/v1")
        body = {"model": model, "messages": messages, "add_generation_prompt": add_generation_prompt}
        data = await self._post(f"{root}/tokenize", body)
        try:
            count = int(data["count"])
            limit = data.get("max_model_len")
            return TokenCount(count, int(limit) if limit is not None else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise InferenceUnavailable(f"{self.name} answered a malformed /tokenize: {exc!r}") from exc

    async def model_info(self, model: str) -> dict[str, Any]:
        """``GET /v1/models/{model}``: ``{}`` when the endpoint does not know it or cannot say."""
        try:
            response = await self._http.get(f"/models/{model}")
            data = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        last = ""
        for attempt, delay in enumerate((*self.retry_delays, None)):
            try:
                response = await self._http.post(path, json=body)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    try:
                        data = response.json()
                    except ValueError as exc:
                        raise InferenceUnavailable(f"{self.name} answered non-JSON: {exc}") from exc
                    if not isinstance(data, dict):
                        raise InferenceUnavailable(
                            f"{self.name} answered {type(data).__name__}, not an object"
                        )
                    return data
                message, code = _error_of(response)
                if response.status_code not in _TRANSIENT:
                    raise InferenceRefused(
                        f"{self.name} refused the request (HTTP {response.status_code}): {message}",
                        response.status_code,
                        code,
                    )
                last = f"HTTP {response.status_code}: {message}"
            if delay is None:
                break
            log.warning(
                "inference request failed; retrying", endpoint=self.name, attempt=attempt + 1, error=last
            )
            await asyncio.sleep(delay)
        raise InferenceUnavailable(f"{self.name} at {self.base_url} is unavailable ({last})")


def _error_of(response: httpx.Response) -> tuple[str, str | None]:
    try:
        data = response.json()
        error = data.get("error", data) if isinstance(data, dict) else {}
        if isinstance(error, dict):
            return str(error.get("message") or response.text[:300]), error.get("code")
    except ValueError:
        pass
    return response.text[:300] or response.reason_phrase, None
