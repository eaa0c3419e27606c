"""One evaluation run, start to end: checks, generations, figures, gate, reports.

Everything a person could have got wrong is checked before the first generation: the skill
version exists, it has held-out prompts, the dataset is there with the digest it should have,
the base model and the evaluated model are served. An inference failure half-way stops the run;
what finished is reported, labelled partial. So does a cancel (``runtime.cancels.CancelWatch``): the generations
in flight are abandoned and the run fails with code ``cancelled``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from skill_adapter.contracts import EVALUATIONS_BUCKET, EvaluationSummary, StartEvaluation
from skill_adapter.runtime.cancels import CancelWatch
from skill_adapter.runtime.log import get_logger
from skill_adapter.runtime.objects import Objects
from skill_adapter.skillspec.render import skill_system_prompt

from . import report
from .chart import chart_png
from .gate import decide, thresholds_for
from .inference import ChatClient, InferenceError, InferenceRefused
from .models import KnownAdapter
from .prompts import general_set
from .runner import ArmSpec, Judge, Plan, run_plan
from .scoring import SampleResult
from .settings import EvaluatorSettings
from .skills import LoadedSkill, RunFailed, load_skill

log = get_logger(__name__)


Progress = Callable[[int, int], Awaitable[None]]
"""Told ``(done, total)`` replies as the run goes."""

CANCELLED = "cancelled"
"""The code of ``EvaluationFailed`` for a run stopped by ``CancelEvaluation``."""


class RunCancelled(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    summary: EvaluationSummary | None
    code: str | None = None
    reason: str | None = None


class Evaluation:
    def __init__(
        self,
        objects: Objects,
        settings: EvaluatorSettings,
        command: StartEvaluation,
        adapter: KnownAdapter | None,
        incumbent: tuple[str, float] | None,
        progress: Progress | None = None,
        watch: CancelWatch | None = None,
    ) -> None:
        self.progress = progress
        self.watch = watch
        self.objects = objects
        self.settings = settings
        self.command = command
        self.adapter = adapter
        self.incumbent = incumbent

    async def run(self) -> Outcome:
        clients = self.clients()
        results: list[SampleResult] = []
        skill: LoadedSkill | None = None
        plan: Plan | None = None

        async def steps() -> None:
            nonlocal skill, plan
            self.check_base()
            skill = await self.skill()
            plan = self.plan(skill)
            await self.check_served(clients["inference"], plan)
            judge = Judge(clients["judge"], self.settings.judge_model) if self.settings.judge_model else None
            await run_plan(
                plan,
                skill.rubric,
                clients["inference"],
                results,
                concurrency=self.settings.eval_concurrency,
                judge=judge,
                progress=self.progress,
            )

        try:
            await (self.watch.interruptible(steps()) if self.watch is not None else steps())
        except RunCancelled as exc:
            return await self.failed(CANCELLED, exc.reason, skill, plan, results)
        except RunFailed as exc:
            return await self.failed(exc.code, exc.reason, skill, plan, results)
        except InferenceRefused as exc:
            return await self.failed("inference_refused", str(exc), skill, plan, results)
        except InferenceError as exc:
            return await self.failed("inference_unavailable", str(exc), skill, plan, results)
        finally:
            for client in clients.values():
                await client.aclose()
        summary = await self.report(skill, plan, results, partial=False)
        return Outcome(summary)

    async def failed(
        self,
        code: str,
        reason: str,
        skill: LoadedSkill | None,
        plan: Plan | None,
        results: list[SampleResult],
    ) -> Outcome:
        log.warning("evaluation failed", run=self.command.run_id, code=code, reason=reason)
        if skill is None or plan is None or not results:
            return Outcome(None, code, reason)
        summary = await self.report(skill, plan, results, partial=True)
        kept = f"partial results of {len(results)}/{len(plan.jobs())} replies kept"
        return Outcome(summary, code, f"{reason} ({kept})")

    def clients(self) -> dict[str, ChatClient]:
        s = self.settings
        key = s.inference_api_key.get_secret_value() if s.inference_api_key else None
        timeout, delays = s.inference_timeout, tuple(s.eval_retry_delays)
        clients = {
            "inference": ChatClient(
                s.inference_url, key, timeout=timeout, retry_delays=delays, name="inference"
            )
        }
        if s.judge_model:
            judge_key = s.judge_api_key.get_secret_value() if s.judge_api_key else key
            url = s.judge_url or s.inference_url
            clients["judge"] = ChatClient(url, judge_key, timeout=timeout, retry_delays=delays, name="judge")
        return clients

    def check_base(self) -> None:
        adapter, base = self.adapter, self.command.base_model
        if adapter is not None and adapter.base_model != base:
            raise RunFailed(
                "base_mismatch",
                f"{adapter.adapter_id} was trained on {adapter.base_model!r}, not {base!r}: "
                "compare it with its own base model",
            )

    async def skill(self) -> LoadedSkill:
        command, adapter = self.command, self.adapter
        dataset_object, digest = command.dataset_object, command.dataset_digest
        if dataset_object is None and adapter is not None and adapter.dataset_object:
            dataset_object, digest = adapter.dataset_object, adapter.dataset_digest
        return await load_skill(
            self.objects, command.skill_name, command.skill_version, dataset_object, digest
        )

    def plan(self, skill: LoadedSkill) -> Plan:
        command = self.command
        limit = command.max_prompts or self.settings.eval_max_prompts
        arms = [
            ArmSpec("base", command.base_model, None),
            ArmSpec("base_with_skill", command.base_model, skill_system_prompt(skill.document)),
        ]
        if command.model != command.base_model:
            arms.append(ArmSpec("adapter", command.model, None))
        return Plan(
            arms=arms,
            prompts=skill.prompts[:limit],
            general=general_set()[:limit] if len(arms) == 3 else [],  # regressions: adapter vs base
            samples=command.samples,
            seed=command.seed,
            temperature=self.settings.eval_temperature,
            max_tokens=command.max_tokens or self.settings.eval_max_tokens,
        )

    async def check_served(self, client: ChatClient, plan: Plan) -> None:
        base = self.command.base_model
        if not await client.served(base):
            raise RunFailed(
                "base_not_served",
                f"the base model {base!r} is not served by {client.base_url}: serve it (SKILL_ADAPTER_BACKENDS) "
                "before evaluating its adapters",
            )
        model = self.command.model
        if model != base and not await self.served_soon(client, model):
            raise RunFailed(
                "model_not_served",
                f"{model!r} is not served to the evaluator by {client.base_url} (a candidate adapter is "
                "served to keys with the models:evaluate scope)",
            )

    async def served_soon(self, client: ChatClient, model: str) -> bool:
        """Whether ``model`` is served, waiting for an adapter registered a moment ago (the gateway
        fetches and loads it when it hears of it, as this run starts)."""
        deadline = time.monotonic() + self.settings.eval_model_wait_seconds
        while not await client.served(model):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        return True

    async def report(
        self, skill: LoadedSkill, plan: Plan, results: list[SampleResult], *, partial: bool
    ) -> EvaluationSummary:
        command = self.command
        arms = {arm.name: report.arm_summary(arm, results) for arm in plan.arms}
        lift, internalization, regressions = report.differences(arms)
        summary = EvaluationSummary(
            run_id=command.run_id,
            model=command.model,
            base_model=command.base_model,
            skill_name=command.skill_name,
            skill_version=command.skill_version,
            partial=partial,
            prompts=len(plan.prompts),
            near_miss_prompts=sum(p.near_miss for p in plan.prompts),
            general_prompts=len(plan.general),
            samples=plan.samples,
            seed=plan.seed,
            judge_model=self.settings.judge_model,
            not_evaluated=report.not_evaluated(skill.rubric, judged=self.settings.judge_model is not None),
            arms=arms,
            lift=lift,
            internalization=internalization,
            regressions=regressions,
        )
        thresholds = thresholds_for(command, self.settings.thresholds())
        summary = summary.model_copy(update={"gate": decide(summary, thresholds, incumbent=self.incumbent)})
        return await self.store(summary, skill, results)

    async def store(
        self, summary: EvaluationSummary, skill: LoadedSkill, results: list[SampleResult]
    ) -> EvaluationSummary:
        """Write every report file; ``summary.json`` last, listing them all."""
        prefix = self.command.run_id
        names = [f"{prefix}/{n}" for n in ("samples.jsonl", "grading.json", "benchmark.json", "chart.png")]
        summary = summary.model_copy(update={"objects": [*names, f"{prefix}/summary.json"]})
        files = {
            names[0]: report.samples_jsonl(results),
            names[1]: _json(report.grading_json(summary, results, skill.rubric)),
            names[2]: _json(report.benchmark_json(summary, results)),
            names[3]: chart_png(summary),
            f"{prefix}/summary.json": summary.model_dump_json(indent=2).encode(),
        }
        for name, data in files.items():
            await self.objects.put(EVALUATIONS_BUCKET.name, name, data)
        return summary


def _json(data: object) -> bytes:
    return json.dumps(data, indent=2, ensure_ascii=False).encode()
