"""``skill-adapter eval``: evaluate a model on a skill and print the per-arm table.

    skill-adapter eval json-reply --model ft:SmolLM2-135M-Instruct:json-reply:json-reply-3f2a-sft
    skill-adapter eval ./my-skill --model HuggingFaceTB/SmolLM2-135M-Instruct --samples 4 --seed 1

SKILL is a folder/.zip/SKILL.md (pushed first) or ``NAME[@VERSION]``. ``evaluation.cmd.run.start.v1``
is published and the run followed until ``evaluation.evt.run.completed.v1`` (or ``failed``): the
table shows, per arm (base, base with the skill in context, the model), the overall pass rate
with its 95% interval, greedy and sampled rates, mean reward, output tokens and latency; then
lift, internalization, regressions and the gate's decision. The evaluator must be running.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import nats
import typer
from rich.markup import escape
from rich.table import Table

from skill_adapter.contracts import (
    EvaluationCompleted,
    EvaluationFailed,
    EvaluationProgress,
    EvaluationSummary,
    Rate,
    StartEvaluation,
)
from skill_adapter.runtime.nats_server import nats_endpoint
from skill_adapter.runtime.publisher import Publisher
from skill_adapter.runtime.settings import RuntimeSettings

from .data import DEFAULT_MODEL, CliError, _resolve, console, errors
from .follow import FollowTimeout, follow
from .skills import _analyze, report
from .train import _dataset

ARM_LABELS = {"base": "base", "base_with_skill": "base + skill in context", "adapter": "model (no skill)"}


def evaluate(
    skill: Annotated[
        str, typer.Argument(help="Skill folder/.zip/SKILL.md (pushed first), or NAME[@VERSION].")
    ],
    model: Annotated[str, typer.Option(help="Model id to evaluate: an adapter or a base model.")],
    base: Annotated[str, typer.Option(help="Base model of the arms without the adapter.")] = DEFAULT_MODEL,
    samples: Annotated[
        int, typer.Option(min=1, max=64, help="Sampled replies per prompt (plus one greedy).")
    ] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the first sampled reply (then seed+1, ...).")] = 0,
    dataset: Annotated[
        str | None, typer.Option(help="Dataset id whose held-out prompts to use (default: the adapter's).")
    ] = None,
    max_prompts: Annotated[
        int | None, typer.Option(min=1, help="Use at most this many held-out prompts.")
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Longest reply generated.")] = None,
    promote: Annotated[
        bool, typer.Option("--promote", help="Let the gate promote a registered candidate adapter.")
    ] = False,
    run_id: Annotated[str | None, typer.Option(help="Id of the run (default: derived).")] = None,
    wait: Annotated[float, typer.Option(help="Seconds to follow the run (0: only submit).")] = 7200.0,
) -> None:
    """Evaluate a model on a skill: base vs base with the skill in context vs the model."""
    local: tuple[bytes, str] | None = None
    if Path(skill).exists():
        data, object_name, analysis = _analyze(Path(skill), "strict")
        report(analysis)
        if not analysis.ok:
            raise typer.Exit(1)
        local = (data, object_name)
    options = {
        "samples": samples,
        "seed": seed,
        "max_prompts": max_prompts,
        "max_tokens": max_tokens,
        "promote": promote,
    }
    settings = RuntimeSettings()
    with nats_endpoint(settings.state_dir, settings.nats_url, embedded=settings.embedded_nats) as url:
        try:
            outcome = asyncio.run(_evaluate(url, skill, local, model, base, dataset, run_id, wait, options))
        except CliError as exc:
            errors.print(f"[red]error[/]: {escape(str(exc))}")
            raise typer.Exit(1) from exc
    if outcome is None:
        return
    if isinstance(outcome, EvaluationFailed):
        errors.print(f"[red]evaluation failed[/] ({outcome.code}): {escape(outcome.reason)}")
        if outcome.summary is not None:
            console.print(arm_table(outcome.summary))
            console.print(f"partial reports: {', '.join(outcome.objects)} (bucket evaluations)")
        raise typer.Exit(1)
    if outcome.summary is not None:
        console.print(arm_table(outcome.summary))
        for line in differences(outcome.summary):
            console.print(line)
    verdict = "[green]promoted[/]" if outcome.promoted else "[yellow]not promoted[/]"
    console.print(f"gate: {verdict}")
    for reason in outcome.reasons:
        console.print(f"  - {escape(reason)}")
    if outcome.objects:
        console.print(f"reports: {', '.join(outcome.objects)} (bucket evaluations)")


async def _evaluate(
    url: str,
    skill: str,
    local: tuple[bytes, str] | None,
    model: str,
    base: str,
    dataset: str | None,
    run_id: str | None,
    wait: float,
    options: dict[str, Any],
) -> EvaluationCompleted | EvaluationFailed | None:
    name, version = await _resolve(url, skill, local)
    dataset_fields: dict[str, Any] = {}
    if dataset is not None:
        found = await _dataset(url, dataset)
        if found is None:
            raise CliError(f"no dataset {dataset!r} in the datasets bucket")
        dataset_fields = {"dataset_object": f"{dataset}/manifest.json", "dataset_digest": found[1]}
    run_id = run_id or f"eval-{name}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    command = StartEvaluation(
        producer="cli",
        correlation_id=run_id,
        run_id=run_id,
        skill_name=name,
        skill_version=version,
        model=model,
        base_model=base,
        **dataset_fields,
        **options,
    )
    nc = await nats.connect(url)
    try:
        events: asyncio.Queue[Any] = asyncio.Queue()
        kinds = {m.SUBJECT: m for m in (EvaluationProgress, EvaluationCompleted, EvaluationFailed)}

        async def on_event(msg: nats.aio.msg.Msg) -> None:
            event = kinds[msg.subject].model_validate_json(msg.data)
            if event.run_id == run_id:
                events.put_nowait(event)

        subs = [await nc.subscribe(subject, cb=on_event) for subject in kinds]
        try:
            await Publisher(nc.jetstream(timeout=10)).publish(command)
            console.print(
                f"started evaluation [bold]{run_id}[/]: {model} on {name} {version[:12]} (base {base})"
            )
            if wait <= 0:
                return None
            stream = follow(
                events,
                wait,
                console,
                waiting="evaluating: base, base + skill, model",
                silent="queued: is the evaluator running (`skill-adapter up`)?",
            )
            try:
                async with contextlib.aclosing(stream):
                    async for bar, task, event in stream:
                        if not isinstance(event, EvaluationProgress):
                            return event  # type: ignore[no-any-return]
                        if event.stage == "queued":
                            bar.update(task, description="queued: waiting for an evaluator")
                        else:
                            bar.update(task, description="generating and grading replies")
                            bar.update(task, completed=event.done, total=event.total or None)
            except FollowTimeout as exc:
                raise CliError(f"{exc}; the run goes on (its events tell how it ends)") from exc
            raise CliError("the event stream ended")
        finally:
            for sub in subs:
                await sub.unsubscribe()
    finally:
        await nc.close()


def _rate(rate: Rate) -> str:
    return f"{rate.rate:.2f} [{rate.low:.2f}, {rate.high:.2f}] ({rate.passed}/{rate.total})"


def arm_table(summary: EvaluationSummary) -> Table:
    title = f"{summary.skill_name}: {summary.model}" + (" — PARTIAL" if summary.partial else "")
    table = Table(title=title)
    for column in ("arm", "pass rate [95% CI]", "greedy", "sampled", "reward", "tokens", "latency s"):
        table.add_column(column)
    for name, arm in summary.arms.items():
        table.add_row(
            ARM_LABELS.get(name, name),
            _rate(arm.overall),
            f"{arm.greedy.rate:.2f}",
            f"{arm.sampled.rate:.2f}",
            "-" if arm.mean_reward is None else f"{arm.mean_reward:.3f}",
            f"{arm.mean_output_tokens:.1f}",
            f"{arm.mean_latency_seconds:.2f}",
        )
    return table


def differences(summary: EvaluationSummary) -> list[str]:
    lines = []
    if summary.lift is not None:
        lines.append(f"lift (model - base): {summary.lift:+.3f}")
    if summary.internalization is not None:
        lines.append(f"internalization (model - base with skill): {summary.internalization:+.3f}")
    for name, drop in summary.regressions.items():
        lines.append(f"regression on {name.replace('_', ' ')} (base - model): {drop:+.3f}")
    if summary.not_evaluated:
        lines.append(f"not evaluated (no judge): {', '.join(summary.not_evaluated)}")
    return lines
