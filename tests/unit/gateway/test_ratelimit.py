"""The per-key token bucket, on a fake clock."""

from __future__ import annotations

import pytest

from skill_adapter.gateway.ratelimit import RateLimiter

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_a_minute_of_requests_then_refills_continuously() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)
    assert all(limiter.take("k").allowed for _ in range(60))
    refused = limiter.take("k")
    assert not refused.allowed
    assert refused.headers()["Retry-After"] == "1" and refused.remaining == 0
    clock.now += 1.0  # 60 per minute: one more per second
    assert limiter.take("k").allowed
    assert not limiter.take("k").allowed


def test_keys_have_their_own_buckets_and_retry_after_rounds_up() -> None:
    clock = Clock()
    limiter = RateLimiter(2, clock=clock)
    assert limiter.take("a").allowed and limiter.take("a").allowed
    verdict = limiter.take("a")
    assert not verdict.allowed and verdict.headers()["Retry-After"] == "30"
    assert limiter.take("b").allowed
    clock.now += 29.0
    assert not limiter.take("a").allowed
    clock.now += 1.5
    assert limiter.take("a").allowed


def test_zero_means_off() -> None:
    assert not RateLimiter(0).enabled
