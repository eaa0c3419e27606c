"""``skill-adapter skills``: validate a skill locally, or push it into the watched bucket."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Literal

import nats
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from skill_adapter.contracts import (
    AUTO_TRAIN_HEADER,
    MODE_HEADER,
    SKILLS_BUCKET,
    IngestSkill,
    SkillParsed,
    SkillRejected,
)
from skill_adapter.runtime.nats_server import nats_endpoint
from skill_adapter.runtime.objects import Objects, ensure_bucket
from skill_adapter.runtime.publisher import Publisher
from skill_adapter.runtime.settings import RuntimeSettings
from skill_adapter.skillspec.analysis import Analysis, analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip
from skill_adapter.skillspec.diagnostics import SkillError

skills_app = typer.Typer(help="Validate skills and push them into the pipeline.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

ModeOption = Annotated[
    str, typer.Option("--mode", help="strict (the spec) or lenient (what agent clients load).")
]


def load(path: Path) -> tuple[bytes, str]:
    """The bytes to upload and their object name, from a folder, a zip or a .md file."""
    if path.is_dir():
        return to_zip(from_directory(path), path.resolve().name), f"{path.resolve().name}.zip"
    if path.suffix.lower() == ".zip":
        return path.read_bytes(), path.name
    folder = path.resolve().parent.name if path.name == "SKILL.md" else path.stem
    return path.read_bytes(), f"{folder}/SKILL.md"


def _mode(value: str) -> Literal["strict", "lenient"]:
    if value not in ("strict", "lenient"):
        errors.print("[red]--mode must be strict or lenient[/]")
        raise typer.Exit(2)
    return value  # type: ignore[return-value]


def report(analysis: Analysis) -> None:
    if analysis.errors or analysis.warnings:
        table = Table(title="Findings", show_lines=False)
        for column in ("severity", "code", "where", "message"):
            table.add_column(column)
        for d in [*analysis.errors, *analysis.warnings]:
            where = f"{d.file or ''}{f':{d.line}' if d.line else ''}"
            style = "red" if d.severity == "error" else "yellow"
            table.add_row(f"[{style}]{d.severity}[/]", d.code, escape(where), escape(d.message))
        console.print(table)
    if analysis.ok and analysis.rubric is not None:
        rubric = analysis.rubric
        console.print(
            f"[green]valid[/]: [bold]{analysis.skill_name}[/] version {analysis.version[:12] if analysis.version else ''}, "
            f"{len(rubric.criteria)} criteria ({rubric.coverage.deterministic_criteria} deterministic, "
            f"{rubric.coverage.judge_criteria} judged)"
        )
        for c in rubric.criteria:
            origin = f"{c.provenance.file}:{c.provenance.line}" if c.provenance.line else c.provenance.file
            console.print(f"  {c.id:<36} {c.check.kind:<18} {escape(origin)}")
    else:
        errors.print(f"[red]invalid[/]: {escape(analysis.reason())}")


def _analyze(path: Path, mode: str) -> tuple[bytes, str, Analysis]:
    if not path.exists():
        errors.print(f"[red]{path} does not exist[/]")
        raise typer.Exit(2)
    try:
        data, object_name = load(path)
    except SkillError as exc:
        for d in exc.diagnostics:
            errors.print(f"[red]{d.code}[/]: {escape(d.message)}")
        raise typer.Exit(1) from exc
    return data, object_name, analyze(data, object_name, _mode(mode))


@skills_app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="Skill folder, .zip or SKILL.md")], mode: ModeOption = "strict"
) -> None:
    """Check a skill locally: spec rules, hidden text, bundle safety, and the compiled rubric."""
    _, _, analysis = _analyze(path, mode)
    report(analysis)
    raise typer.Exit(0 if analysis.ok else 1)


@skills_app.command("push")
def push(
    path: Annotated[Path, typer.Argument(help="Skill folder, .zip or SKILL.md")],
    mode: ModeOption = "strict",
    wait: Annotated[float, typer.Option(help="Seconds to wait for the verdict (0: don't wait).")] = 30.0,
) -> None:
    """Validate locally, then put the skill into the `skills` bucket and ask for its ingestion."""
    data, object_name, analysis = _analyze(path, mode)
    report(analysis)
    if not analysis.ok:
        raise typer.Exit(1)
    settings = RuntimeSettings()
    with nats_endpoint(settings.state_dir, settings.nats_url, embedded=settings.embedded_nats) as url:
        verdict = asyncio.run(_push(url, data, object_name, _mode(mode), wait))
    if verdict is None:
        console.print(
            f"pushed [bold]{object_name}[/]; no verdict within {wait:.0f}s — the skill-parser ingests it when it "
            "runs (`skill-adapter up`)"
        )
        return
    if isinstance(verdict, SkillParsed):
        state = "new version" if verdict.new_version else "already known version"
        console.print(f"[green]parsed[/]: {verdict.skill_name} {verdict.skill_version[:12]} ({state})")
        return
    errors.print(f"[red]rejected[/]: {escape(verdict.reason)}")
    raise typer.Exit(1)


async def _push(
    url: str,
    data: bytes,
    object_name: str,
    mode: Literal["strict", "lenient"],
    wait: float,
    *,
    auto_train: bool | None = None,
) -> SkillParsed | SkillRejected | None:
    """Put the skill and ask for its ingestion; the verdict within ``wait`` seconds. ``auto_train``
    False keeps a new version from starting a fine-tuning job (the caller runs its own)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=10)
        await ensure_bucket(js, SKILLS_BUCKET)
        seen: list[SkillParsed | SkillRejected] = []

        async def on_event(msg: nats.aio.msg.Msg) -> None:
            model = SkillParsed if msg.subject == SkillParsed.SUBJECT else SkillRejected
            seen.append(model.model_validate_json(msg.data))

        # listen before the put: the bucket watcher may ask for (and get) the verdict first
        sub = await nc.subscribe("skills.evt.skill.*.v1", cb=on_event)
        try:
            headers = {MODE_HEADER: mode}
            if auto_train is not None:
                headers[AUTO_TRAIN_HEADER] = str(auto_train).lower()
            stored = await Objects(js).put(SKILLS_BUCKET.name, object_name, data, headers=headers)
            command = IngestSkill.for_object(
                object_name,
                stored.digest,
                stored.nuid,
                source="cli",
                mode=mode,
                producer="cli",
                auto_train=auto_train,
            )
            await Publisher(js).publish(command)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                for event in seen:
                    if event.causation_id == command.event_id:
                        return event
                await asyncio.sleep(0.05)
            return None
        finally:
            await sub.unsubscribe()
    finally:
        await nc.close()
