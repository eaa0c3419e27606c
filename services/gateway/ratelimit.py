"""Requests per minute per API key: a token bucket per key, in memory, per process.

A bucket holds up to ``rpm`` requests and refills continuously at ``rpm / 60`` per second.
Every authenticated answer carries OpenAI's ``x-ratelimit-*-requests`` headers; a request
over the limit is a 429 in the envelope (``rate_limit_error``) with ``Retry-After``, in whole
seconds, saying when one request will be allowed again. With several replicas each keeps its
own buckets (the limit is per process).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from .errors import RateLimited
from .keys import ApiKey


@dataclass
class Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    reset_after: float

    def headers(self) -> dict[str, str]:
        headers = {
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(self.remaining),
            "x-ratelimit-reset-requests": f"{self.reset_after:.3f}s",
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


class RateLimiter:
    def __init__(self, rpm: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rpm = rpm
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.rpm > 0

    def take(self, key: str) -> Verdict:
        """Spend one request of ``key``'s bucket, if there is one to spend."""
        now, rate = self._clock(), self.rpm / 60.0
        bucket = self._buckets.setdefault(key, Bucket(tokens=float(self.rpm), updated=now))
        bucket.tokens = min(float(self.rpm), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
        return Verdict(
            allowed=allowed,
            limit=self.rpm,
            remaining=int(bucket.tokens),
            retry_after=0.0 if allowed else (1.0 - bucket.tokens) / rate,
            reset_after=(self.rpm - bucket.tokens) / rate,
        )


class RateLimitMiddleware(ASGIMiddleware):
    """After authentication: spend from the key's bucket, or answer 429 (public routes, which
    have no key, are never limited)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        key = scope.get("user")
        limiter: RateLimiter = scope["litestar_app"].state.gateway.limiter
        if not isinstance(key, ApiKey) or not limiter.enabled:
            await next_app(scope, receive, send)
            return
        verdict = limiter.take(key.id)
        if not verdict.allowed:
            raise RateLimited(
                f"Rate limit reached for requests on this API key: limit {verdict.limit} per minute. "
                f"Please try again in {max(1, math.ceil(verdict.retry_after))}s.",
                headers=verdict.headers(),
            )
        extra = [(name.encode(), value.encode()) for name, value in verdict.headers().items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await next_app(scope, receive, send_with_headers)
