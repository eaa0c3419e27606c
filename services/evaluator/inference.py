"""The evaluator's way to models: the inference plane's OpenAI-compatible API, over httpx.

Each reply comes back with its output tokens and wall-clock latency. Transient failures
(connection errors, timeouts, 408/409/429/5xx) are retried with backoff; what is left becomes
``InferenceUnavailable`` (the run fails, keeping what finished, labelled partial), a 4xx becomes
``InferenceRefused``.
"""

from __future__ import annotations

import asyncio
import time
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
    """The endpoint cannot be reached, keeps failing or timing out, or answers garbage."""


class InferenceRefused(InferenceError):
    """The endpoint refused the request (4xx): retrying it is pointless."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Reply:
    text: str
    finish_reason: str | None
    output_tokens: int
    latency_seconds: float


class ChatClient:
    """One OpenAI-compatible endpoint (``base_url`` ends in ``/v1``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float,
        name: str = "inference",
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.retry_delays = retry_delays
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def served(self, model: str) -> bool:
        """Whether the endpoint serves ``model`` to this key (``GET /v1/models/{model}``)."""
        last = ""
        for delay in (*self.retry_delays, None):
            try:
                response = await self._http.get(f"/models/{model}")
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return True
                if response.status_code == 404:
                    return False
                if response.status_code not in _TRANSIENT:
                    raise InferenceRefused(
                        f"{self.name} refused to describe {model!r} (HTTP {response.status_code}): "
                        f"{response.text[:300]}",
                        response.status_code,
                    )
                last = f"HTTP {response.status_code}"
            if delay is None:
                break
            await asyncio.sleep(delay)
        raise InferenceUnavailable(f"{self.name} at {self.base_url} is unavailable ({last})")

    async def chat(
        self,
        model: str,
        messages: list[dict[str, str]],
        *,
        temperature: float,
        max_tokens: int,
        seed: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Reply:
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "temperature": temperature,
            "max_tokens": max_tokens,
            **({"seed": seed} if seed is not None else {}),
            **(extra or {}),
        }
        last = ""
        for attempt, delay in enumerate((*self.retry_delays, None)):
            started = time.perf_counter()
            try:
                response = await self._http.post("/chat/completions", json=body)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                latency = time.perf_counter() - started
                if response.status_code < 400:
                    return _reply(self.name, response, latency)
                if response.status_code not in _TRANSIENT:
                    raise InferenceRefused(
                        f"{self.name} refused a request for {model!r} (HTTP {response.status_code}): "
                        f"{response.text[:300]}",
                        response.status_code,
                    )
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            if delay is None:
                break
            log.warning(
                "inference request failed; retrying", endpoint=self.name, attempt=attempt + 1, error=last
            )
            await asyncio.sleep(delay)
        raise InferenceUnavailable(f"{self.name} at {self.base_url} did not answer for {model!r} ({last})")


def _reply(name: str, response: httpx.Response, latency: float) -> Reply:
    try:
        data = response.json()
        choice = min(data["choices"], key=lambda c: c.get("index", 0))
        usage = data.get("usage") or {}
        return Reply(
            text=str(choice["message"].get("content") or ""),
            finish_reason=choice.get("finish_reason"),
            output_tokens=int(usage.get("completion_tokens") or 0),
            latency_seconds=latency,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InferenceUnavailable(f"{name} answered a malformed chat completion: {exc!r}") from exc
