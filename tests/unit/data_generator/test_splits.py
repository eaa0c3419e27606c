"""Train / validation / held-out: enough prompts, no leakage, same seed same split."""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skill_adapter.data_generator import splits as splits_module
from skill_adapter.data_generator.dedupe import find_leaks
from skill_adapter.data_generator.prompts import (
    Prompt,
    example_prompts,
    heldout_prompts,
    near_miss_prompts,
    synthesized_prompts,
)
from skill_adapter.data_generator.splits import LeakError, Splits, split
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "cli" / "example_skills"

TUTOR = """---
name: friendly-tutor
description: >-
  Explains the answer to a student's question step by step and ends with a one-line summary.
  Use when a student asks a maths, science or general knowledge question.
---

# Friendly tutor

## When to use

- "Can you explain this to me?"
- "Help me with my homework."

## Rules

- Start with the answer in one sentence.
- Then explain it in at most three numbered steps.
- End with a line that starts with "In short:".

## Example

User: How many legs does a spider have?

```
A spider has eight legs.

1. Spiders are arachnids, not insects.
2. Every arachnid has four pairs of legs.
In short: eight legs.
```
"""
MINUTES = """---
name: meeting-minutes
description: >-
  Turns raw meeting notes into minutes with a Decisions section and an Action items section.
  Use when the user pastes meeting notes or asks for minutes of a meeting.
---

# Meeting minutes

Write `## Decisions` and `## Action items` (each item: owner, task, due date). Keep every name
and date from the notes.
"""
SKILLS = {
    "commit-message": None,
    "json-reply": None,
    "status-report": None,
    "friendly-tutor": TUTOR,
    "meeting-minutes": MINUTES,
}


@cache
def prompts_for(name: str) -> tuple[list[Prompt], list[Prompt]]:
    """(held out, candidates) as the data generator assembles them, with count=1000."""
    text = SKILLS[name]
    data, object_name = (
        (to_zip(from_directory(EXAMPLES / name), name), name + ".zip")
        if text is None
        else (text.encode(), f"{name}/SKILL.md")
    )
    analysis = analyze(data, object_name)
    assert analysis.document is not None and analysis.bundle is not None, analysis.errors
    held = heldout_prompts(analysis.bundle, analysis.evals)
    candidates = [
        *example_prompts(analysis.document),
        *synthesized_prompts(analysis.document, seed=1, count=1000),
        *near_miss_prompts(analysis.document, seed=1, count=200),
    ]
    return held, candidates


@cache
def split_for(name: str, seed: int = 1) -> Splits:
    held, candidates = prompts_for(name)
    return split(held, candidates, seed=seed)


@pytest.mark.parametrize("name", list(SKILLS))
def test_every_skill_gets_well_over_three_hundred_distinct_training_prompts(name: str) -> None:
    result = split_for(name)
    assert len(result.train) + len(result.validation) >= 300
    assert len({p.id for p in [*result.train, *result.validation]}) == len(result.train) + len(
        result.validation
    )
    assert result.counts["train"] == len(result.train) and result.counts["heldout"] == len(result.heldout)


@pytest.mark.parametrize("name", list(SKILLS))
def test_held_out_prompts_never_leak_into_train_or_validation(name: str) -> None:
    held, _ = prompts_for(name)
    result = split_for(name)
    trained = [*result.train, *result.validation]
    assert not {p.id for p in trained} & {p.id for p in result.heldout}
    assert not {p.id for p in result.train} & {p.id for p in result.validation}
    assert find_leaks(trained, result.heldout) == []
    assert all(p in result.heldout for p in held)  # every eval and held-out prompt stays held out
    assert {p.source for p in trained} <= {"example", "template", "near_miss"}


def test_a_candidate_that_copies_a_held_out_prompt_is_dropped() -> None:
    held = [Prompt(text="What is the capital of France?", source="evals", eval_id="1")]
    candidates = [
        Prompt(text="Reply in JSON: What is the capital of France?", source="template"),
        Prompt(text="what is the capital of france", source="template"),
        Prompt(text="What is the capital of Peru?", source="template"),
        Prompt(text="How many legs does a spider have?", source="template"),
    ]
    result = split(held, candidates, seed=3, validation_share=0.0)
    assert [p.text for p in result.train] == sorted(
        ["What is the capital of Peru?", "How many legs does a spider have?"],
        key=lambda t: splits_module.rank(3, "order", Prompt(text=t, source="template")),
    )
    assert result.dropped == 2 and result.heldout == held


def test_about_half_the_near_misses_are_held_out_and_a_tenth_of_the_rest_validates() -> None:
    held, candidates = prompts_for("json-reply")
    result = split_for("json-reply")
    near_miss = [p for p in candidates if p.near_miss]
    assert result.counts["heldout_near_miss"] == pytest.approx(
        len(near_miss) / 2, abs=4 * (len(near_miss) / 4) ** 0.5
    )
    assert len(result.heldout) == len(held) + result.counts["heldout_near_miss"]
    kept = len(result.train) + len(result.validation)
    assert len(result.validation) == pytest.approx(0.1 * kept, abs=4 * (0.09 * kept) ** 0.5)
    assert result.counts["train_near_miss"] > 0  # the other half trains the content checks


def test_where_a_prompt_goes_depends_on_the_seed_and_its_id_not_on_the_order() -> None:
    held, candidates = prompts_for("commit-message")
    first = split(held, candidates, seed=5)
    assert split(held, candidates, seed=5) == first
    shuffled = candidates[:]
    random.Random(0).shuffle(shuffled)
    again = split(held, shuffled, seed=5)  # of two near duplicates, another one may be kept first

    def where(result: Splits) -> dict[str, str]:
        parts = {"train": result.train, "validation": result.validation, "heldout": result.heldout}
        return {p.id: part for part, prompts in parts.items() for p in prompts}

    a, b = where(first), where(again)
    common = a.keys() & b.keys()
    assert len(common) > 0.95 * len(a)
    assert {i: a[i] for i in common} == {i: b[i] for i in common}
    order = [p.id for p in first.train if p.id in common]
    assert order == [p.id for p in again.train if p.id in common]


def test_another_seed_gives_another_split() -> None:
    held, candidates = prompts_for("status-report")
    one, other = split(held, candidates, seed=1), split(held, candidates, seed=2)
    assert {p.id for p in one.validation} != {p.id for p in other.validation}
    assert {p.id for p in one.heldout} != {p.id for p in other.heldout}
    assert [p.id for p in one.train] != [p.id for p in other.train]


def test_a_leak_that_got_through_would_stop_the_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(splits_module, "deduplicate", lambda prompts, **_: (list(prompts), 0))
    held = [Prompt(text="What is the capital of France?", source="evals")]
    with pytest.raises(LeakError, match="capital of France"):
        split(held, [Prompt(text="Reply in JSON: What is the capital of France?", source="template")], seed=1)


@pytest.mark.parametrize(("validation", "near_miss"), [(-0.1, 0.5), (1.0, 0.5), (0.1, 1.5)])
def test_shares_out_of_range_are_refused(validation: float, near_miss: float) -> None:
    with pytest.raises(ValueError, match="shares"):
        split([], [], seed=1, validation_share=validation, near_miss_heldout_share=near_miss)


WORDS = st.sampled_from(
    ["what", "is", "the", "capital", "of", "peru", "spain", "2", "+", "3", "notes", "shipped"]
)
TEXTS = st.lists(WORDS, min_size=1, max_size=8).map(" ".join)


@settings(max_examples=80, deadline=None)
@given(
    held=st.lists(TEXTS, max_size=5),
    candidates=st.lists(st.tuples(TEXTS, st.booleans()), max_size=40),
    seed=st.integers(0, 2**32),
)
def test_splits_are_disjoint_leak_free_and_reproducible(
    held: list[str], candidates: list[tuple[str, bool]], seed: int
) -> None:
    held_prompts = [Prompt(text=t, source="heldout_file") for t in held]
    pool = [
        Prompt(
            text=t, source="near_miss" if n else "template", near_miss=n, expected_content=["x"] if n else []
        )
        for t, n in candidates
    ]
    result = split(held_prompts, pool, seed=seed)
    trained = [*result.train, *result.validation]
    assert not {p.id for p in trained} & {p.id for p in result.heldout}
    assert find_leaks(trained, result.heldout) == []
    assert len(trained) + result.dropped + result.counts["heldout_near_miss"] == len(pool)
    assert split(held_prompts, pool, seed=seed) == result
