"""The embedded nats-server: used when NATS_URL is unset or unreachable, shared per state dir."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import nats
import pytest

from skill_adapter.runtime.nats_server import (
    EmbeddedNats,
    NatsServerError,
    free_port,
    is_reachable,
    nats_endpoint,
    running_embedded,
)

pytestmark = pytest.mark.integration


async def jetstream_works(url: str) -> bool:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().account_info()
        return info is not None
    finally:
        await nc.close()


async def test_unset_url_starts_the_embedded_server_with_durable_jetstream(tmp_path: Path) -> None:
    with nats_endpoint(tmp_path, None) as url:
        assert is_reachable(url)
        assert await jetstream_works(url)
        config = (tmp_path / "nats" / "nats-server.conf").read_text()
        assert "sync_interval: always" in config
        assert str(tmp_path / "nats" / "jetstream") in config
        assert json.loads((tmp_path / "nats" / "server.json").read_text())["url"] == url
        assert running_embedded(tmp_path) == url
    assert not is_reachable(url)
    assert running_embedded(tmp_path) is None


async def test_a_second_process_joins_the_running_embedded_server(tmp_path: Path) -> None:
    with nats_endpoint(tmp_path, None) as first:
        with nats_endpoint(tmp_path, None) as second:
            assert second == first
        assert is_reachable(first), "the joiner must not stop a server it did not start"


async def test_reachable_url_is_used_as_is(tmp_path: Path, nats_url: str) -> None:
    with nats_endpoint(tmp_path, nats_url) as url:
        assert url == nats_url
    assert not (tmp_path / "nats" / "server.json").exists()


async def test_external_server_on_this_machine_is_used(tmp_path: Path) -> None:
    external = "nats://127.0.0.1:4222"
    if not is_reachable(external):
        pytest.skip("no NATS server on 127.0.0.1:4222 here")
    with nats_endpoint(tmp_path, external) as url:
        assert url == external
        assert await jetstream_works(url)


async def test_unreachable_url_falls_back_to_embedded(tmp_path: Path) -> None:
    dead = f"nats://127.0.0.1:{free_port()}"
    with nats_endpoint(tmp_path, dead) as url:
        assert url != dead
        assert is_reachable(url)


def test_unreachable_url_with_embedded_disabled_is_a_clear_error(tmp_path: Path) -> None:
    dead = f"nats://127.0.0.1:{free_port()}"
    with pytest.raises(NatsServerError, match="unreachable"):
        with nats_endpoint(tmp_path, dead, embedded=False):
            pass


def test_something_else_on_the_port_is_not_mistaken_for_nats(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not is_reachable(f"nats://127.0.0.1:{port}", timeout=0.3)


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedNats(tmp_path, port=taken.getsockname()[1])
        with pytest.raises(NatsServerError, match="exited"):
            server.start(timeout=10)
