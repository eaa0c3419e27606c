"""``skill-adapter``: run the stack on one machine and look at it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Literal

import nats
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from skill_adapter import __version__
from skill_adapter.runtime import db
from skill_adapter.runtime.log import configure_logging
from skill_adapter.runtime.nats_server import (
    EmbeddedNats,
    NatsServerError,
    is_reachable,
    nats_endpoint,
    running_embedded,
)
from skill_adapter.runtime.provisioning import ProvisionResult
from skill_adapter.runtime.settings import RuntimeSettings
from skill_adapter.runtime.status import Status, collect_status

from .data import data_app
from .demo import demo
from .evaluate import evaluate
from .keys import keys_app
from .registry import SERVICES, ServiceEntry, parse_extra
from .skills import skills_app
from .stack import connect_kwargs, provision_streams, running_stack
from .train import train

app = typer.Typer(
    name="skill-adapter",
    help="Agent Skill Adapter: teach a language model to follow an Agent Skill, prove it, serve it.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=False)
errors = Console(stderr=True)


def _settings(*, quiet: bool = False) -> RuntimeSettings:
    """Settings from the environment; ``quiet`` commands print their own report and log only
    warnings unless SKILL_ADAPTER_LOG_LEVEL asks for more."""
    settings = RuntimeSettings()
    level = settings.log_level
    if quiet and "SKILL_ADAPTER_LOG_LEVEL" not in os.environ:
        level = "WARNING"
    configure_logging(level, settings.log_format, service="cli")
    return settings


def _fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _connected_url(settings: RuntimeSettings) -> str | None:
    """A NATS that is running now: NATS_URL if reachable, else this state dir's embedded one."""
    if settings.nats_url and is_reachable(settings.nats_url):
        return settings.nats_url
    return running_embedded(settings.state_dir)


def _results_table(results: list[ProvisionResult]) -> Table:
    table = Table(title="Provisioning", show_lines=False)
    table.add_column("kind")
    table.add_column("name")
    table.add_column("result")
    table.add_column("differences")
    styles = {"created": "green", "unchanged": "dim", "drifted": "yellow", "updated": "cyan", "failed": "red"}
    for r in results:
        details = "; ".join(map(str, r.drift)) + (f" — {r.error}" if r.error else "")
        table.add_row(r.kind, r.name, f"[{styles[r.action]}]{r.action}[/]", escape(details))
    return table


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@app.command("nats")
def run_nats(
    port: Annotated[int, typer.Option(help="Client port (0 picks a free one).")] = 0,
    monitor_port: Annotated[int, typer.Option(help="Monitoring port (0 picks a free one).")] = 0,
) -> None:
    """Run the embedded nats-server (JetStream, store in the state directory) until Ctrl-C."""
    settings = _settings()
    if existing := running_embedded(settings.state_dir):
        raise _fail(f"an embedded nats-server already runs for {settings.state_dir} at {existing}")
    server = EmbeddedNats(settings.state_dir, port=port or None, monitor_port=monitor_port or None)
    try:
        server.start()
    except NatsServerError as exc:
        raise _fail(str(exc)) from exc
    console.print(
        f"[green]nats-server[/] listening on [bold]{server.url}[/] (monitoring {server.monitor_url})"
    )
    console.print(f"JetStream store: {server.store_dir}; press Ctrl-C to stop.")
    try:
        _wait_for_signal()
    finally:
        server.stop()


@app.command("provision")
def provision_cmd(
    apply: Annotated[bool, typer.Option("--apply", help="Change streams whose config drifted.")] = False,
) -> None:
    """Create the streams; report (and with --apply, fix) configuration drift."""
    settings = _settings(quiet=True)
    with nats_endpoint(settings.state_dir, settings.nats_url, embedded=settings.embedded_nats) as url:
        results = asyncio.run(provision_streams(url, settings, apply or settings.apply_stream_changes))
    console.print(_results_table(results))
    if any(r.action == "failed" for r in results):
        raise typer.Exit(1)
    if any(r.action == "drifted" for r in results):
        errors.print("[yellow]drift found and left unchanged; rerun with --apply to change it[/]")
        raise typer.Exit(3)


@app.command()
def up(
    with_: Annotated[
        list[str] | None,
        typer.Option("--with", help="Also run NAME=MODULE as a service (repeatable)."),
    ] = None,
) -> None:
    """Start the embedded NATS (unless NATS_URL is reachable) and every service, until Ctrl-C."""
    settings = _settings()
    try:
        extra = [parse_extra(spec) for spec in with_ or []]
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    entries: list[ServiceEntry] = []
    if extra and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` will for the child
    for entry in (*SERVICES, *extra):
        if entry.available():
            entries.append(entry)
        else:
            hint = f" (pip install 'agent-skill-adapter[{entry.extra}]')" if entry.extra else ""
            errors.print(f"[yellow]skipping {entry.name}: {entry.module} is not installed{hint}[/]")
    try:
        with running_stack(settings, entries, emit=_emit) as stack:
            console.print(_results_table(stack.provisioned))
            names = ", ".join(e.name for e in entries) or "none installed yet"
            console.print(
                f"[bold green]up[/]: NATS at [bold]{stack.url}[/]; services: {names}. Ctrl-C stops everything."
            )
            try:
                _wait_for_signal(tick=stack.tick)
            finally:
                console.print("stopping…")
    except NatsServerError as exc:
        raise _fail(str(exc)) from exc
    console.print("[green]stopped cleanly[/]")


def _emit(service: str, color: str, line: str) -> None:
    console.print(f"[{color}]{service:>14} |[/] {escape(line)}", soft_wrap=True, highlight=False)


def _wait_for_signal(tick: object = None) -> None:
    """Block until SIGINT or SIGTERM, calling ``tick`` about once a second."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(1.0):
            if callable(tick):
                tick()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _processes(settings: RuntimeSettings) -> dict[str, object] | None:
    path = settings.state_dir / "run" / "up.json"
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    alive = {}
    for name, pid in data.get("services", {}).items():
        try:
            os.kill(int(pid), 0)
            alive[name] = {"pid": pid, "running": True}
        except ProcessLookupError:
            alive[name] = {"pid": pid, "running": False}
    return {"supervisor_pid": data.get("pid"), "services": alive}


async def _status(url: str, settings: RuntimeSettings) -> Status:
    nc = await nats.connect(url, **connect_kwargs(settings))
    try:
        return await collect_status(
            nc.jetstream(timeout=10), url, nc.connected_server_version.__str__(), settings.stream_replicas
        )
    finally:
        await nc.close()


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """What is running: NATS, services, streams, consumers, pending and dead-lettered messages."""
    settings = _settings(quiet=True)
    url = _connected_url(settings)
    if url is None:
        raise _fail("NATS is not running: start everything with `skill-adapter up` (or set NATS_URL)")
    report = asyncio.run(_status(url, settings))
    processes = _processes(settings)
    if as_json:
        console.print_json(json.dumps({**report.as_dict(), "processes": processes}, default=str))
        return
    console.print(f"[bold]NATS[/] {report.nats_url} (server {report.server_version})")
    if processes:
        running = ", ".join(
            f"{name} ({'running' if info['running'] else 'stopped'}, pid {info['pid']})"  # type: ignore[index]
            for name, info in processes["services"].items()  # type: ignore[union-attr]
        )
        console.print(f"[bold]Services[/] {running or 'none'}")
    else:
        console.print("[bold]Services[/] not started by `skill-adapter up` here")
    streams = Table(title="Streams")
    for column in ("stream", "subjects", "messages", "bytes", "consumers", "config"):
        streams.add_column(column)
    consumers = Table(title="Consumers")
    for column in ("stream", "consumer", "pending", "ack pending", "redelivered", "waiting"):
        consumers.add_column(column)
    for s in report.streams:
        config = (
            "[red]missing[/]"
            if not s.exists
            else ("[yellow]drift: " + escape("; ".join(s.drift)) + "[/]" if s.drift else "ok")
        )
        streams.add_row(
            s.name, escape(" ".join(s.subjects)), str(s.messages), str(s.bytes), str(len(s.consumers)), config
        )
        for c in s.consumers:
            consumers.add_row(
                s.name, c.durable, str(c.pending), str(c.ack_pending), str(c.redelivered), str(c.waiting)
            )
    console.print(streams)
    console.print(consumers)
    style = "red" if report.dead_letters else "green"
    console.print(f"[bold]Dead letters[/] [{style}]{report.dead_letters}[/]")
    for letter in report.recent_dead_letters:
        console.print(
            f"  {escape(letter.subject)} via {letter.consumer}, {letter.deliveries} deliveries, "
            f"{letter.error_kind}: {escape(letter.error[:200])}"
        )


@app.command()
def asyncapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="yaml or json.")] = "yaml",
) -> None:
    """Generate the AsyncAPI document of every command and event."""
    from skill_adapter.runtime.asyncapi import asyncapi_document

    if fmt not in ("yaml", "json"):
        raise _fail("--format must be yaml or json", 2)
    kind: Literal["yaml", "json"] = "json" if fmt == "json" else "yaml"
    document = asyncapi_document(kind)
    if output is None:
        sys.stdout.write(document if document.endswith("\n") else document + "\n")
    else:
        output.write_text(document)
        console.print(f"wrote {output}")


db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(skills_app, name="skills")
app.add_typer(keys_app, name="keys")
app.add_typer(data_app, name="data")
app.command("train")(train)
app.command("eval")(evaluate)
app.command("demo")(demo)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration: the runtime's and each service's (SQLite in the state dir, or DATABASE_URL)."""
    from skill_adapter.evaluator.service import MIGRATIONS as EVALUATOR
    from skill_adapter.gateway.models import MIGRATIONS as GATEWAY
    from skill_adapter.skill_parser.service import MIGRATIONS as SKILL_PARSER
    from skill_adapter.trainer.models import MIGRATIONS as TRAINER

    settings = _settings(quiet=True)
    url = settings.resolved_database_url()

    async def run() -> None:
        engine = db.create_engine(url)
        try:
            await db.migrate(engine)
            for migrations in (SKILL_PARSER, GATEWAY, TRAINER, EVALUATOR):
                await db.migrate(engine, migrations.script_location, migrations.version_table)
        finally:
            await engine.dispose()

    started = time.monotonic()
    asyncio.run(run())
    console.print(f"database at {engine_label(url)} is up to date ({time.monotonic() - started:.1f}s)")


def engine_label(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    app()
