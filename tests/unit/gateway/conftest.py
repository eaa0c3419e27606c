"""Fixtures of the gateway's unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.fake_http import Serve, serving


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``await serve(handler)``: a fake upstream on loopback (see ``tests.support.fake_http``)."""
    async for start in serving():
        yield start
