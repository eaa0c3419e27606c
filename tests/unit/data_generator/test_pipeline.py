"""The dataset pipeline against a fake inference server: what users get, and how it fails."""

from __future__ import annotations

from typing import Any

import pytest

from skill_adapter.contracts import GenerateDataset
from skill_adapter.data_generator.artifact import SampleRecord, parse_jsonl, to_jsonl
from skill_adapter.data_generator.dedupe import near_duplicate
from skill_adapter.data_generator.judge import Judge
from skill_adapter.data_generator.pipeline import Pipeline, RunFailed
from skill_adapter.data_generator.settings import DataGeneratorSettings
from skill_adapter.data_generator.strategies import Sampler
from skill_adapter.skillspec.render import skill_system_prompt
from skill_adapter.skillspec.rubric.grading import grade

from .fakes import FakeOpenAI, client, load_example

pytestmark = pytest.mark.unit


def settings(**overrides: object) -> DataGeneratorSettings:
    values: dict[str, object] = {
        "datagen_concurrency": 3,
        "datagen_grpo_probe_prompts": 4,
        "datagen_probe_attempts": 4,
    }
    values.update(overrides)
    return DataGeneratorSettings(**values)  # type: ignore[arg-type]


def command(**overrides: object) -> GenerateDataset:
    values: dict[str, object] = {
        "producer": "test",
        "correlation_id": "ds-1",
        "dataset_id": "ds-1",
        "skill_name": "json-reply",
        "skill_version": "v",
        "base_model": "base",
        "num_samples": 12,
        "seed": 7,
    }
    values.update(overrides)
    return GenerateDataset(**values)  # type: ignore[arg-type]


def sampler(skill, fake: FakeOpenAI, teacher: FakeOpenAI | None = None, **kw: object) -> Sampler:
    return Sampler(
        base=client(fake),
        base_model="base",
        system=skill_system_prompt(skill.document),
        max_tokens=64,
        temperature=0.8,
        candidates=3,
        constraint=skill.rubric.output_constraint,
        teacher=client(teacher, "teacher") if teacher else None,
        teacher_model="teacher-model" if teacher else None,
        **kw,  # type: ignore[arg-type]
    )


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int, int, int]] = []

    async def __call__(self, stage: str, done: int, total: int, accepted: int) -> None:
        self.seen.append((stage, done, total, accepted))


async def test_auto_on_a_weak_base_model_keeps_only_verified_guided_samples() -> None:
    skill = load_example("json-reply")
    fake = FakeOpenAI()
    progress = Events()
    dataset = await Pipeline(settings(), command(), skill, sampler(skill, fake), None, progress).run()

    assert len(dataset.train) == 12
    assert dataset.validation
    for sample in dataset.train + dataset.validation:
        assert grade(skill.rubric, sample.messages[-1].content).passed
        assert [m.role for m in sample.messages] == ["user", "assistant"]  # the skill is not in context
    assert dataset.strategies == ["guided", "best_of_n"]
    assert "teacher" in dataset.skipped
    assert {s.strategy for s in dataset.train} <= {"guided", "reference"}
    # the model sampled with the skill in its context, and guided requests carried the schema
    chats = [c for c in fake.calls if c["path"] == "/v1/chat/completions"]
    assert all(
        c["messages"][0]["role"] == "system" and "json-reply" in c["messages"][0]["content"] for c in chats
    )
    guided = [c["structured_outputs"] for c in chats if "structured_outputs" in c]
    assert guided and all(g["json"] == skill.rubric.output_constraint.json_schema for g in guided)
    assert all(g["whitespace_pattern"] == " ?" for g in guided)  # json-reply: one line
    assert dataset.stats.strategies["guided"].accepted > 0
    assert progress.seen[-1][0] == "grpo_probe"
    assert any(stage == "generating" for stage, *_ in progress.seen)


@pytest.mark.parametrize(("asked", "probed"), [(None, 4), (0, 0), (2, 2)])
async def test_the_command_says_how_many_grpo_prompts_to_probe(asked: int | None, probed: int) -> None:
    """An SFT-only job asks for none (the probe samples every probed prompt k times for nothing)."""
    skill = load_example("json-reply")
    fake = FakeOpenAI()
    dataset = await Pipeline(
        settings(), command(grpo_probe_prompts=asked), skill, sampler(skill, fake), None, Events()
    ).run()
    assert dataset.stats.grpo_probed == probed
    probes = [c for c in fake.calls if c["path"] == "/v1/chat/completions" and c.get("temperature") == 1.0]
    assert len(probes) == probed


async def test_held_out_prompts_never_reach_training() -> None:
    skill = load_example("json-reply")
    dataset = await Pipeline(
        settings(), command(num_samples=30), skill, sampler(skill, FakeOpenAI()), None, Events()
    ).run()
    heldout = [h.prompt for h in dataset.heldout]
    assert {h.source for h in dataset.heldout} >= {"evals", "heldout_file"}
    for sample in dataset.train + dataset.validation:
        user = sample.messages[-2].content
        assert not any(near_duplicate(user, h) for h in heldout), user


async def test_the_same_seed_gives_the_same_dataset() -> None:
    skill = load_example("json-reply")
    first = await Pipeline(settings(), command(), skill, sampler(skill, FakeOpenAI()), None, Events()).run()
    again = await Pipeline(settings(), command(), skill, sampler(skill, FakeOpenAI()), None, Events()).run()
    other = await Pipeline(
        settings(), command(seed=8), skill, sampler(skill, FakeOpenAI()), None, Events()
    ).run()
    assert to_jsonl(first.train) == to_jsonl(again.train)
    assert to_jsonl(first.train) != to_jsonl(other.train)
    assert parse_jsonl(to_jsonl(first.train), SampleRecord) == first.train


async def test_best_of_n_on_a_model_that_never_complies_fails_naming_the_criteria() -> None:
    skill = load_example("json-reply")
    with pytest.raises(RunFailed) as failed:
        await Pipeline(
            settings(), command(strategy="best_of_n"), skill, sampler(skill, FakeOpenAI()), None, Events()
        ).run()
    assert failed.value.code == "too_few_samples"
    assert "valid-json" in failed.value.reason
    assert failed.value.stats is not None
    assert failed.value.stats.strategies["best_of_n"].attempts > 0
    assert failed.value.stats.criterion_failures["rubric.valid-json"] > 0


async def test_a_teacher_is_used_first_and_recorded() -> None:
    skill = load_example("json-reply")
    teacher = FakeOpenAI(comply_unconstrained=True)
    # the fake teacher gets the content of near-miss prompts wrong: don't let auto drop it for that
    dataset = await Pipeline(
        settings(datagen_probe_attempts=1000),
        command(),
        skill,
        sampler(skill, FakeOpenAI(), teacher),
        None,
        Events(),
    ).run()
    assert dataset.strategies[0] == "teacher"
    assert {s.strategy for s in dataset.train} <= {"teacher", "reference"}
    assert any(c["model"] == "teacher-model" for c in teacher.calls if c["path"] == "/v1/chat/completions")


async def test_a_teacher_that_is_down_fails_the_run_with_the_reason() -> None:
    skill = load_example("json-reply")
    with pytest.raises(RunFailed) as failed:
        await Pipeline(
            settings(),
            command(strategy="teacher"),
            skill,
            sampler(skill, FakeOpenAI(), FakeOpenAI(up=False)),
            None,
            Events(),
        ).run()
    assert failed.value.code == "inference_unavailable"
    assert "teacher" in failed.value.reason


async def test_an_explicit_strategy_that_cannot_run_is_an_error_not_a_fallback() -> None:
    skill = load_example("json-reply")
    with pytest.raises(RunFailed) as failed:
        await Pipeline(
            settings(), command(strategy="teacher"), skill, sampler(skill, FakeOpenAI()), None, Events()
        ).run()
    assert failed.value.code == "strategy_unavailable"
    assert "no teacher" in failed.value.reason


async def test_a_base_model_with_too_short_a_context_is_refused() -> None:
    skill = load_example("json-reply")
    with pytest.raises(RunFailed) as failed:
        await Pipeline(
            settings(), command(), skill, sampler(skill, FakeOpenAI(max_model_len=200)), None, Events()
        ).run()
    assert failed.value.code == "context_too_short"
    assert "200 tokens" in failed.value.reason


async def test_samples_longer_than_max_length_are_not_kept() -> None:
    skill = load_example("json-reply")
    with pytest.raises(RunFailed) as failed:
        await Pipeline(
            settings(), command(max_length=16), skill, sampler(skill, FakeOpenAI()), None, Events()
        ).run()
    assert failed.value.code == "too_few_samples"
    assert "max-length" in failed.value.reason


async def test_replies_cut_off_at_max_tokens_are_not_kept() -> None:
    # a reply that ends where the budget did would teach the adapter never to stop
    skill = load_example("json-reply")
    with pytest.raises(RunFailed) as failed:
        await Pipeline(
            settings(), command(), skill, sampler(skill, FakeOpenAI(cut_off=True)), None, Events()
        ).run()
    assert failed.value.code == "too_few_samples"
    assert "cut-off" in failed.value.reason


async def test_the_shortest_of_equally_good_replies_is_kept() -> None:
    skill = load_example("json-reply")
    fake = FakeOpenAI()
    dataset = await Pipeline(settings(), command(), skill, sampler(skill, fake), None, Events()).run()
    guided = [s for s in dataset.train if s.strategy == "guided"]
    assert guided
    for sample in guided:
        kept = sample.messages[-1].content
        (texts,) = [t for t in fake.replies if kept in t]
        assert len(set(map(len, texts))) > 1  # the fake's replies differ in length
        assert kept == min(texts, key=len)


async def test_a_rubric_without_deterministic_checks_needs_a_judge() -> None:
    skill = load_example("json-reply")
    judged_only = skill.rubric.model_copy(
        update={"criteria": [c for c in skill.rubric.criteria if not c.deterministic]}
    )
    assert not judged_only.criteria or all(not c.deterministic for c in judged_only.criteria)
    skill = type(skill)(skill.bundle, skill.document, skill.evals, judged_only, skill.bundle_digest)
    with pytest.raises(RunFailed) as failed:
        await Pipeline(settings(), command(), skill, sampler(skill, FakeOpenAI()), None, Events()).run()
    assert failed.value.code == "no_checks"


async def test_judge_rejections_keep_samples_out() -> None:
    skill = load_example("commit-message")  # has a judge criterion (imperative mood)

    class NoJudge(FakeOpenAI):
        def reply(self, body, question, seed):  # type: ignore[no-untyped-def]
            return '{"passed": false, "evidence": "says added"}'

    judge = Judge(client(NoJudge(), "judge"), "judge-model")
    with pytest.raises(RunFailed) as failed:
        await Pipeline(
            settings(),
            command(skill_name="commit-message", num_samples=3),
            skill,
            sampler(skill, FakeOpenAI()),
            judge,
            Events(),
        ).run()
    assert failed.value.code == "too_few_samples"


async def test_a_teacher_rewords_some_prompts_and_garbage_rewordings_are_dropped() -> None:
    skill = load_example("json-reply")

    class Rewording(FakeOpenAI):
        def reply(self, body, question, seed):  # type: ignore[no-untyped-def]
            if question.startswith("Rewrite the request below"):
                original = question.split("<<<\n", 1)[1].rsplit("\n>>>", 1)[0]
                return (
                    "Sure! Here are some options: 1. a 2. b"
                    if seed % 2
                    else f"Quick question for you: {original}"
                )
            return super().reply(body, question, seed)

    teacher = Rewording(comply_unconstrained=True)
    dataset = await Pipeline(
        settings(datagen_probe_attempts=1000),
        command(num_samples=30),
        skill,
        sampler(skill, FakeOpenAI(), teacher),
        None,
        Events(),
    ).run()
    paraphrase_requests = [
        c for c in teacher.calls if c.get("messages", [{}])[-1].get("content", "").startswith("Rewrite")
    ]
    assert paraphrase_requests
    assert 0 < dataset.stats.prompts.get("paraphrase", 0) < len(paraphrase_requests)


async def test_auto_drops_a_strategy_whose_form_keeps_failing_even_on_near_miss_prompts() -> None:
    """best_of_n runs only where guided failed, mostly near-miss prompts (content checks):
    its candidates' broken JSON still counts against it, so auto stops paying for it."""
    skill = load_example("json-reply")
    fake = FakeOpenAI()
    dataset = await Pipeline(
        settings(datagen_grpo_probe_prompts=0),
        command(num_samples=24),
        skill,
        sampler(skill, fake),
        None,
        Events(),
    ).run()
    best_of_n = dataset.stats.strategies["best_of_n"]
    assert best_of_n.accepted == 0
    assert best_of_n.disabled is not None and "0 of" in best_of_n.disabled
    # at most one more request's candidates after the probe's 4 form-judged ones
    assert best_of_n.attempts <= 4 + 3


@pytest.mark.parametrize("refused", [None, 400, 500])
async def test_guided_commit_messages_ask_for_the_whole_grammar_and_fall_back_to_the_regex(
    refused: int | None,
) -> None:
    skill = load_example("commit-message")
    constraint = skill.rubric.output_constraint
    assert constraint is not None and constraint.grammar is not None
    fake = FakeOpenAI(refuse_grammar=refused)
    guided = sampler(skill, fake)
    dataset = await Pipeline(
        settings(), command(skill_name="commit-message", num_samples=4), skill, guided, None, Events()
    ).run()

    assert len(dataset.train) == 4
    sent = [c["structured_outputs"] for c in fake.calls if "structured_outputs" in c]
    if not refused:
        assert sent and all(s == {"grammar": constraint.grammar} for s in sent)
        assert guided.grammar_refused is None
    else:  # the first guided request is refused once; every request after it sends the regex
        assert sent[0] == {"grammar": constraint.grammar}
        retries = 3 if refused == 500 else 1  # a 5xx is retried (twice here) before the fallback
        assert sum("grammar" in s for s in sent) <= settings().datagen_concurrency * retries
        assert sent[-1] == {"regex": constraint.regex}
        assert guided.grammar_refused and "grammar not supported" in guided.grammar_refused


async def test_the_grpo_probe_keeps_the_same_prompts_however_many_run_at_once() -> None:
    """The probe sends ``datagen_concurrency`` prompts at a time; each has its own seed, so the
    prompts kept for GRPO and the zero-variance share do not depend on that number."""
    skill = load_example("json-reply")

    class SometimesCompliant(FakeOpenAI):
        """Unconstrained replies comply for some seeds: some probed prompts vary, some do not."""

        def reply(self, body: dict[str, Any], question: str, seed: int) -> str:
            if body.get("temperature") == 1.0 and seed % 11 == 0:
                return super().reply({**body, "response_format": {}}, question, seed)
            return super().reply(body, question, seed)

    outcomes = []
    for concurrency in (1, 3):
        dataset = await Pipeline(
            settings(datagen_concurrency=concurrency, datagen_grpo_probe_prompts=6),
            command(),
            skill,
            sampler(skill, SometimesCompliant()),
            None,
            Events(),
        ).run()
        outcomes.append(
            (
                [s.prompt_id for s in dataset.train],
                [(g.prompt_id, g.reward_mean, g.reward_std) for g in dataset.grpo],
                dataset.stats.grpo_probed,
                dataset.stats.grpo_zero_variance_share,
            )
        )
    kept, probed, zero_share = outcomes[0][1], outcomes[0][2], outcomes[0][3]
    assert probed == 6 and kept and zero_share is not None and 0 < zero_share < 1  # both kinds probed
    assert outcomes[0] == outcomes[1]
