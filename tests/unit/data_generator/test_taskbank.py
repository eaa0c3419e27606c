"""Task families: valid tasks, right answers, enough variety, and the right families per skill."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from skill_adapter.data_generator.framings import (
    apply,
    example_lead_ins,
    requested_things,
    skill_framings,
    trigger_phrases,
)
from skill_adapter.data_generator.taskbank import (
    Family,
    all_families,
    choose_families,
    family_scores,
    in_near_miss_lane,
)
from skill_adapter.data_generator.taskbank_facts import FACTS
from skill_adapter.skillspec.analysis import analyze
from skill_adapter.skillspec.bundle import from_directory, to_zip
from skill_adapter.skillspec.document import SkillDocument

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "cli" / "example_skills"
FAMILIES = {f.name: f for f in all_families()}
# Open questions come from lists of subjects; every other family composes slots (hundreds+).
SUBJECTS = {
    "small_talk": 20,
    "comparisons": 25,
    "how_to": 35,
    "definitions": 55,
    "recommendations": 90,
    "format_requests": 180,
}
SLOT = re.compile(r"\{(?:x|task|a|b|n|k|m|c|name|first|full|me|component|feature|topic)\}")
QUESTIONS = {"arithmetic", "unit_conversion", "facts", "unknowable", "definitions", "how_to", "comparisons"}


def example(name: str) -> SkillDocument:
    document = analyze(to_zip(from_directory(EXAMPLES / name), name), name + ".zip").document
    assert document is not None
    return document


def made_up(
    description: str, body: str = "# Skill\n\nDo the thing.\n", name: str = "made-up"
) -> SkillDocument:
    document = analyze(
        f"---\nname: {name}\ndescription: {description}\n---\n{body}".encode(), f"{name}/SKILL.md"
    ).document
    assert document is not None
    return document


def chosen(document: SkillDocument, *, checkable_only: bool = False) -> set[str]:
    return {c.family.name for c in choose_families(document, checkable_only=checkable_only)}


@pytest.mark.parametrize("family", list(FAMILIES.values()), ids=list(FAMILIES))
def test_every_family_draws_valid_varied_tasks(family: Family) -> None:
    rng = random.Random(1)
    tasks = [family.draw(rng) for _ in range(600)]
    assert all(t.text.strip() and t.key for t in tasks)
    assert all(all(e.strip() for e in t.expected) for t in tasks)
    assert any(t.expected for t in tasks) == family.checkable
    keys = {t.key for t in tasks}
    assert len(keys) >= SUBJECTS.get(family.name, 200), f"{family.name}: {len(keys)} subjects"
    assert len({t.text for t in tasks}) >= len(keys) * 0.9  # a key is one request, not one wording


def test_no_unfilled_slots_leak_into_the_tasks() -> None:
    rng = random.Random(2)
    for family in FAMILIES.values():
        for _ in range(300):
            text = family.draw(rng).text
            assert not SLOT.search(text), (family.name, text)


def solve(text: str) -> Fraction | None:
    """An independent solver for the arithmetic questions' wordings."""
    n = [Fraction(x) for x in re.findall(r"\d+", text)]
    if re.search(r"square root|\u221a", text):
        root = math.isqrt(int(n[0]))
        return Fraction(root) if root * root == n[0] else None
    rules: list[tuple[str, Callable[[], Fraction]]] = [
        (r"squared|power of 2|\u00b2", lambda: n[0] ** 2),
        (r"%|percent", lambda: n[0] * n[1] / 100),
        (r"subtract", lambda: n[1] - n[0]),
        (r" - | minus | take away |difference", lambda: n[0] - n[1]),
        (r"go into", lambda: n[1] / n[0]),
        (r"\+| plus |\badd |sum of", lambda: n[0] + n[1]),
        (r"divided by|/|\u00f7|divide ", lambda: n[0] / n[1]),
        (r"\*| times |\u00d7| x |multiply|product", lambda: n[0] * n[1]),
    ]
    for pattern, rule in rules:
        if re.search(pattern, text, re.I):
            return rule()
    return None


UNITS = {
    ("kilometers", "meters"): 1000, ("meters", "centimeters"): 100, ("centimeters", "millimeters"): 10,
    ("kilograms", "grams"): 1000, ("hours", "minutes"): 60, ("minutes", "seconds"): 60, ("days", "hours"): 24,
    ("weeks", "days"): 7, ("liters", "milliliters"): 1000, ("years", "months"): 12, ("feet", "inches"): 12,
    ("yards", "feet"): 3, ("pounds", "ounces"): 16, ("gallons", "quarts"): 4, ("dozen", "eggs"): 12,
}  # fmt: skip
WORDINGS = [  # (pattern, which groups are number, from-unit, to-unit)
    (r"How many (\w+) are in (\d+) (\w+)\?", (2, 3, 1)),
    (r"Convert (\d+) (\w+) to (\w+)\.", (1, 2, 3)),
    (r"(\d+) (\w+) is how many (\w+)\?", (1, 2, 3)),
    (r"What is (\d+) (\w+) in (\w+)\?", (1, 2, 3)),
    (r"How many (\w+) is (\d+) (\w+)\?", (2, 3, 1)),
    (r"(\d+) (\w+) equals how many (\w+)\?", (1, 2, 3)),
]


def convert(text: str) -> Fraction | None:
    """An independent solver for the conversion questions' wordings, with its own unit table."""
    if celsius := re.search(r"(-?\d+) ?\u00b0C|(-?\d+) degrees Celsius", text):
        return Fraction(celsius.group(1) or celsius.group(2)) * 9 / 5 + 32
    if fahrenheit := re.search(r"(-?\d+) ?\u00b0F|(-?\d+) degrees Fahrenheit", text):
        return (Fraction(fahrenheit.group(1) or fahrenheit.group(2)) - 32) * 5 / 9
    for pattern, (number, source, target) in WORDINGS:
        if match := re.fullmatch(pattern, text):
            value, units = Fraction(match.group(number)), (match.group(source), match.group(target))
            if units in UNITS:
                return value * UNITS[units]
            if units[::-1] in UNITS:
                return value / UNITS[units[::-1]]
    return None


def test_arithmetic_answers_are_right() -> None:
    rng = random.Random(3)
    checked = 0
    for _ in range(3000):
        task = FAMILIES["arithmetic"].draw(rng)
        answer = solve(task.text) if not task.key.startswith("word:") else None
        if answer is None:
            continue
        assert answer.denominator == 1, task
        assert task.expected[0] == str(answer.numerator), task
        checked += 1
    assert checked > 2000


def test_word_problem_answers_are_right() -> None:
    rng = random.Random(4)
    for _ in range(500):
        task = FAMILIES["arithmetic"].draw(rng)
        if not task.key.startswith("word:"):
            continue
        a, b, *_ = (int(x) for x in re.findall(r"\d+", task.text))
        answer = int(task.expected[0])
        if "more" in task.text or ("in " in task.text and "years" in task.text):
            assert answer == a + b
        elif "away" in task.text:
            assert answer == a - b
        elif "shared equally" in task.text:
            assert answer * b == a
        else:
            assert answer == a * b, task


def test_conversion_answers_are_right() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        task = FAMILIES["unit_conversion"].draw(rng)
        answer = convert(task.text)
        assert answer is not None and answer.denominator == 1, task
        assert task.expected[0] == str(answer.numerator), task


def test_facts_are_unique_and_spot_checks_hold() -> None:
    keys = [key for key, _, _ in FACTS]
    assert len(keys) == len(set(keys)) and len(keys) > 250
    table = {key: expected for key, _, expected in FACTS}
    assert table["capital:peru"] == ("Lima",)
    assert table["capital:australia"] == ("Canberra",)
    assert table["symbol:au"] == ("gold",)
    assert table["year:the berlin wall fall"] == ("1989",)
    assert table["sides:hexagon"] == ("6", "six")
    assert all(wordings and expected for _, wordings, expected in FACTS)


@pytest.mark.parametrize(
    "family",
    [
        f
        for f in FAMILIES.values()
        if f.checkable and f.name not in {"arithmetic", "unit_conversion", "facts"}
    ],
    ids=lambda f: f.name,
)
def test_kept_content_is_in_the_request_itself(family: Family) -> None:
    """Outside computed answers, the expected content is a detail the request states."""
    rng = random.Random(6)
    for _ in range(400):
        task = family.draw(rng)
        if task.expected:
            assert any(e.casefold() in task.text.casefold() for e in task.expected), task


def test_json_reply_gets_general_questions() -> None:
    names = chosen(example("json-reply"))
    assert QUESTIONS <= names
    assert not names & {"code_change", "diff", "project_notes", "emails"}
    assert chosen(example("json-reply"), checkable_only=True) <= {"arithmetic", "unit_conversion", "facts"}


def test_commit_message_gets_code_changes_and_diffs_only() -> None:
    assert chosen(example("commit-message")) == {"code_change", "diff"}


def test_status_report_gets_notes() -> None:
    names = chosen(example("status-report"))
    assert {"project_notes", "standup_log", "chat_excerpt"} <= names
    assert not names & QUESTIONS


def test_a_skill_that_matches_nothing_gets_general_questions() -> None:
    document = made_up("Speaks like a pirate captain at all times.")
    assert chosen(document) == {f.name for f in FAMILIES.values() if f.fallback}
    assert max(family_scores(document).values()) < 3
    assert chosen(document, checkable_only=True) == {"arithmetic", "unit_conversion", "facts"}


def test_a_thin_match_is_topped_up_with_general_questions() -> None:
    names = chosen(made_up("Always replies with a haiku of three lines.", name="haiku"))
    assert "format_requests" in names and QUESTIONS - {"unknowable"} <= names


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        (
            "Rewrites a pasted email draft so it is polite and concise. Use when the user pastes an email draft.",
            {"email_drafts"},
        ),
        (
            "Summarises an article in three bullets. Use when the user asks for a summary or a TL;DR.",
            {"summarise_text"},
        ),
        (
            "Adds Google-style docstrings to Python functions. Use when the user pastes a function.",
            {"code_snippet"},
        ),
        ("Turns meeting notes into minutes with decisions and action items.", {"meeting_notes"}),
    ],
)
def test_made_up_skills_get_their_domain(description: str, expected: set[str]) -> None:
    assert expected <= chosen(made_up(description))


def test_shares_sum_to_one() -> None:
    for document in (
        example("json-reply"),
        example("commit-message"),
        made_up("Does nothing in particular."),
    ):
        for checkable_only in (False, True):
            shares = [c.share for c in choose_families(document, checkable_only=checkable_only)]
            assert shares and abs(sum(shares) - 1) < 1e-9


def test_framings_come_from_the_skill_itself() -> None:
    commit = example("commit-message")
    assert trigger_phrases(commit) == ["write a commit message for this", "how should I commit this?"]
    assert requested_things(commit) == ["commit message"]
    status = example("status-report")
    assert requested_things(status) == [
        "status update",
        "weekly report",
        "stand-up summary",
        "project update",
    ]
    assert example_lead_ins(status) == ["notes for the week"]
    json_reply = skill_framings(example("json-reply"))
    assert "Reply in JSON: {task}" in json_reply.inline and "{task} For my script." in json_reply.inline
    assert skill_framings(made_up("Does nothing in particular.")).inline == ()


def test_apply_keeps_braces_and_punctuates() -> None:
    assert apply("Reply in JSON: {task}", 'Is {"a": 1} valid?') == 'Reply in JSON: Is {"a": 1} valid?'
    assert (
        apply("{task} Commit message please.", "I added CSV import")
        == "I added CSV import. Commit message please."
    )
    assert apply("Hey, {task}", "What is 2 + 2?") == "Hey, what is 2 + 2?"
    assert apply("Hey, {task}", "I added a flag") == "Hey, I added a flag"
    diff = "--- a/x\n+++ b/x\n-a\n+b"
    assert apply("{task}\n\nWhat changed?", diff) == diff + "\n\nWhat changed?"


def test_near_miss_lane_share() -> None:
    share = sum(in_near_miss_lane(f"capital:{i}") for i in range(3000)) / 3000
    assert 0.28 < share < 0.38
