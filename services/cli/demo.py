"""``skill-adapter demo``: the whole pipeline on the embedded defaults, in one command.

    skill-adapter demo                       # JSON-reply, then a report
    skill-adapter demo --all                 # every example skill (about three times as long)
    skill-adapter demo --skill commit-message
    skill-adapter demo --keep-running        # leave the stack up afterwards (Ctrl-C stops it)

It starts the stack as ``skill-adapter up`` does (embedded NATS, SQLite, the services, the
gateway serving SmolLM2-135M-Instruct on the local backend) with its service logs in a file,
pushes the example skill(s), starts one fine-tuning job per skill through the job API
(``POST /v1/fine_tuning/jobs``, the demo recipe: a small dataset and a short SFT run sized for
a 2-core CPU), follows the jobs with a live progress bar each, and ends with a report: per skill
the evaluator's pass rates of the three arms (base, base with the skill in its prompt, adapter)
with their 95% intervals, the gate's decision, a held-out prompt answered before and after, one
chat completion through the OpenAI API, a PNG chart, and how to call the gateway yourself.

Everything is real: the data is generated and verified, the adapter is trained and evaluated,
and the gate decides with the same thresholds as any other job. The recipe is small, so the
figures are noisy (few prompts) and a skill may well be held back; the report says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from skill_adapter.runtime.log import configure_logging
from skill_adapter.runtime.nats_server import NatsServerError, running_embedded
from skill_adapter.runtime.settings import RuntimeSettings

from .data import DEFAULT_MODEL
from .registry import SERVICES
from .skills import _analyze, _push

console = Console()
errors = Console(stderr=True)

EXAMPLES = Path(__file__).parent / "example_skills"
EXAMPLE_SKILLS = ("json-reply", "commit-message", "status-report")
DEFAULT_SKILL = "json-reply"
"""One skill by default: on a 2-core CPU each takes about ten minutes from data to report (the
data generation alone about five), so three would not fit the demo's 15 minutes."""
TERMINAL = ("succeeded", "failed", "cancelled")
DEMO_KEY_NAME = "demo"


@dataclass(frozen=True)
class Recipe:
    """What each demo job does: sized so the example skills finish in minutes on a 2-core CPU."""

    base_model: str = DEFAULT_MODEL
    samples: int = 24
    method: str = "supervised"
    hyperparameters: dict[str, Any] = field(
        default_factory=lambda: {
            "n_epochs": 8,
            "batch_size": 8,
            "micro_batch_size": 4,
            "learning_rate": 1e-3,
            "lora_r": 16,
        }
    )
    eval_max_prompts: int = 8
    eval_max_tokens: int = 128
    """Replies longer than this are cut (a JSON reply is well under 100 tokens)."""
    probe_attempts: int = 8
    """Candidates after which the data generator drops a strategy that has accepted none."""

    def env(self) -> dict[str, str]:
        """The settings of the services the demo starts."""
        return {
            "SKILL_ADAPTER_EVAL_MAX_PROMPTS": str(self.eval_max_prompts),
            "SKILL_ADAPTER_EVAL_MAX_TOKENS": str(self.eval_max_tokens),
            "SKILL_ADAPTER_DATAGEN_PROBE_ATTEMPTS": str(self.probe_attempts),
        }

    def request(self, skill: str, version: str, seed: int) -> dict[str, Any]:
        return {
            "model": self.base_model,
            "training_file": f"skill:{skill}@{version}",
            "method": {"type": self.method, self.method: {"hyperparameters": self.hyperparameters}},
            "seed": seed,
            "suffix": "demo",
            "samples": self.samples,
            "metadata": {"source": "skill-adapter demo"},
        }


@dataclass
class Tracked:
    skill: str
    version: str
    job: dict[str, Any]
    task: TaskID
    created: float
    stages: dict[str, float] = field(default_factory=dict)
    """First time (monotonic) the job was seen in each stage."""
    finished: float | None = None
    shown: tuple[str, str, str] | None = None
    shown_at: float = 0.0

    @property
    def status(self) -> str:
        return str(self.job.get("status"))

    def stage_seconds(self) -> dict[str, float]:
        """Wall time per stage, from first seen to the next stage (or the end)."""
        marks = sorted(self.stages.items(), key=lambda kv: kv[1])
        end = self.finished or time.monotonic()
        out: dict[str, float] = {}
        for i, (stage, start) in enumerate(marks):
            stop = marks[i + 1][1] if i + 1 < len(marks) else end
            if stage != "done":
                out[stage] = round(stop - start, 1)
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def demo(
    skill: Annotated[
        list[str] | None,
        typer.Option(
            "--skill",
            help=f"An example skill to run (repeatable): {', '.join(EXAMPLE_SKILLS)}; default {DEFAULT_SKILL}.",
        ),
    ] = None,
    all_skills: Annotated[
        bool, typer.Option("--all", help="Every example skill (about three times as long).")
    ] = False,
    samples: Annotated[
        int, typer.Option(min=4, help="Training samples generated per skill.")
    ] = Recipe.samples,
    epochs: Annotated[int, typer.Option(min=1, help="SFT passes over the training samples.")] = 8,
    eval_prompts: Annotated[
        int, typer.Option(min=1, help="Held-out prompts each evaluation uses at most.")
    ] = Recipe.eval_max_prompts,
    seed: Annotated[int, typer.Option(help="Seed of data generation and training.")] = 0,
    model: Annotated[
        str, typer.Option(help="Base model (an id the gateway serves; default the embedded SmolLM2).")
    ] = DEFAULT_MODEL,
    output: Annotated[
        Path | None, typer.Option(help="Directory for report.json and report.png (default: the state dir).")
    ] = None,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the stack up after the report, until Ctrl-C.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds the jobs may take in all.")] = 3600.0,
) -> None:
    """Run the whole pipeline on the example skills and show what the adapters learned."""
    chosen = list(dict.fromkeys([*(EXAMPLE_SKILLS if all_skills else ()), *(skill or ())] or [DEFAULT_SKILL]))
    unknown = [name for name in chosen if name not in EXAMPLE_SKILLS]
    if unknown:
        errors.print(
            f"[red]unknown example skill {', '.join(unknown)}[/]; choose from {', '.join(EXAMPLE_SKILLS)}"
        )
        raise typer.Exit(2)
    missing = [e for e in SERVICES if not e.available()]
    if missing:
        extras = sorted({e.extra for e in missing if e.extra})
        errors.print(
            f"[red]the demo needs every service[/]; not installed: {', '.join(e.name for e in missing)} "
            f"(pip install 'agent-skill-adapter[{','.join(extras) or 'all'}]')"
        )
        raise typer.Exit(2)
    settings = RuntimeSettings()
    if "SKILL_ADAPTER_LOG_LEVEL" not in os.environ:  # the demo prints its own report
        configure_logging("WARNING", settings.log_format, service="cli")
    if running_embedded(settings.state_dir) is not None or _up_alive(settings.state_dir):
        errors.print(
            f"[red]the stack is already running for {settings.state_dir}[/] (skill-adapter up): stop it first, "
            "or run the demo with another SKILL_ADAPTER_STATE_DIR"
        )
        raise typer.Exit(2)
    recipe = Recipe(
        base_model=model,
        samples=samples,
        hyperparameters={**Recipe().hyperparameters, "n_epochs": epochs},
        eval_max_prompts=eval_prompts,
    )
    report_dir = output or settings.state_dir / "demo" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report_dir.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _interrupted)  # stop the stack cleanly, as on Ctrl-C
    try:
        report = _run(settings, chosen, recipe, seed, report_dir, keep_running, timeout)
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]: the stack is stopped; the jobs' state is kept in the state dir")
        raise typer.Exit(130) from None
    except DemoError as exc:
        errors.print(f"[bold red]demo failed:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    except NatsServerError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not report["skills"] or any(
        s["status"] not in ("succeeded", "failed") for s in report["skills"].values()
    ):
        raise typer.Exit(1)


def _up_alive(state_dir: Path) -> bool:
    try:
        pid = int(json.loads((state_dir / "run" / "up.json").read_text())["pid"])
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, KeyError, ProcessLookupError, PermissionError):
        return False
    return True


class DemoError(Exception):
    pass


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _run(
    settings: RuntimeSettings,
    skills: list[str],
    recipe: Recipe,
    seed: int,
    report_dir: Path,
    keep_running: bool,
    timeout: float,
) -> dict[str, Any]:
    import httpx

    from skill_adapter.gateway.keys import create_key, list_keys, revoke_key
    from skill_adapter.gateway.settings import GatewaySettings

    from .app import _wait_for_signal
    from .stack import running_stack

    started = time.monotonic()
    gateway_settings = GatewaySettings()
    port = gateway_settings.port
    extra_env = {
        "SKILL_ADAPTER_AUTO_TRAIN": "false",  # the demo starts its own jobs, with its own recipe
        **{k: v for k, v in recipe.env().items() if k not in os.environ},  # the user's settings win
    }
    if not _port_free(port):
        port = _free_port()
        console.print(f"port {gateway_settings.port} is taken; the gateway listens on {port}")
        extra_env["SKILL_ADAPTER_PORT"] = str(port)
        extra_env["SKILL_ADAPTER_INFERENCE_URL"] = f"http://127.0.0.1:{port}/v1"
    base_url = f"http://127.0.0.1:{port}"
    log_path = report_dir / "services.log"
    log = log_path.open("a", encoding="utf-8")

    def emit(service: str, _color: str, line: str) -> None:
        log.write(f"{service:>14} | {line}\n")
        log.flush()

    for key in list_keys(settings):
        if key.name == DEMO_KEY_NAME and key.active:
            revoke_key(settings, key.id)
    token = create_key(
        settings, DEMO_KEY_NAME, ["skills:read", "skills:write", "jobs:write", "models:evaluate"]
    ).token
    timings: dict[str, float] = {}
    console.print(
        Panel.fit(
            f"Agent Skill Adapter demo: {', '.join(skills)} on [bold]{recipe.base_model}[/]\n"
            f"recipe: {recipe.samples} verified samples per skill, {recipe.method} "
            f"{json.dumps(recipe.hyperparameters)}, evaluation on ≤ {recipe.eval_max_prompts} held-out prompts "
            f"(replies ≤ {recipe.eval_max_tokens} tokens)\n"
            f"service logs: {log_path}",
            title="skill-adapter demo",
        )
    )
    try:
        with running_stack(settings, list(SERVICES), emit=emit, extra_env=extra_env) as stack:
            client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            with console.status("starting NATS, the services and the model…") as status:
                _wait_ready(client, stack, recipe.base_model, timeout=600)
                timings["stack_ready"] = round(time.monotonic() - started, 1)
                status.update("pushing the example skills…")
                versions = _push_skills(stack.url, skills)
                _wait_known(client, versions, timeout=120)
            console.print(
                f"[green]stack ready[/] in {timings['stack_ready']:.0f}s: NATS {stack.url}, gateway {base_url}; "
                f"skills accepted: {', '.join(f'{n} {v[:12]}' for n, v in versions.items())}"
            )
            jobs_started = time.monotonic()
            tracked = _follow_jobs(client, stack, skills, versions, recipe, seed, timeout)
            timings["jobs"] = round(time.monotonic() - jobs_started, 1)
            report = _report(client, stack.url, tracked, recipe, report_dir, base_url, token)
            timings["total"] = round(time.monotonic() - started, 1)
            report["timings_seconds"] = timings
            (report_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
            console.print(
                f"\n[bold]demo finished in {timings['total'] / 60:.1f} min[/] "
                f"(stack {timings['stack_ready']:.0f}s, jobs {timings['jobs'] / 60:.1f} min); "
                f"report: {report_dir / 'report.json'}, chart: {report_dir / 'report.png'}"
            )
            _how_to_call(base_url, report, keep_running)
            if keep_running:
                console.print("[bold green]the stack stays up[/]; Ctrl-C stops everything.")
                _wait_for_signal(tick=stack.tick)
            console.print("stopping…")
    finally:
        log.close()
    return report


def _wait_ready(client: Any, stack: Any, model: str, timeout: float) -> None:
    """Until the gateway serves the base model and the pipeline's services consume."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.tick()
        with contextlib.suppress(Exception):
            models = client.get("/v1/models").json()
            if any(m.get("id") == model for m in models.get("data", [])):
                return
        time.sleep(1.0)
    raise DemoError(f"the gateway did not serve {model} within {timeout:.0f}s (see the service log)")


def _wait_known(client: Any, versions: dict[str, str], timeout: float) -> None:
    """Until the gateway's read model knows every pushed version (it follows the parser's events)."""
    deadline = time.monotonic() + timeout
    for name, version in versions.items():
        while client.get(f"/v1/skills/{name}/versions/{version}").status_code != 200:
            if time.monotonic() > deadline:
                raise DemoError(f"the gateway did not learn of {name} {version[:12]} within {timeout:.0f}s")
            time.sleep(0.5)


def _push_skills(url: str, skills: list[str]) -> dict[str, str]:
    """Each example skill into the watched bucket; its accepted version."""
    from skill_adapter.contracts import SkillParsed

    versions: dict[str, str] = {}
    for name in skills:
        data, object_name, analysis = _analyze(EXAMPLES / name, "strict")
        if not analysis.ok:
            raise DemoError(f"the example skill {name} does not validate")
        verdict = asyncio.run(_push(url, data, object_name, "strict", 120.0, auto_train=False))
        if not isinstance(verdict, SkillParsed):
            reason = getattr(verdict, "reason", "no verdict within 120s")
            raise DemoError(f"the skill-parser did not accept {name}: {reason}")
        versions[name] = verdict.skill_version
    return versions


def _follow_jobs(
    client: Any,
    stack: Any,
    skills: list[str],
    versions: dict[str, str],
    recipe: Recipe,
    seed: int,
    timeout: float,
) -> list[Tracked]:
    """Start one job per skill and show each one's stage and progress until all have ended."""
    tracked: list[Tracked] = []
    progress = Progress(
        TextColumn("{task.fields[skill]:<15}"),
        TextColumn("{task.fields[stage]:<16}"),
        BarColumn(bar_width=30),
        TextColumn("{task.completed:>4.0f}/{task.total:<4.0f}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[message]}", style="dim"),
        console=console,
    )
    with progress:
        for name in skills:
            response = client.post(
                "/v1/fine_tuning/jobs",
                json=recipe.request(name, versions[name], seed),
                headers={"Idempotency-Key": f"demo-{name}-{versions[name][:16]}-{seed}-{time.time_ns()}"},
            )
            if response.status_code >= 400:
                raise DemoError(f"creating the job for {name} failed: {response.text}")
            job = response.json()
            task = progress.add_task("", total=1, skill=name, stage="queued", message=job["id"])
            tracked.append(Tracked(name, versions[name], job, task, time.monotonic()))
        deadline = time.monotonic() + timeout
        while any(t.finished is None for t in tracked):
            if time.monotonic() > deadline:
                raise DemoError(f"the jobs did not finish within {timeout:.0f}s")
            stack.tick()
            for t in tracked:
                if t.finished is not None:
                    continue
                with contextlib.suppress(Exception):
                    t.job = client.get(f"/v1/fine_tuning/jobs/{t.job['id']}").json()
                now = time.monotonic()
                stage = str(t.job.get("stage"))
                t.stages.setdefault(stage, now)
                info = t.job.get("progress") or {}
                if t.status in TERMINAL:
                    t.finished = now
                    colour = "green" if t.status == "succeeded" else "red"
                    message = f"[{colour}]{t.status}[/]"
                    if t.job.get("fine_tuned_model"):
                        message += f": {t.job['fine_tuned_model']}"
                    elif t.job.get("error"):
                        message += f": {escape(t.job['error'].get('message', ''))[:90]}"
                    progress.update(t.task, stage=t.status, completed=1, total=1, message=message)
                else:
                    total = max(int(info.get("total") or 0), 1)
                    progress.update(
                        t.task,
                        stage=stage.replace("_", " "),
                        completed=min(int(info.get("done") or 0), total),
                        total=total,
                        message=escape(str(info.get("message") or ""))[:90],
                    )
                if not console.is_terminal:  # a log, not a screen: a line per change, or every 30 s
                    line = (t.status, stage, str(info.get("message") or ""))
                    if line[:2] != (t.shown or ("", ""))[:2] or (line != t.shown and now - t.shown_at >= 30):
                        minutes = (now - t.created) / 60
                        console.print(
                            f"{minutes:5.1f} min  {t.skill}: {t.status}, {escape(' '.join(line[1:]))}"
                        )
                        t.shown, t.shown_at = line, now
            time.sleep(1.0)
    return tracked


async def _evaluation_summary(url: str, report_object: str | None) -> dict[str, Any] | None:
    if not report_object:
        return None
    import nats

    from skill_adapter.contracts import EVALUATIONS_BUCKET
    from skill_adapter.runtime.objects import ObjectMissing, Objects

    nc = await nats.connect(url)
    try:
        try:
            data = await Objects(nc.jetstream(timeout=10)).get(EVALUATIONS_BUCKET.name, report_object)
        except ObjectMissing:
            return None
        return json.loads(data)
    finally:
        await nc.close()


def _ask(client: Any, model: str, prompt: str) -> tuple[str, float]:
    started = time.monotonic()
    response = client.post(
        "/v1/chat/completions",
        json={
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": 160,
        },
        timeout=300,
    )
    elapsed = time.monotonic() - started
    if response.status_code >= 400:
        return f"(error {response.status_code}: {response.text[:200]})", elapsed
    return str(response.json()["choices"][0]["message"]["content"]), elapsed


def _first_eval_prompt(skill: str) -> tuple[str, str | None]:
    evals = json.loads((EXAMPLES / skill / "evals" / "evals.json").read_text())["evals"][0]
    return str(evals["prompt"]), str(evals["id"])


def _report(
    client: Any,
    url: str,
    tracked: list[Tracked],
    recipe: Recipe,
    report_dir: Path,
    base_url: str,
    token: str,
) -> dict[str, Any]:
    from skill_adapter.skillspec.rubric.grading import grade

    skills: dict[str, Any] = {}
    table = Table(title="Adherence on held-out prompts (every deterministic check passes; 95% interval)")
    table.add_column("skill")
    for arm in ("base", "base + skill in prompt", "adapter"):
        table.add_column(arm, justify="right")
    table.add_column("gate")
    for t in tracked:
        job = t.job
        evaluation = job.get("evaluation") or {}
        summary = asyncio.run(_evaluation_summary(url, evaluation.get("report_object")))
        arms: dict[str, Any] = {}
        for arm in ("base", "base_with_skill", "adapter"):
            figures = ((summary or {}).get("arms") or {}).get(arm)
            if figures:
                overall = figures["overall"]
                arms[arm] = {k: overall[k] for k in ("passed", "total", "rate", "low", "high")}
            elif arm in (evaluation.get("pass_rates") or {}):
                arms[arm] = {"rate": evaluation["pass_rates"][arm]}
        model = job.get("fine_tuned_model") or job.get("adapter_id")
        before_after: dict[str, Any] | None = None
        if model:
            prompt, eval_id = _first_eval_prompt(t.skill)
            _, _, analysis = _analyze(EXAMPLES / t.skill, "strict")
            rubric = analysis.rubric
            before, _ = _ask(client, recipe.base_model, prompt)
            after, _ = _ask(client, model, prompt)
            before_after = {
                "prompt": prompt,
                "base": {
                    "reply": before,
                    "passed": grade(rubric, before, eval_id=eval_id).passed if rubric else None,
                },
                "adapter": {
                    "reply": after,
                    "passed": grade(rubric, after, eval_id=eval_id).passed if rubric else None,
                },
            }
        skills[t.skill] = {
            "job_id": job["id"],
            "skill_version": t.version,
            "status": job.get("status"),
            "error": job.get("error"),
            "adapter_id": job.get("adapter_id"),
            "promoted": bool(job.get("fine_tuned_model")),
            "fine_tuned_model": job.get("fine_tuned_model"),
            "gate_reasons": evaluation.get("reasons", []),
            "lift": evaluation.get("lift"),
            "arms": arms,
            "stage_seconds": t.stage_seconds(),
            "job_seconds": round((t.finished or time.monotonic()) - t.created, 1),
            "trained_tokens": job.get("trained_tokens"),
            "before_after": before_after,
        }
        cells = []
        for arm in ("base", "base_with_skill", "adapter"):
            a = arms.get(arm)
            if not a:
                cells.append("-")
            elif "total" in a:
                cells.append(f"{a['passed']}/{a['total']} = {a['rate']:.0%} ({a['low']:.0%}-{a['high']:.0%})")
            else:
                cells.append(f"{a['rate']:.0%}")
        gate = "[green]promoted[/]" if job.get("fine_tuned_model") else f"[yellow]{job.get('status')}[/]"
        table.add_row(t.skill, *cells, gate)
    console.print()
    console.print(table)
    for name, s in skills.items():
        if s["gate_reasons"] and not s["promoted"]:
            console.print(f"[yellow]{name}[/] held back: {escape('; '.join(s['gate_reasons']))}")
        elif s["status"] != "succeeded" and s["error"]:
            console.print(f"[red]{name}[/] {escape(str(s['error'].get('message')))}")
        if s["before_after"]:
            ba = s["before_after"]
            console.print(
                Panel(
                    f"[bold]prompt[/] (held out, never trained on): {escape(ba['prompt'])}\n\n"
                    f"[bold]base[/] ({_verdict(ba['base']['passed'])}):\n{escape(ba['base']['reply'])}\n\n"
                    f"[bold]adapter {escape(s['adapter_id'] or '')}[/] ({_verdict(ba['adapter']['passed'])}):\n"
                    f"{escape(ba['adapter']['reply'])}",
                    title=f"{name}: before and after",
                )
            )
    report = {
        "demo": "skill-adapter demo",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": recipe.base_model,
        "cpus": os.cpu_count(),
        "recipe": {
            "samples": recipe.samples,
            "method": recipe.method,
            "hyperparameters": recipe.hyperparameters,
            "eval_max_prompts": recipe.eval_max_prompts,
            "eval_max_tokens": recipe.eval_max_tokens,
            "datagen_probe_attempts": recipe.probe_attempts,
        },
        "skills": skills,
        "chat_completion": _chat_completion(base_url, token, skills),
    }
    _chart(skills, recipe.base_model, report_dir / "report.png")
    return report


def _verdict(passed: bool | None) -> str:
    return (
        "[green]passes the skill's checks[/]"
        if passed
        else "[red]fails the skill's checks[/]"
        if passed is False
        else "not graded"
    )


def _chat_completion(base_url: str, token: str, skills: dict[str, Any]) -> dict[str, Any] | None:
    """One completion through the official ``openai`` client (or plain HTTP without it)."""
    promoted = [s for s in skills.values() if s["promoted"]]
    candidates = [s for s in skills.values() if s["adapter_id"]]
    chosen = (promoted or candidates or [None])[0]
    if chosen is None:
        return None
    model = chosen["fine_tuned_model"] or chosen["adapter_id"]
    prompt = chosen["before_after"]["prompt"] if chosen["before_after"] else "Hello!"
    started = time.monotonic()
    try:
        from openai import OpenAI
    except ImportError:
        import httpx

        reply = httpx.post(
            f"{base_url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {token}"},
            json={"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": 160},
            timeout=300,
        ).json()
        text, via = reply["choices"][0]["message"]["content"], "HTTP"
    else:
        client = OpenAI(base_url=f"{base_url}/v1", api_key=token)
        completion = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}], max_tokens=160
        )
        text, via = completion.choices[0].message.content or "", "the openai client"
    elapsed = round(time.monotonic() - started, 2)
    state = (
        "promoted"
        if chosen["promoted"]
        else "a candidate (not promoted: served only to keys with models:evaluate)"
    )
    console.print(
        Panel(
            f"model [bold]{escape(model)}[/] ({state}) via {via}, {elapsed:.1f}s\n"
            f"[bold]user[/]: {escape(prompt)}\n[bold]assistant[/]: {escape(text)}",
            title="a chat completion through the OpenAI API",
        )
    )
    return {
        "model": model,
        "promoted": chosen["promoted"],
        "via": via,
        "prompt": prompt,
        "reply": text,
        "seconds": elapsed,
    }


def _chart(skills: dict[str, Any], base_model: str, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    arms = [
        ("base", "base", "#9e9e9e"),
        ("base_with_skill", "base + skill in prompt", "#64b5f6"),
        ("adapter", "adapter", "#2e7d32"),
    ]
    names = list(skills)
    fig, ax = plt.subplots(figsize=(max(6.5, 2.4 * len(names) + 2), 4.2))
    width = 0.26
    for i, (arm, label, colour) in enumerate(arms):
        rates, lows, highs, counts = [], [], [], []
        for name in names:
            a = skills[name]["arms"].get(arm) or {}
            rate = a.get("rate", 0.0)
            rates.append(100 * rate)
            lows.append(100 * (rate - a.get("low", rate)))
            highs.append(100 * (a.get("high", rate) - rate))
            counts.append(f"{a['passed']}/{a['total']}" if "total" in a else f"{rate:.0%}")
        xs = [j + (i - 1) * width for j in range(len(names))]
        bars = ax.bar(xs, rates, width, label=label, color=colour, yerr=[lows, highs], capsize=3)
        ax.bar_label(bars, labels=counts, label_type="edge", padding=2, fontsize=8, color="#333333")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([f"{n}\n{'promoted' if skills[n]['promoted'] else 'held back'}" for n in names])
    ax.set_ylabel("held-out replies passing every check (%)")
    ax.set_ylim(0, 105)
    ax.set_title(f"{base_model.split('/')[-1]}: held-out adherence, 95% intervals", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _how_to_call(base_url: str, report: dict[str, Any], keep_running: bool) -> None:
    chat = report.get("chat_completion") or {}
    base = report["model"]
    model = chat.get("model") or base
    start = "" if keep_running else "skill-adapter up          # the stack again, for real use\n"
    console.print(
        Panel(
            f"{start}skill-adapter keys create --name me --scope models:use --scope jobs:write   # a key\n\n"
            f'curl -s {base_url}/v1/chat/completions -H "Authorization: Bearer $KEY" \\\n'
            f"  -H 'Content-Type: application/json' \\\n"
            f'  -d \'{{"model": "{model}", "messages": [{{"role": "user", "content": "Hi"}}]}}\'\n\n'
            f"from openai import OpenAI\n"
            f'client = OpenAI(base_url="{base_url}/v1", api_key=KEY)\n'
            f'client.chat.completions.create(model="{model}", messages=[{{"role": "user", "content": "Hi"}}])\n'
            f'client.fine_tuning.jobs.create(model="{base}", training_file="skill:json-reply")',
            title="call the gateway yourself",
        )
    )
