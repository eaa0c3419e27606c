"""A run's generations: every prompt, in every arm, greedy and ``k`` times sampled.

Arms: ``base`` (the base model, no system prompt), ``base_with_skill`` (the base model with the
skill as agent clients present it, ``skill_system_prompt``) and ``adapter`` (the evaluated model,
no system prompt). Skill prompts go to every arm; general-set prompts (greedy only) to ``base``
and ``adapter``, for the regression check. Sample ``i`` of a prompt is drawn with seed
``seed + i``, the same in every arm, so arms differ only by model and context.

Results are appended to ``results`` as they finish: when inference fails half-way, the caller
still has what finished (a partial run).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from skill_adapter.contracts import JudgeCheck, Rubric
from skill_adapter.skillspec.rubric.grading import applies
from skill_adapter.skillspec.rubric.judging import (
    RESPONSE_FORMAT,
    JudgeVerdict,
    judge_messages,
    parse_verdict,
)

from .inference import ChatClient
from .prompts import EvalPrompt
from .scoring import SampleKind, SampleResult, grade_reply, outcomes


@dataclass(frozen=True)
class ArmSpec:
    name: str
    model: str
    system: str | None


@dataclass(frozen=True)
class Plan:
    arms: list[ArmSpec]
    prompts: list[EvalPrompt]
    general: list[EvalPrompt]
    samples: int
    seed: int
    temperature: float
    max_tokens: int

    def jobs(self) -> list[tuple[ArmSpec, EvalPrompt, SampleKind, int | None]]:
        jobs: list[tuple[ArmSpec, EvalPrompt, SampleKind, int | None]] = []
        for arm in self.arms:
            for prompt in self.prompts:
                jobs.append((arm, prompt, "greedy", None))
                jobs.extend((arm, prompt, "sampled", self.seed + i) for i in range(self.samples))
            if arm.name != "base_with_skill":
                jobs.extend((arm, prompt, "greedy", None) for prompt in self.general)
        return jobs


@dataclass
class Judge:
    client: ChatClient
    model: str

    async def verdicts(self, rubric: Rubric, prompt: EvalPrompt, reply: str) -> dict[str, JudgeVerdict]:
        found: dict[str, JudgeVerdict] = {}
        for criterion in rubric.criteria:
            if isinstance(criterion.check, JudgeCheck) and applies(criterion, prompt.eval_id):
                answer = await self.client.chat(
                    self.model,
                    judge_messages(criterion.check.instruction, prompt.text, reply),
                    temperature=0,
                    max_tokens=200,
                    extra=RESPONSE_FORMAT,
                )
                found[criterion.id] = parse_verdict(answer.text)
        return found


async def run_plan(
    plan: Plan,
    rubric: Rubric,
    client: ChatClient,
    results: list[SampleResult],
    *,
    concurrency: int,
    judge: Judge | None = None,
    progress: Callable[[int, int], Awaitable[None]] | None = None,
) -> None:
    """Generate and grade every job of ``plan``, appending to ``results``; the first inference
    error cancels what is in flight and propagates. ``progress(done, total)`` hears of each reply."""
    semaphore = asyncio.Semaphore(concurrency)
    total = len(plan.jobs())

    async def one(arm: ArmSpec, prompt: EvalPrompt, kind: SampleKind, seed: int | None) -> None:
        messages = [{"role": "system", "content": arm.system}] if arm.system else []
        messages.append({"role": "user", "content": prompt.text})
        temperature = 0.0 if kind == "greedy" else plan.temperature
        async with semaphore:
            reply = await client.chat(
                arm.model, messages, temperature=temperature, max_tokens=plan.max_tokens, seed=seed
            )
            graded, content = grade_reply(rubric, prompt, reply.text)
            judged = await judge.verdicts(rubric, prompt, reply.text) if judge and graded else {}
        results.append(
            SampleResult(
                arm=arm.name,
                model=arm.model,
                prompt_id=prompt.id,
                prompt_set=prompt.set,
                source=prompt.source,
                near_miss=prompt.near_miss,
                kind=kind,
                seed=seed,
                temperature=temperature,
                text=reply.text,
                finish_reason=reply.finish_reason,
                output_tokens=reply.output_tokens,
                latency_seconds=round(reply.latency_seconds, 6),
                passed=graded.passed if graded else None,
                score=graded.score if graded else None,
                content_ok=content,
                criteria=outcomes(graded),
                judged=judged,
                eval_id=prompt.eval_id,
            )
        )
        if progress is not None:
            await progress(len(results), total)

    try:
        async with asyncio.TaskGroup() as group:
            for job in plan.jobs():
                group.create_task(one(*job))
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None
