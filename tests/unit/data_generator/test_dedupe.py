"""Duplicates and near duplicates: what counts as one prompt, and what leaks into held-out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skill_adapter.data_generator import dedupe
from skill_adapter.data_generator.dedupe import (
    containment,
    containment_threshold,
    deduplicate,
    find_leaks,
    near_duplicate,
    normalize,
    prompt_id,
    shingles,
    similarity,
)
from skill_adapter.data_generator.prompts import Prompt, near_miss_prompts, synthesized_prompts
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip

pytestmark = pytest.mark.unit

PAIR_SHARE = 0.05
"""Share of all pairs deduplication may compare (measured: 1.6% on the 5,000 prompts below)."""
EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "cli" / "example_skills"


@dataclass(frozen=True)
class Text:
    text: str


def texts(*items: str) -> list[Text]:
    return [Text(t) for t in items]


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("  What is  the CAPITAL of France?! ", "what is the capital of france"),
        ("\uff37\uff48\uff41\uff54 is 2+2?", "what is 2+2"),  # NFKC folds full-width letters
        ("STRASSE or Stra\u00dfe", "strasse or strasse"),  # casefold, not lower
        ("\u00bfQu\u00e9 hora es?", "qu\u00e9 hora es"),
        ("line one\n\n\tline two.", "line one line two"),
        ("'quoted' text...", "quoted' text"),  # only the ends lose punctuation
        ("$5 for 2 coffees", "$5 for 2 coffees"),  # symbols are not punctuation
    ],
)
def test_normalize(raw: str, normalized: str) -> None:
    assert normalize(raw) == normalized


def test_prompt_ids_are_stable_and_ignore_case_spacing_and_final_punctuation() -> None:
    assert prompt_id("What is 2 + 2?") == prompt_id("  what is 2 + 2 ") == prompt_id("WHAT IS 2 + 2!")
    assert prompt_id("What is 2 + 2?") != prompt_id("What is 2 + 3?")
    assert prompt_id("What is 2 + 2?") == "p-" + hashlib.sha256(b"what is 2 + 2").hexdigest()[:16]


def test_one_changed_word_in_a_long_note_is_a_near_duplicate_but_not_in_a_short_question() -> None:
    note = "finished the login page redesign, QA signed off. payments API integration 60% done. vendor has not sent keys"
    assert near_duplicate(note, note.replace("60%", "70%"))
    assert not near_duplicate("What is the capital of France?", "What is the capital of Spain?")
    assert not near_duplicate("What is 37 + 58?", "What is 37 + 59?")
    assert similarity("Hello there", "hello there!!") == 1.0


def test_containment_catches_a_held_out_prompt_inside_a_framed_one() -> None:
    held = "What is the capital of France?"
    assert containment("Reply in JSON: What is the capital of France?", held) == 1.0
    assert not near_duplicate("Reply in JSON: What is the capital of France?", held)
    assert containment("What is the capital of Australia?", held) < containment_threshold(0.8)


def test_deduplicate_keeps_the_first_of_each_group_and_counts_the_rest() -> None:
    items = texts(
        "What is the capital of Peru?",
        "what is the capital of peru",
        "How many legs does a spider have?",
        "What is the capital of Peru??",
        "How many legs does a spider have, please?",
    )
    kept, dropped = deduplicate(items)
    assert [k.text for k in kept] == ["What is the capital of Peru?", "How many legs does a spider have?"]
    assert dropped == 3


def test_deduplicate_drops_what_leaks_into_the_held_out_set() -> None:
    held = texts("What is the capital of France?", "Who will win the next FIFA World Cup?")
    candidates = texts(
        "Reply in JSON: What is the capital of France?",  # holds a held-out prompt
        "capital of France",  # lies inside one
        "What is the capital of Australia?",  # another question
        "Who will win the next cricket World Cup?",  # another question
    )
    kept, dropped = deduplicate(candidates, against=held)
    assert [k.text for k in kept] == [
        "What is the capital of Australia?",
        "Who will win the next cricket World Cup?",
    ]
    assert dropped == 2
    assert [(a.text, b.text) for a, b in find_leaks(candidates, held)] == [
        ("Reply in JSON: What is the capital of France?", "What is the capital of France?"),
        ("capital of France", "What is the capital of France?"),
    ]


def test_empty_and_punctuation_only_texts_do_not_break_anything() -> None:
    kept, dropped = deduplicate(texts("???", "!!!", "ok", "", "ok."))
    assert [k.text for k in kept] == ["???", "ok"] and dropped == 3
    assert shingles("") == frozenset({""})


WORDS = st.sampled_from(
    ["what", "is", "the", "capital", "of", "peru", "spain", "2", "3", "+", "notes", "done"]
)
SENTENCES = st.lists(WORDS, min_size=1, max_size=9).map(" ".join)


def brute_force(items: list[Text], held: list[Text], threshold: float) -> list[Text]:
    """The definition ``deduplicate`` must match: every pair compared."""
    inside = containment_threshold(threshold)
    kept: list[Text] = []
    for item in items:
        if any(
            similarity(item.text, h.text) >= threshold or containment(item.text, h.text) >= inside
            for h in held
        ):
            continue
        if all(similarity(item.text, k.text) < threshold for k in kept):
            kept.append(item)
    return kept


@settings(max_examples=150, deadline=None)
@given(
    items=st.lists(SENTENCES, max_size=25),
    held=st.lists(SENTENCES, max_size=4),
    threshold=st.sampled_from([0.5, 0.7, 0.8, 0.9]),
)
def test_the_prefix_filter_finds_exactly_what_comparing_every_pair_finds(
    items: list[str], held: list[str], threshold: float
) -> None:
    candidates, against = texts(*items), texts(*held)
    kept, dropped = deduplicate(candidates, against=against, threshold=threshold)
    assert kept == brute_force(candidates, against, threshold)
    assert dropped == len(candidates) - len(kept)


@settings(max_examples=100, deadline=None)
@given(items=st.lists(SENTENCES, max_size=30), held=st.lists(SENTENCES, max_size=4))
def test_deduplicating_twice_drops_nothing_more(items: list[str], held: list[str]) -> None:
    once, _ = deduplicate(texts(*items), against=texts(*held))
    twice, dropped = deduplicate(once, against=texts(*held))
    assert twice == once and dropped == 0
    assert find_leaks(once, texts(*held)) == []


def test_five_thousand_long_prompts_are_not_compared_pair_by_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    """The prefix index keeps deduplication far from quadratic: on 5,000 of the longest example
    prompts only a small share of the pairs are ever compared (how fast that is belongs in a
    benchmark, not in a test)."""
    folder = EXAMPLES / "status-report"  # the longest prompts of the example skills
    document = analyze(to_zip(from_directory(folder), folder.name), folder.name + ".zip").document
    assert document is not None
    prompts: list[Prompt] = [
        *synthesized_prompts(document, seed=7, count=2500),
        *near_miss_prompts(document, seed=7, count=2500),
    ]
    assert len(prompts) == 5000
    compared = 0
    jaccard = dedupe._jaccard

    def counting(a: frozenset[str], b: frozenset[str]) -> float:
        nonlocal compared
        compared += 1
        return jaccard(a, b)

    monkeypatch.setattr(dedupe, "_jaccard", counting)
    kept, dropped = deduplicate(prompts, against=prompts[:30])
    assert len(kept) + dropped == 5000 and kept
    pairs = len(prompts) * (len(prompts) - 1) // 2
    assert compared < pairs * PAIR_SHARE
