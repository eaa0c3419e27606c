"""``skill-adapter train``: teach a base model a skill (or train on a dataset) and follow the job.

    skill-adapter train json-reply                      # a dataset first, then training
    skill-adapter train ./my-skill --method sft --adapter qlora
    skill-adapter train json-reply-3f2a1b0c-20261124 --hp lora_r=32 --hp learning_rate=1e-4

The argument is a dataset id (a complete dataset in the ``datasets`` bucket), or a skill: a
folder/.zip/SKILL.md (pushed first) or ``NAME[@VERSION]``, for which a dataset is generated
first (as ``skill-adapter data generate`` does). Then ``training.cmd.job.start.v1`` is
published and the job's events are followed: a live progress bar per phase (loss, reward,
tokens/s, ETA), checkpoints, and at the end the adapter id the gateway serves it under once
promoted. The data-generator and trainer must be running (``skill-adapter up``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import nats
import typer
from rich.markup import escape

from skill_adapter.contracts import (
    DATASETS_BUCKET,
    AdapterRegistered,
    DatasetFailed,
    JobCancelled,
    JobCheckpointed,
    JobFailed,
    JobPaused,
    JobProgress,
    JobStarted,
    JobSucceeded,
    StartJob,
)
from skill_adapter.runtime.nats_server import nats_endpoint
from skill_adapter.runtime.objects import ObjectMissing, Objects, ensure_bucket
from skill_adapter.runtime.publisher import Publisher
from skill_adapter.runtime.settings import RuntimeSettings

from .data import DEFAULT_MODEL, CliError, _generate, _summary, console, errors
from .follow import FollowTimeout, follow
from .skills import _analyze, report

METHODS = ("sft", "grpo", "sft+grpo")
ADAPTERS = ("lora", "qlora")
TRAINING_EVENTS = (JobStarted, JobProgress, JobCheckpointed, JobPaused, JobSucceeded, JobFailed, JobCancelled)


def parse_hyperparameters(values: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE that reads as JSON (numbers, true/false) is that, else a string."""
    chosen: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--hp takes KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if not isinstance(value, int | float | str | bool) or value is None:
            raise CliError(f"--hp {key}: a number, true/false or a word, got {raw!r}")
        chosen[key.strip()] = value
    return chosen


async def _dataset(url: str, dataset_id: str) -> tuple[dict[str, Any], str] | None:
    """The dataset's manifest and its sha256, or ``None`` when there is no such dataset."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=10)
        await ensure_bucket(js, DATASETS_BUCKET)
        try:
            data = await Objects(js).get(DATASETS_BUCKET.name, f"{dataset_id}/manifest.json")
        except ObjectMissing:
            return None
        return json.loads(data), hashlib.sha256(data).hexdigest()
    finally:
        await nc.close()


def train(
    target: Annotated[
        str,
        typer.Argument(
            help="A dataset id, or a skill: folder/.zip/SKILL.md (pushed first) or NAME[@VERSION]."
        ),
    ],
    method: Annotated[str, typer.Option(help="sft, grpo or sft+grpo.")] = "sft+grpo",
    adapter: Annotated[str, typer.Option(help="lora, or qlora (4-bit base weights).")] = "lora",
    model: Annotated[str | None, typer.Option(help="Base model id (default: the dataset's).")] = None,
    hp: Annotated[
        list[str] | None,
        typer.Option("--hp", help="Hyperparameter KEY=VALUE (repeatable); unset ones are auto."),
    ] = None,
    samples: Annotated[int, typer.Option(min=1, help="Training samples to generate for a skill.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of data generation and training.")] = 0,
    job_id: Annotated[str | None, typer.Option(help="Id of the job (default: derived).")] = None,
    wait: Annotated[float, typer.Option(help="Seconds to follow the job (0: only submit).")] = 86400.0,
) -> None:
    """Train an adapter for a skill (generating its dataset first) and follow the job."""
    if method not in METHODS:
        errors.print(f"[red]unknown method {method!r}[/]; choose from {', '.join(METHODS)}")
        raise typer.Exit(2)
    if adapter not in ADAPTERS:
        errors.print(f"[red]unknown adapter type {adapter!r}[/]; choose from {', '.join(ADAPTERS)}")
        raise typer.Exit(2)
    try:
        hyperparameters = parse_hyperparameters(hp or [])
    except CliError as exc:
        errors.print(f"[red]error[/]: {escape(str(exc))}")
        raise typer.Exit(2) from exc
    local: tuple[bytes, str] | None = None
    if Path(target).exists():
        data, object_name, analysis = _analyze(Path(target), "strict")
        report(analysis)
        if not analysis.ok:
            raise typer.Exit(1)
        local = (data, object_name)
    settings = RuntimeSettings()
    with nats_endpoint(settings.state_dir, settings.nats_url, embedded=settings.embedded_nats) as url:
        try:
            outcome = asyncio.run(
                _train(
                    url, target, local, method, adapter, model, hyperparameters, samples, seed, job_id, wait
                )
            )
        except CliError as exc:
            errors.print(f"[red]error[/]: {escape(str(exc))}")
            raise typer.Exit(1) from exc
    if outcome is None:
        return
    event, adapter_id = outcome
    if isinstance(event, JobFailed):
        errors.print(f"[red]training failed[/] ({event.code}): {escape(event.reason)}")
        for suggestion in event.suggestions:
            errors.print(f"  - {escape(suggestion)}")
        raise typer.Exit(1)
    if isinstance(event, JobCancelled):
        errors.print(f"[yellow]job cancelled[/]{': ' + escape(event.reason) if event.reason else ''}")
        raise typer.Exit(1)
    if isinstance(event, JobPaused):
        console.print(
            f"job [bold]{event.job_id}[/] paused at step {event.step}; resume it to continue from its checkpoint"
        )
        return
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in sorted(event.metrics.items()))
    console.print(f"[green]trained[/]: job {event.job_id}, {event.trained_tokens} tokens; {metrics}")
    console.print(f"adapter [bold]{adapter_id or event.adapter_object}[/] ({event.adapter_object})")
    if adapter_id:
        console.print(
            "it is served once the evaluator promotes it: "
            f'curl .../v1/chat/completions -d \'{{"model": "{adapter_id}", "messages": [...]}}\''
        )


async def _train(
    url: str,
    target: str,
    local: tuple[bytes, str] | None,
    method: str,
    adapter: str,
    model: str | None,
    hyperparameters: dict[str, Any],
    samples: int,
    seed: int,
    job_id: str | None,
    wait: float,
) -> tuple[Any, str | None] | None:
    found = None if local is not None else await _dataset(url, target)
    if found is None:
        generated = await _generate(
            url,
            target,
            local,
            samples,
            "auto",
            model or DEFAULT_MODEL,
            seed,
            None,
            max(wait, 1.0),
            grpo_probe_prompts=0 if method == "sft" else None,  # SFT only: no GRPO prompts to find
        )
        if isinstance(generated, DatasetFailed):
            raise CliError(f"the dataset failed ({generated.code}): {generated.reason}")
        assert generated is not None
        console.print(_summary(generated))
        found = await _dataset(url, generated.dataset_id)
        if found is None:
            raise CliError(
                f"dataset {generated.dataset_id} was announced but its manifest is not in the bucket"
            )
    manifest, digest = found
    dataset_id = str(manifest["dataset_id"])
    job_id = job_id or f"{dataset_id}-{method.replace('+', '-')}-{datetime.now(UTC):%H%M%S}"
    command = StartJob(
        producer="cli",
        correlation_id=job_id,
        job_id=job_id,
        skill_name=manifest["skill_name"],
        skill_version=manifest["skill_version"],
        base_model=model or manifest["base_model"],
        dataset_object=f"{dataset_id}/manifest.json",
        dataset_digest=digest,
        method=method,  # type: ignore[arg-type]
        adapter_type=adapter,  # type: ignore[arg-type]
        hyperparameters=hyperparameters,
        seed=seed,
    )
    nc = await nats.connect(url)
    try:
        events: asyncio.Queue[Any] = asyncio.Queue()
        models = {m.SUBJECT: m for m in (*TRAINING_EVENTS, AdapterRegistered)}

        async def on_event(msg: nats.aio.msg.Msg) -> None:
            kind = models.get(msg.subject)
            if kind is None:
                return
            event = kind.model_validate_json(msg.data)
            if getattr(event, "job_id", None) == job_id:
                events.put_nowait(event)

        subs = [
            await nc.subscribe("training.evt.job.*.v1", cb=on_event),
            await nc.subscribe(AdapterRegistered.SUBJECT, cb=on_event),
        ]
        try:
            await Publisher(nc.jetstream(timeout=10)).publish(command)
            console.print(
                f"started job [bold]{job_id}[/]: {method} ({adapter}) of {command.base_model} "
                f"on dataset {dataset_id} ({manifest['skill_name']})"
            )
            if wait <= 0:
                return None
            return await _follow(events, wait)
        finally:
            for sub in subs:
                await sub.unsubscribe()
    finally:
        await nc.close()


def _describe(event: JobProgress) -> str:
    parts = [event.phase.upper()]
    if event.loss is not None:
        parts.append(f"loss {event.loss:.3f}")
    if event.reward_mean is not None:
        parts.append(f"reward {event.reward_mean:.3f}")
    if event.tokens_per_second:
        parts.append(f"{event.tokens_per_second:.0f} tok/s")
    if event.eta_seconds is not None:
        parts.append(f"ETA {event.eta_seconds / 60:.1f} min")
    return " · ".join(parts)


async def _follow(events: asyncio.Queue[Any], wait: float) -> tuple[Any, str | None]:
    adapter_id: str | None = None
    stream = follow(
        events,
        wait,
        console,
        waiting="waiting for the trainer",
        silent="queued: is the trainer running (`skill-adapter up`)?",
    )
    try:
        async with contextlib.aclosing(stream):
            async for bar, task, event in stream:
                if isinstance(event, JobStarted):
                    resumed = (
                        f", resumed from step {event.resumed_from_step}" if event.resumed_from_step else ""
                    )
                    bar.console.print(f"training on [bold]{event.device}[/] ({event.worker_id}){resumed}")
                    bar.update(task, description="loading the model and data")
                elif isinstance(event, JobProgress):
                    bar.update(
                        task,
                        description=_describe(event),
                        completed=event.step,
                        total=event.total_steps or None,
                    )
                elif isinstance(event, JobCheckpointed):
                    bar.console.print(f"checkpoint at step {event.step} stored ({event.object_name})")
                elif isinstance(event, AdapterRegistered):
                    adapter_id = event.adapter_id
                else:
                    if isinstance(event, JobSucceeded):
                        adapter_id = adapter_id or event.adapter_id
                    return event, adapter_id
    except FollowTimeout as exc:
        raise CliError(f"{exc}; the job goes on (its events tell how it ends)") from exc
    raise CliError("the event stream ended")
