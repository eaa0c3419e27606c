"""Where prompts come from: held-out files, body examples, synthesis, near misses, paraphrases."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
from pydantic import ValidationError

from skill_adapter.data_generator.dedupe import deduplicate, prompt_id
from skill_adapter.data_generator.prompts import (
    HELDOUT_PATH,
    Prompt,
    PromptFileError,
    as_paraphrase,
    example_prompts,
    heldout_prompts,
    near_miss_prompts,
    paraphrase_instruction,
    parse_paraphrase,
    synthesized_prompts,
)
from skill_adapter.skillspec.analysis import Analysis, analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip
from skill_adapter.skillspec.document import Bundle, SkillDocument
from skill_adapter.skillspec.evals import EvalSet

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "cli" / "example_skills"
NAMES = ["commit-message", "json-reply", "status-report"]


@cache
def example(name: str) -> Analysis:
    analysis = analyze(to_zip(from_directory(EXAMPLES / name), name), name + ".zip")
    assert analysis.document is not None and analysis.bundle is not None, analysis.errors
    return analysis


def document(body: str, description: str = "Answers questions.") -> SkillDocument:
    return SkillDocument(name="made-up", description=description, body=body, body_line=4)


# -- the model -------------------------------------------------------------------------------


def test_a_prompt_id_comes_from_its_normalized_text() -> None:
    prompt = Prompt(text="  What is 2 + 2?\n", source="template")
    assert prompt.text == "What is 2 + 2?"
    assert prompt.id == prompt_id("what is 2 + 2") == Prompt(text="WHAT IS 2 + 2", source="evals").id
    assert Prompt(text="x", source="evals", id="p-given").id == "p-given"  # a stored id is kept
    assert Prompt.model_validate_json(prompt.model_dump_json()) == prompt


def test_a_prompt_is_frozen_and_strict() -> None:
    prompt = Prompt(text="hi", source="template")
    with pytest.raises(ValidationError):
        prompt.text = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Prompt(text="hi", source="somewhere")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Prompt(text="hi", source="template", unknown=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Prompt(text="   ", source="template")


# -- held out --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_held_out_prompts_are_the_evals_then_the_held_out_file(name: str) -> None:
    analysis = example(name)
    assert analysis.evals is not None and analysis.bundle is not None
    held = heldout_prompts(analysis.bundle, analysis.evals)
    extra = json.loads((EXAMPLES / name / HELDOUT_PATH).read_text())
    assert len(held) == len(analysis.evals.evals) + len(extra)
    evals = [p for p in held if p.source == "evals"]
    assert [p.eval_id for p in evals] == [c.id for c in analysis.evals.evals]
    assert [p.reference for p in evals] == [c.expected_output for c in analysis.evals.evals]
    assert [p.text for p in held if p.source == "heldout_file"] == [t.strip() for t in extra]
    assert len({p.id for p in held}) == len(held)


def test_the_held_out_file_may_hold_objects_and_repeats_count_once() -> None:
    bundle = Bundle(
        {HELDOUT_PATH: json.dumps({"prompts": [{"prompt": "What is 2+2?"}, "what is 2+2", "Hi"]}).encode()}
    )
    evals = EvalSet(evals=[{"id": "1", "prompt": "Hi!"}])  # type: ignore[list-item]
    held = heldout_prompts(bundle, evals)
    assert [(p.text, p.source) for p in held] == [("Hi!", "evals"), ("What is 2+2?", "heldout_file")]
    assert heldout_prompts(Bundle({}), None) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[1, 2", "not valid JSON"),
        (b'{"a": 1}', "JSON list"),
        (b'["ok", ""]', "entry 1"),
        (b"[3]", "entry 0"),
    ],
)
def test_a_broken_held_out_file_is_a_typed_error_that_names_it(raw: bytes, message: str) -> None:
    with pytest.raises(PromptFileError, match=message) as caught:
        heldout_prompts(Bundle({HELDOUT_PATH: raw}), None)
    assert caught.value.path == HELDOUT_PATH


# -- examples in the body --------------------------------------------------------------------


def test_the_example_skills_examples_come_with_their_replies() -> None:
    json_reply = example_prompts(example("json-reply").document)  # type: ignore[arg-type]
    assert [p.text for p in json_reply] == [
        "What is the capital of Australia?",
        "Will it rain in London next Tuesday?",
    ]
    assert all(json.loads(p.reference or "")["confidence"] for p in json_reply)
    commit = example_prompts(example("commit-message").document)  # type: ignore[arg-type]
    assert [p.reference.split("\n")[0] for p in commit if p.reference] == [
        "feat(auth): add password reset by email",
        "fix(export): quote csv cells that contain newlines",
    ]
    status = example_prompts(example("status-report").document)  # type: ignore[arg-type]
    assert len(status) == 1 and status[0].text.startswith("notes for the week:")
    assert status[0].reference and status[0].reference.startswith("## Summary\n")
    assert all(p.source == "example" and p.family == "example" for p in [*json_reply, *commit, *status])


def test_examples_are_read_in_the_shapes_authors_write_them() -> None:
    body = """## Examples

**User:** "What's 2 + 2?"

**Assistant:** 4, obviously.

> User: a quoted turn
> Reply: a quoted reply

Input: a description of the change

Input: fix the bug in login

Output: fix(login): handle bug

User:
```
line one
line two
```

```
the reply
for it
```

```
User: inside a fence is not an example
```

User: Tell me a joke
> Why did the chicken cross the road?
> To get to the other side.

User: no reply follows this one
"""
    found = [(p.text, p.reference) for p in example_prompts(document(body))]
    assert found == [
        ("What's 2 + 2?", "4, obviously."),
        ("a quoted turn", "a quoted reply"),
        ("fix the bug in login", "fix(login): handle bug"),
        ("line one\nline two", "the reply\nfor it"),
        ("Tell me a joke", "Why did the chicken cross the road?\nTo get to the other side."),
        ("no reply follows this one", None),
    ]


# -- synthesized and near-miss ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_synthesis_is_deterministic_per_seed(name: str) -> None:
    skill = example(name).document
    assert skill is not None
    first = synthesized_prompts(skill, seed=11, count=200)
    assert first == synthesized_prompts(skill, seed=11, count=200)
    assert [p.id for p in first] != [p.id for p in synthesized_prompts(skill, seed=12, count=200)]
    assert near_miss_prompts(skill, seed=11, count=50) == near_miss_prompts(skill, seed=11, count=50)


@pytest.mark.parametrize("name", NAMES)
def test_a_thousand_synthesized_prompts_are_distinct(name: str) -> None:
    skill = example(name).document
    assert skill is not None
    prompts = synthesized_prompts(skill, seed=1, count=1000)
    assert len(prompts) == 1000
    assert len({p.id for p in prompts}) == 1000
    assert deduplicate(prompts)[1] == 0  # not even near duplicates
    assert all(p.source == "template" and not p.near_miss and p.family for p in prompts)
    assert len({p.family for p in prompts}) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_near_miss_prompts_carry_the_content_to_check(name: str) -> None:
    skill = example(name).document
    assert skill is not None
    prompts = near_miss_prompts(skill, seed=1, count=300)
    assert len(prompts) == 300 and deduplicate(prompts)[1] == 0
    assert all(p.near_miss and p.source == "near_miss" and p.expected_content for p in prompts)
    templates = {p.id for p in synthesized_prompts(skill, seed=1, count=1000)}
    assert not templates & {p.id for p in prompts}


SUMS = [
    (r"(\d+) \+ (\d+)|(\d+) plus (\d+)|sum of (\d+) and (\d+)|[Aa]dd (\d+) and (\d+)", lambda a, b: a + b),
    (r"(\d+) \* (\d+)|(\d+) times (\d+)|(\d+) \u00d7 (\d+)|[Mm]ultiply (\d+) by (\d+)", lambda a, b: a * b),
    (r"(\d+) minus (\d+)|(\d+) - (\d+)", lambda a, b: a - b),
]


def test_near_miss_arithmetic_in_the_json_reply_skill_is_computed_right() -> None:
    skill = example("json-reply").document
    assert skill is not None
    checked = 0
    for prompt in near_miss_prompts(skill, seed=5, count=600):
        for pattern, operation in SUMS:
            if match := re.search(pattern, prompt.text):
                a, b = (int(x) for x in match.groups() if x is not None)
                assert prompt.expected_content[0] == str(operation(a, b)), prompt
                checked += 1
                break
    assert checked >= 100


def test_the_skill_framings_reach_the_prompts() -> None:
    skill = example("commit-message").document
    assert skill is not None
    texts = [p.text.casefold() for p in synthesized_prompts(skill, seed=1, count=500)]
    assert any("commit message" in t for t in texts)
    assert any("how should i commit this?" in t for t in texts)
    assert sum("commit" in t for t in texts) < len(texts) / 2  # most prompts just describe the change


def test_zero_prompts_asked_for_zero_given() -> None:
    skill = example("json-reply").document
    assert skill is not None
    assert synthesized_prompts(skill, seed=1, count=0) == [] == near_miss_prompts(skill, seed=1, count=0)


# -- paraphrases -----------------------------------------------------------------------------

ORIGINAL = Prompt(
    text="What is 37 + 58?", source="near_miss", near_miss=True, expected_content=["95"], family="arithmetic"
)


def test_the_paraphrase_instruction_quotes_the_prompt_and_forbids_answering() -> None:
    instruction = paraphrase_instruction(ORIGINAL)
    assert "<<<\nWhat is 37 + 58?\n>>>" in instruction
    assert "Do not answer the request" in instruction and "exactly as written" in instruction


@pytest.mark.parametrize(
    ("reply", "parsed"),
    [
        ("What's 37 plus 58?", "What's 37 plus 58?"),
        ('"Could you add 37 and 58?"', "Could you add 37 and 58?"),
        ("Rewritten request: Add up 37 and 58 for me.", "Add up 37 and 58 for me."),
        ("```\nHow much is 37 plus 58?\n```", "How much is 37 plus 58?"),
        ("Sure, here is a rewritten version: What's 37 plus 58?", None),
        ("Here's the rewritten request: what is 37+58", None),
        ("Certainly! How much is 37 plus 58?", None),
        ("1. What's 37+58?\n2. Add 37 and 58", None),
        ("How much is 37 plus 58?\nIt is 95.", None),
        ("What is 37 + 58?", None),  # the same prompt again
        ("What's 37 plus 59?", None),  # a number changed
        ("", None),
        ("   ", None),
        ("Add 37 and 58. " * 20, None),  # far too long
    ],
)
def test_parse_paraphrase_keeps_paraphrases_and_refuses_garbage(reply: str, parsed: str | None) -> None:
    assert parse_paraphrase(reply, original=ORIGINAL) == parsed


def test_parse_paraphrase_without_the_original_still_refuses_chatter_and_lists() -> None:
    assert parse_paraphrase("How much is 37 plus 58?") == "How much is 37 plus 58?"
    assert parse_paraphrase("Of course! Here it is.") is None
    assert parse_paraphrase("- one way\n- another way") is None
    assert parse_paraphrase("x" * 5000) is None


def test_a_multi_line_prompt_may_have_a_multi_line_paraphrase() -> None:
    notes = "notes:\n- shipped search filters (12 bugs fixed)\n- next: saved searches"
    reply = "my notes:\n- search filters are out, 12 bugs fixed\n- next up: saved searches"
    assert parse_paraphrase(reply, original=notes) == reply
    assert (
        parse_paraphrase("my notes:\n- search filters are out\n- next up: saved searches", original=notes)
        is None
    )


def test_a_paraphrase_keeps_the_checks_but_not_the_reference() -> None:
    original = ORIGINAL.model_copy(update={"reference": '{"answer": "95"}'})
    paraphrase = as_paraphrase(original, "How much is 37 plus 58?")
    assert paraphrase.source == "paraphrase" and paraphrase.near_miss
    assert paraphrase.expected_content == ["95"] and paraphrase.family == "arithmetic"
    assert paraphrase.reference is None and paraphrase.id != original.id
