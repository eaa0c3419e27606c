"""One dataset run: prompts, verified responses, the GRPO probe, and the statistics.

The pipeline has no I/O of its own beyond the inference endpoints it is given: the worker
loads the skill and stores the files. Per training prompt it tries the run's strategies in
order (a reference reply from the skill first, when there is one) and keeps the best
candidate that passes every check and fits ``max_length``; ``auto`` drops a strategy that has
accepted nothing after ``datagen_probe_attempts`` candidates, and says so in the statistics.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from statistics import fmean, pstdev

from skill_adapter.contracts import DatasetStats, GenerateDataset, HeldoutRecord, Rubric, StrategyStats
from skill_adapter.skillspec.document import Bundle, SkillDocument
from skill_adapter.skillspec.evals import EvalSet

from .artifact import ChatMessage, GrpoRecord, SampleRecord
from .inference import ChatClient, InferenceRefused, InferenceUnavailable
from .judge import Judge
from .paraphrase import paraphrase_instruction, parse_paraphrase
from .prompts import (
    Prompt,
    PromptFileError,
    as_paraphrase,
    example_prompts,
    heldout_prompts,
    near_miss_prompts,
    synthesized_prompts,
)
from .settings import DataGeneratorSettings
from .splits import split
from .strategies import Candidate, Sampler, StrategyUnavailable, derived_seed, plan
from .verify import CONTENT, FailureTally, Verdict, check_deterministic, verify

TOO_LONG = "max-length"
"""The pseudo-criterion of a verified reply whose sample is longer than ``max_length``."""
TRUNCATED = "cut-off"
"""The pseudo-criterion of a reply the server cut at ``max_tokens`` (finish reason ``length``):
its model had not finished, and a sample that ends where the budget did teaches no stopping."""

Progress = Callable[[str, int, int, int], Awaitable[None]]
"""``(stage, done, total, accepted)``, called as work advances (the caller throttles)."""


@dataclass(frozen=True)
class LoadedSkill:
    bundle: Bundle
    document: SkillDocument
    evals: EvalSet | None
    rubric: Rubric
    bundle_digest: str


class RunFailed(Exception):
    """The run cannot produce a complete dataset; ``code`` and ``reason`` go into ``dataset.failed``."""

    def __init__(self, code: str, reason: str, stats: DatasetStats | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.stats = stats


CANCELLED = "cancelled"
"""The ``dataset.failed`` code of a run stopped by ``CancelDataset``."""


class RunCancelled(RunFailed):
    """The run was cancelled on request (``CancelDataset``); nothing of it is kept."""

    def __init__(self, reason: str, stats: DatasetStats | None = None) -> None:
        super().__init__(CANCELLED, reason, stats)


@dataclass
class GeneratedDataset:
    train: list[SampleRecord]
    validation: list[SampleRecord]
    heldout: list[HeldoutRecord]
    grpo: list[GrpoRecord]
    stats: DatasetStats
    strategies: list[str]
    skipped: dict[str, str]
    max_length: int


@dataclass
class _Counters:
    attempts: Counter[str] = field(default_factory=Counter)
    judged_on_form: Counter[str] = field(
        default_factory=Counter
    )  # candidates whose form was judged (see maybe_disable)
    accepted: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    disabled: dict[str, str] = field(default_factory=dict)
    tally: FailureTally = field(default_factory=FailureTally)
    max_tokens_seen: int = 0


class Pipeline:
    def __init__(
        self,
        settings: DataGeneratorSettings,
        command: GenerateDataset,
        skill: LoadedSkill,
        sampler: Sampler,
        judge: Judge | None,
        progress: Progress,
    ) -> None:
        self.settings = settings
        self.command = command
        self.skill = skill
        self.sampler = sampler
        self.judge = judge
        self.progress = progress
        self.max_length = command.max_length or settings.datagen_max_length
        self.counters = _Counters()
        self.strategies: list[str] = []
        self.skipped: dict[str, str] = {}
        self.prompt_counts: dict[str, int] = {}
        self.duplicates = 0
        self.started = time.monotonic()

    @property
    def base(self) -> ChatClient:
        return self.sampler.base

    async def run(self) -> GeneratedDataset:
        started = self.started = time.monotonic()
        try:
            return await self._run(started)
        except InferenceUnavailable as exc:
            raise RunFailed("inference_unavailable", str(exc), self.stats(started)) from exc
        except InferenceRefused as exc:
            raise RunFailed("inference_refused", str(exc), self.stats(started)) from exc
        except StrategyUnavailable as exc:
            raise RunFailed("strategy_unavailable", str(exc), self.stats(started)) from exc

    async def _run(self, started: float) -> GeneratedDataset:
        rubric = self.skill.rubric
        if not any(c.deterministic for c in rubric.criteria) and self.judge is None:
            raise RunFailed(
                "no_checks",
                f"the rubric of {rubric.skill_name} has no deterministic criterion and no judge is "
                "configured (SKILL_ADAPTER_JUDGE_MODEL): no response could be verified",
            )
        self.strategies, self.skipped = plan(self.command.strategy, self.sampler)
        await self.progress("prompts", 0, 1, 0)
        try:
            train_prompts, validation_prompts, heldout = await self.prompts()
        except PromptFileError as exc:
            raise RunFailed("invalid_skill", f"the skill's held-out prompts cannot be read: {exc}") from exc
        await self.check_context(train_prompts + validation_prompts)
        wanted_validation = self.validation_target()
        total = self.command.num_samples + wanted_validation
        train = await self.fill(train_prompts, self.command.num_samples, "generating", 0, total)
        validation = await self.fill(validation_prompts, wanted_validation, "generating", len(train), total)
        minimum = math.ceil(self.command.num_samples * self.settings.datagen_min_samples_share)
        if len(train) < minimum:
            raise RunFailed(
                "too_few_samples",
                f"only {len(train)} of {self.command.num_samples} training samples passed every check "
                f"(from {len(train_prompts)} prompts, strategies {', '.join(self.strategies)}); the "
                f"checks that failed most: {self.counters.tally.describe()}",
                self.stats(started, len(train) + len(validation)),
            )
        grpo, probed, zero = await self.grpo_probe([s for s in train])
        stats = self.stats(started, len(train) + len(validation), probed, zero)
        return GeneratedDataset(
            train=train,
            validation=validation,
            heldout=[_heldout_record(p) for p in heldout],
            grpo=grpo,
            stats=stats,
            strategies=self.strategies,
            skipped=self.skipped,
            max_length=self.max_length,
        )

    # -- prompts ----------------------------------------------------------------------------
    async def prompts(self) -> tuple[list[Prompt], list[Prompt], list[Prompt]]:
        skill, command, settings = self.skill, self.command, self.settings
        held = heldout_prompts(skill.bundle, skill.evals)
        pool = math.ceil(
            (command.num_samples + self.validation_target()) * settings.datagen_prompt_pool_factor
        )
        synthesized = synthesized_prompts(skill.document, seed=command.seed, count=pool)
        candidates = [
            *example_prompts(skill.document),
            *await self.paraphrases(synthesized[: pool // 4]),
            *synthesized,
            *near_miss_prompts(skill.document, seed=command.seed, count=max(10, pool // 8)),
        ]
        # split drops (near-)duplicates, within the candidates and of held-out prompts, itself
        splits = split(
            held, candidates, seed=command.seed, validation_share=settings.datagen_validation_share
        )
        self.duplicates = splits.dropped
        everything = [*splits.train, *splits.validation, *splits.heldout]
        self.prompt_counts = dict(Counter(p.source for p in everything))
        return list(splits.train), list(splits.validation), list(splits.heldout)

    async def paraphrases(self, originals: Sequence[Prompt]) -> list[Prompt]:
        """A teacher's rewordings of some synthesized prompts (only when a teacher is in use).

        A reply that is not a clean paraphrase (chatter, an answer, lost numbers) is dropped;
        a teacher that fails outright fails here as it would later."""
        if "teacher" not in self.strategies or not originals:
            return []
        teacher, model = self.sampler.teacher, self.sampler.teacher_model
        assert teacher is not None and model
        limit = asyncio.Semaphore(self.settings.datagen_concurrency)

        async def one(original: Prompt) -> Prompt | None:
            async with limit:
                result = await teacher.chat(
                    model,
                    [{"role": "user", "content": paraphrase_instruction(original)}],
                    temperature=0.9,
                    seed=derived_seed(self.command.seed, original.id, "paraphrase"),
                    max_tokens=max(64, len(original.text) // 2),
                )
            text = parse_paraphrase(result.choices[0].text if result.choices else "", original=original)
            return as_paraphrase(original, text) if text else None

        found = await asyncio.gather(*(one(p) for p in originals))
        return [p for p in found if p is not None]

    def validation_target(self) -> int:
        share = self.settings.datagen_validation_share
        return 0 if share <= 0 else max(1, round(self.command.num_samples * share / (1 - share)))

    async def check_context(self, prompts: Sequence[Prompt]) -> None:
        """Refuse a base model whose context cannot hold the skill, a prompt and a reply."""
        if not prompts:
            raise RunFailed("no_prompts", "no training prompts could be made for this skill")
        longest = max(prompts, key=lambda p: len(p.text))
        counted = await self.base.tokenize(self.sampler.base_model, self.sampler.messages(longest))
        if counted.max_model_len and counted.count + self.sampler.max_tokens > counted.max_model_len:
            raise RunFailed(
                "context_too_short",
                f"{self.sampler.base_model} has a context of {counted.max_model_len} tokens; the skill in "
                f"context plus the longest prompt take {counted.count} and replies need up to "
                f"{self.sampler.max_tokens} more",
            )

    # -- responses --------------------------------------------------------------------------
    async def fill(
        self, prompts: Sequence[Prompt], target: int, stage: str, base: int, total: int
    ) -> list[SampleRecord]:
        """Verified samples for the first prompts, in prompt order, until ``target`` exist."""
        if target <= 0:
            return []
        found: dict[int, SampleRecord] = {}
        queue = iter(enumerate(prompts))
        lock = asyncio.Lock()
        done = 0

        async def worker() -> None:
            nonlocal done
            while len(found) < target:
                async with lock:
                    item = next(queue, None)
                if item is None:
                    return
                index, prompt = item
                record = await self.respond(prompt)
                done += 1
                if record is not None:
                    found[index] = record
                await self.progress(stage, base + min(len(found), target), total, base + len(found))

        await asyncio.gather(*(worker() for _ in range(self.settings.datagen_concurrency)))
        chosen = [found[i] for i in sorted(found)][:target]
        for record in chosen:
            self.counters.kept[record.strategy] += 1
        return chosen

    def active(self) -> list[str]:
        return [s for s in self.strategies if s not in self.counters.disabled]

    async def respond(self, prompt: Prompt) -> SampleRecord | None:
        strategies = (["reference"] if prompt.reference else []) + self.active()
        for strategy in strategies:
            # a prompt with checkable content the model got wrong once mostly stays wrong: one round
            rounds = (
                1
                if strategy == "reference" or prompt.expected_content
                else self.settings.datagen_attempts_per_prompt
            )
            for round_ in range(rounds):
                if strategy in self.counters.disabled:
                    break
                seed = derived_seed(self.command.seed, prompt.id, strategy, round_)
                candidates = await self.sampler.sample(strategy, prompt, seed=seed)
                record = await self.best(prompt, candidates)
                self.maybe_disable(strategy)
                if record is not None:
                    return record
        return None

    async def best(self, prompt: Prompt, candidates: Sequence[Candidate]) -> SampleRecord | None:
        passing: list[tuple[Verdict, Candidate]] = []
        for candidate in candidates:
            self.counters.attempts[candidate.strategy] += 1
            unfinished = (
                "empty-reply"
                if not candidate.text
                else TRUNCATED
                if candidate.finish_reason == "length"
                else None
            )
            if unfinished:
                self.counters.judged_on_form[candidate.strategy] += 1
                self.counters.tally.counts[unfinished] += 1
                continue
            verdict = await verify(self.skill.rubric, prompt, candidate.text, self.judge)
            if not prompt.expected_content or any(cid != CONTENT for cid in verdict.failed):
                # a wrong form counts against the strategy whatever the prompt; wrong content alone not
                self.counters.judged_on_form[candidate.strategy] += 1
            if verdict.passed:
                self.counters.accepted[candidate.strategy] += 1
                passing.append((verdict, candidate))
            else:
                self.counters.tally.add(verdict)
        # the best score first and, among equals, the shortest: a small model's own replies pass
        # the rubric with a rambling tail as often as without, and the sample is what it learns
        for verdict, candidate in sorted(passing, key=lambda vc: (-vc[0].score, len(vc[1].text))):
            messages = [
                ChatMessage(role="user", content=prompt.text),
                ChatMessage(role="assistant", content=candidate.text),
            ]
            counted = await self.base.tokenize(
                self.sampler.base_model, [m.model_dump() for m in messages], add_generation_prompt=False
            )
            if counted.count > self.max_length:
                self.counters.tally.counts[TOO_LONG] += 1
                continue
            self.counters.max_tokens_seen = max(self.counters.max_tokens_seen, counted.count)
            return SampleRecord(
                messages=messages,
                prompt_id=prompt.id,
                source=prompt.source,
                strategy=candidate.strategy,
                near_miss=prompt.near_miss,
                eval_id=prompt.eval_id,
                score=round(min(max(verdict.score, 0.0), 1.0), 6),
                scores={k: round(v, 6) for k, v in verdict.scores.items()},
                tokens=counted.count,
            )
        return None

    def maybe_disable(self, strategy: str) -> None:
        """``auto`` stops spending time on a strategy that has produced nothing usable.

        Candidates whose form was judged count: every candidate for a prompt without a content
        check, and those that broke a rubric criterion for near-miss prompts; a model that only
        gets the arithmetic of a near-miss prompt wrong says nothing about the strategy's form."""
        counters = self.counters
        if (
            self.command.strategy == "auto"
            and strategy != "reference"
            and len(self.active()) > 1
            and counters.judged_on_form[strategy] >= self.settings.datagen_probe_attempts
            and counters.accepted[strategy] == 0
        ):
            counters.disabled[strategy] = f"0 of {counters.attempts[strategy]} candidates passed"

    # -- GRPO --------------------------------------------------------------------------------
    async def grpo_probe(self, train: Sequence[SampleRecord]) -> tuple[list[GrpoRecord], int, int]:
        """Sample probed prompts k times; keep those whose rewards differ (GRPO learns only there).

        The prompts are probed ``datagen_concurrency`` at a time (a batching backend serves them
        together); each has its own seed, so the outcome does not depend on the order."""
        limit = self.command.grpo_probe_prompts
        if limit is None:
            limit = self.settings.datagen_grpo_probe_prompts
        if limit == 0 or not train:
            return [], 0, 0
        probed = train[:limit]
        gate = asyncio.Semaphore(self.settings.datagen_concurrency)
        finished = 0
        await self.progress("grpo_probe", 0, len(probed), 0)

        async def rewards_of(sample: SampleRecord) -> list[float]:
            nonlocal finished
            prompt = Prompt(id=sample.prompt_id, text=sample.messages[-2].content, source="template")
            async with gate:
                result = await self.base.chat(
                    self.sampler.base_model,
                    self.sampler.messages(prompt),
                    n=self.settings.datagen_grpo_probe_samples,
                    temperature=1.0,
                    seed=derived_seed(self.command.seed, sample.prompt_id, "grpo"),
                    max_tokens=self.sampler.max_tokens,
                )
            finished += 1
            await self.progress("grpo_probe", finished, len(probed), 0)
            return [check_deterministic(self.skill.rubric, prompt, c.text).score for c in result.choices]

        records: list[GrpoRecord] = []
        zero = 0
        for sample, rewards in zip(probed, await asyncio.gather(*map(rewards_of, probed)), strict=True):
            spread = pstdev(rewards) if len(rewards) > 1 else 0.0
            if spread <= 1e-9:
                zero += 1
                continue
            records.append(
                GrpoRecord(
                    prompt=[ChatMessage(role="user", content=sample.messages[-2].content)],
                    prompt_id=sample.prompt_id,
                    eval_id=sample.eval_id,
                    reward_mean=round(fmean(rewards), 6),
                    reward_std=round(spread, 6),
                )
            )
        return records, len(probed), zero

    # -- statistics ----------------------------------------------------------------------------
    def stats(self, started: float, kept: int = 0, probed: int = 0, zero: int = 0) -> DatasetStats:
        counters = self.counters
        seconds = time.monotonic() - started
        names = sorted(set(counters.attempts) | set(self.strategies))
        return DatasetStats(
            prompts=self.prompt_counts,
            duplicates_dropped=self.duplicates,
            strategies={
                name: StrategyStats(
                    attempts=counters.attempts[name],
                    accepted=counters.accepted[name],
                    kept=counters.kept[name],
                    disabled=counters.disabled.get(name) or self.skipped.get(name),
                )
                for name in names
            },
            grpo_probed=probed,
            grpo_zero_variance_share=round(zero / probed, 4) if probed else None,
            criterion_failures=dict(counters.tally.counts.most_common()),
            seconds=round(seconds, 3),
            samples_per_minute=round(kept / seconds * 60, 2) if seconds > 0 else 0.0,
            max_tokens_seen=counters.max_tokens_seen,
        )


def _heldout_record(prompt: Prompt) -> HeldoutRecord:
    return HeldoutRecord(
        prompt_id=prompt.id,
        prompt=prompt.text,
        source=prompt.source,
        eval_id=prompt.eval_id,
        near_miss=prompt.near_miss,
        expected_content=list(prompt.expected_content),
        reference=prompt.reference,
    )
