"""``skill-adapter data``: generate a verified dataset for a skill, and look at one.

``generate`` goes through the service, like every other producer: it publishes
``datasets.cmd.dataset.generate.v1`` and follows the run's events (progress bar, then the
outcome). The data-generator must be running (``skill-adapter up``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import nats
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from skill_adapter.contracts import (
    DATASETS_BUCKET,
    SKILL_VERSIONS_BUCKET,
    DatasetFailed,
    DatasetGenerated,
    DatasetProgress,
    GenerateDataset,
    SkillParsed,
)
from skill_adapter.runtime.nats_server import nats_endpoint
from skill_adapter.runtime.objects import ObjectMissing, Objects, ensure_bucket
from skill_adapter.runtime.publisher import Publisher
from skill_adapter.runtime.settings import RuntimeSettings

from .follow import FollowTimeout, follow
from .skills import _analyze, _push, report

data_app = typer.Typer(
    help="Generate verified training data for a skill, and inspect datasets.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
STRATEGIES = ("auto", "teacher", "guided", "best_of_n")


class CliError(Exception):
    pass


@data_app.command("generate")
def generate(
    skill: Annotated[
        str, typer.Argument(help="Skill folder/.zip/SKILL.md (pushed first), or NAME[@VERSION].")
    ],
    n: Annotated[int, typer.Option("--n", min=1, help="Training samples wanted.")] = 200,
    strategy: Annotated[str, typer.Option(help="auto, teacher, guided or best_of_n.")] = "auto",
    model: Annotated[
        str, typer.Option(help="Base model id (as the inference plane serves it).")
    ] = DEFAULT_MODEL,
    seed: Annotated[int, typer.Option(help="Seed of prompts, splits and sampling.")] = 0,
    dataset_id: Annotated[str | None, typer.Option(help="Id of the dataset (default: derived).")] = None,
    wait: Annotated[float, typer.Option(help="Seconds to follow the run (0: only submit).")] = 7200.0,
) -> None:
    """Generate a dataset through the data-generator and follow it with a progress bar."""
    if strategy not in STRATEGIES:
        errors.print(f"[red]unknown strategy {strategy!r}[/]; choose from {', '.join(STRATEGIES)}")
        raise typer.Exit(2)
    local: tuple[bytes, str] | None = None
    if Path(skill).exists():
        data, object_name, analysis = _analyze(Path(skill), "strict")
        report(analysis)
        if not analysis.ok:
            raise typer.Exit(1)
        local = (data, object_name)
    settings = RuntimeSettings()
    with nats_endpoint(settings.state_dir, settings.nats_url, embedded=settings.embedded_nats) as url:
        try:
            outcome = asyncio.run(_generate(url, skill, local, n, strategy, model, seed, dataset_id, wait))
        except CliError as exc:
            errors.print(f"[red]error[/]: {escape(str(exc))}")
            raise typer.Exit(1) from exc
    if outcome is None:
        return
    if isinstance(outcome, DatasetFailed):
        errors.print(f"[red]dataset failed[/] ({outcome.code}): {escape(outcome.reason)}")
        raise typer.Exit(1)
    console.print(_summary(outcome))
    console.print(
        f"dataset [bold]{outcome.dataset_id}[/] ({outcome.object_name}); see `skill-adapter data show {outcome.dataset_id}`"
    )


async def _resolve(url: str, skill: str, local: tuple[bytes, str] | None) -> tuple[str, str]:
    """``(name, version)`` of a local skill (pushed and parsed first) or of ``NAME[@VERSION]``."""
    if local is not None:
        verdict = await _push(url, *local, "strict", 60.0, auto_train=False)  # this command runs its own
        if not isinstance(verdict, SkillParsed):
            raise CliError(
                "the skill-parser did not accept the skill in time (is `skill-adapter up` running?)"
                if verdict is None
                else verdict.reason
            )
        state = "new version" if verdict.new_version else "already known version"
        console.print(f"[green]parsed[/]: {verdict.skill_name} {verdict.skill_version[:12]} ({state})")
        return verdict.skill_name, verdict.skill_version
    name, _, version = skill.partition("@")
    nc = await nats.connect(url)
    try:
        objects = Objects(nc.jetstream(timeout=10))
        await ensure_bucket(nc.jetstream(timeout=10), SKILL_VERSIONS_BUCKET)
        stored = [o for o in await objects.list(SKILL_VERSIONS_BUCKET.name) if o.name.startswith(f"{name}/")]
    finally:
        await nc.close()
    versions = {o.name.removeprefix(f"{name}/").removesuffix(".zip"): o.mtime or "" for o in stored}
    if version:
        matches = [v for v in versions if v.startswith(version)]
        if len(matches) != 1:
            raise CliError(f"skill {name!r} has {len(matches)} versions starting with {version!r}")
        return name, matches[0]
    if not versions:
        raise CliError(
            f"no skill named {name!r} (and no such path); push it with `skill-adapter skills push`"
        )
    return name, max(versions, key=lambda v: versions[v])


async def _generate(
    url: str,
    skill: str,
    local: tuple[bytes, str] | None,
    n: int,
    strategy: str,
    model: str,
    seed: int,
    dataset_id: str | None,
    wait: float,
    grpo_probe_prompts: int | None = None,
) -> DatasetGenerated | DatasetFailed | None:
    name, version = await _resolve(url, skill, local)
    dataset_id = dataset_id or f"{name}-{version[:8]}-{datetime.now(UTC):%Y%m%d%H%M%S}"
    command = GenerateDataset(
        producer="cli",
        correlation_id=dataset_id,
        dataset_id=dataset_id,
        skill_name=name,
        skill_version=version,
        base_model=model,
        strategy=strategy,  # type: ignore[arg-type]
        num_samples=n,
        seed=seed,
        grpo_probe_prompts=grpo_probe_prompts,
    )
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=10)
        events: asyncio.Queue[Any] = asyncio.Queue()
        models = {m.SUBJECT: m for m in (DatasetProgress, DatasetGenerated, DatasetFailed)}

        async def on_event(msg: nats.aio.msg.Msg) -> None:
            event = models[msg.subject].model_validate_json(msg.data)
            if event.dataset_id == dataset_id:
                events.put_nowait(event)

        sub = await nc.subscribe("datasets.evt.dataset.*.v1", cb=on_event)
        try:
            await Publisher(js).publish(command)
            console.print(
                f"asked for dataset [bold]{dataset_id}[/]: {n} samples of {name} {version[:12]} on {model}"
            )
            if wait <= 0:
                return None
            return await _follow(events, wait)
        finally:
            await sub.unsubscribe()
    finally:
        await nc.close()


async def _follow(events: asyncio.Queue[Any], wait: float) -> DatasetGenerated | DatasetFailed:
    stream = follow(
        events,
        wait,
        console,
        waiting="waiting for the data-generator",
        silent="no answer yet: is the data-generator running (`skill-adapter up`)?",
    )
    try:
        async with contextlib.aclosing(stream):
            async for bar, task, event in stream:
                if isinstance(event, DatasetProgress):
                    accepted = f", {event.accepted} verified" if event.accepted is not None else ""
                    bar.update(
                        task,
                        description=f"{event.stage}{accepted}",
                        completed=event.done,
                        total=event.total or None,
                    )
                    continue
                return event
    except FollowTimeout as exc:
        raise CliError(f"{exc}; the run goes on (see `skill-adapter data show`)") from exc
    raise CliError("the event stream ended")


def _summary(event: DatasetGenerated) -> Table:
    table = Table(title=f"dataset {event.dataset_id}")
    table.add_column("what")
    table.add_column("value", justify="right")
    for label, value in (
        ("train samples", event.num_train),
        ("validation samples", event.num_validation),
        ("held-out prompts", event.num_heldout),
        ("GRPO prompts", event.num_grpo),
    ):
        table.add_row(label, str(value))
    if event.stats:
        for strategy, stats in event.stats.strategies.items():
            note = f" ({stats.disabled})" if stats.disabled else ""
            table.add_row(
                f"strategy {strategy}",
                f"kept {stats.kept}, accepted {stats.accepted}/{stats.attempts} ({stats.acceptance_rate:.0%}){note}",
            )
        if event.stats.grpo_zero_variance_share is not None:
            table.add_row("zero-variance GRPO prompts", f"{event.stats.grpo_zero_variance_share:.0%}")
        table.add_row(
            "seconds", f"{event.stats.seconds:.1f} ({event.stats.samples_per_minute:.1f} samples/min)"
        )
    return table


@data_app.command("show")
def show(
    dataset_id: Annotated[str, typer.Argument(help="The dataset id.")],
    samples: Annotated[int, typer.Option(help="Training samples to print.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Print a dataset's statistics and lineage, and a few of its samples."""
    settings = RuntimeSettings()
    with nats_endpoint(settings.state_dir, settings.nats_url, embedded=settings.embedded_nats) as url:
        try:
            manifest, train = asyncio.run(_read(url, dataset_id))
        except CliError as exc:
            errors.print(f"[red]error[/]: {escape(str(exc))}")
            raise typer.Exit(1) from exc
    if as_json:
        console.print_json(json.dumps(manifest))
        return
    table = Table(title=f"dataset {dataset_id}")
    table.add_column("what")
    table.add_column("value")
    table.add_row("skill", f"{manifest['skill_name']} {manifest['skill_version'][:12]}")
    table.add_row(
        "base model",
        f"{manifest['base_model']} (template {str(manifest.get('base_chat_template_sha256'))[:12]})",
    )
    table.add_row("strategies", ", ".join(manifest["strategies"]))
    for key, value in manifest["counts"].items():
        table.add_row(f"{key}", str(value))
    for key, value in manifest["acceptance_rates"].items():
        table.add_row(f"acceptance {key}", f"{value:.0%}")
    stats = manifest["stats"]
    if stats.get("grpo_zero_variance_share") is not None:
        table.add_row("zero-variance GRPO prompts", f"{stats['grpo_zero_variance_share']:.0%}")
    table.add_row("prompts by source", ", ".join(f"{k} {v}" for k, v in stats["prompts"].items()))
    table.add_row("generation", f"{stats['seconds']:.1f}s, {stats['samples_per_minute']:.1f} samples/min")
    console.print(table)
    for record in train[:samples]:
        user, reply = record["messages"][-2]["content"], record["messages"][-1]["content"]
        console.print(f"[bold]user[/] ({record['source']}): {escape(user)}")
        console.print(
            f"[bold]assistant[/] ({record['strategy']}, score {record['score']:.2f}): {escape(reply)}\n"
        )


async def _read(url: str, dataset_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=10)
        await ensure_bucket(js, DATASETS_BUCKET)
        objects = Objects(js)
        try:
            manifest = json.loads(await objects.get(DATASETS_BUCKET.name, f"{dataset_id}/manifest.json"))
        except ObjectMissing as exc:
            raise CliError(
                f"no complete dataset {dataset_id!r} (no manifest in bucket {DATASETS_BUCKET.name})"
            ) from exc
        train = await objects.get(DATASETS_BUCKET.name, f"{dataset_id}/train.jsonl")
        return manifest, [json.loads(line) for line in train.decode().splitlines() if line.strip()]
    finally:
        await nc.close()
