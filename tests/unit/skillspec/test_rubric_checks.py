"""Deterministic checks: what passes, what fails, and the evidence a person reads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skill_adapter.contracts import (
    BulletListCheck,
    CodeBlockCheck,
    ContainsCheck,
    EndsWithCheck,
    JsonSchemaCheck,
    JudgeCheck,
    LengthCheck,
    MarkdownHeadingsCheck,
    NotContainsCheck,
    NumberedListCheck,
    RegexCheck,
    StartsWithCheck,
    ValidJsonCheck,
)
from skill_adapter.skillspec.rubric.checks import (
    MAX_TEXT_CHARS,
    CheckResult,
    JudgeRequired,
    count_units,
    nested_quantifier,
    run_check,
    sentence_spans,
    validate_check,
)

pytestmark = pytest.mark.unit

FENCE = "```"


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


# --- JSON -----------------------------------------------------------------------------------


def test_valid_json_accepts_json_with_surrounding_whitespace() -> None:
    result = run_check(ValidJsonCheck(), '\n  {"answer": 42}\n')
    assert result == CheckResult(True, 1.0, "reply is valid JSON (object)")
    assert run_check(ValidJsonCheck(), "[1, 2]").evidence == "reply is valid JSON (array)"


def test_valid_json_points_at_the_error() -> None:
    result = run_check(ValidJsonCheck(), '{"answer" 42}')
    assert not result.passed and result.score == 0.0
    assert result.evidence == "JSON error at line 1 column 11: Expecting ':' delimiter"


def test_valid_json_rejects_prose_around_json_and_empty_replies() -> None:
    assert not run_check(ValidJsonCheck(), 'Here you go: {"a": 1}').passed
    assert run_check(ValidJsonCheck(), "   ").evidence == "reply is empty; expected JSON"


def test_valid_json_rejects_nan_and_infinity() -> None:
    result = run_check(ValidJsonCheck(), '{"x": NaN}')
    assert not result.passed
    assert "NaN is not valid JSON" in result.evidence
    assert not run_check(ValidJsonCheck(), "-Infinity").passed


def test_a_code_fence_is_accepted_only_when_allowed() -> None:
    fenced = f'{FENCE}json\n{{"a": 1}}\n{FENCE}'
    refused = run_check(ValidJsonCheck(), fenced)
    assert not refused.passed and "code fence" in refused.evidence
    assert run_check(ValidJsonCheck(allow_code_fence=True), fenced).passed
    assert run_check(ValidJsonCheck(allow_code_fence=True), f'{FENCE}\n{{"a": 1}}\n{FENCE}\n').passed


def test_a_code_fence_must_be_the_whole_reply() -> None:
    check = ValidJsonCheck(allow_code_fence=True)
    assert not run_check(check, f'Sure!\n{FENCE}json\n{{"a": 1}}\n{FENCE}').passed
    assert not run_check(check, f'{FENCE}json\n{{"a": 1}}\n{FENCE}\n{FENCE}json\n{{"b": 2}}\n{FENCE}').passed


def test_deeply_nested_json_fails_instead_of_crashing() -> None:
    result = run_check(ValidJsonCheck(), "[" * 100_000 + "]" * 100_000)
    assert not result.passed
    assert "nested too deeply" in result.evidence


SCHEMA = {
    "type": "object",
    "required": ["title", "tags"],
    "properties": {"title": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
}


def test_json_schema_passes_a_matching_reply() -> None:
    result = run_check(JsonSchemaCheck(json_schema=SCHEMA), '{"title": "x", "tags": ["a"]}')
    assert result == CheckResult(True, 1.0, "reply is JSON that matches the schema")


def test_json_schema_names_the_path_of_the_violation() -> None:
    result = run_check(JsonSchemaCheck(json_schema=SCHEMA), '{"title": "x", "tags": ["a", 3]}')
    assert not result.passed
    assert result.evidence == "JSON Schema violation at $.tags[1]: 3 is not of type 'string'"


def test_json_schema_counts_further_violations() -> None:
    result = run_check(JsonSchemaCheck(json_schema=SCHEMA), '{"title": 1, "tags": 2}')
    assert result.evidence.endswith("(and 1 more)")


def test_json_schema_reports_a_missing_key_and_non_json() -> None:
    assert (
        "'tags' is a required property"
        in run_check(JsonSchemaCheck(json_schema=SCHEMA), '{"title": "x"}').evidence
    )
    assert run_check(JsonSchemaCheck(json_schema=SCHEMA), "title: x").evidence.startswith(
        "JSON error at line 1"
    )


def test_json_schema_checks_formats() -> None:
    check = JsonSchemaCheck(json_schema={"type": "string", "format": "date"})
    assert run_check(check, '"2024-05-01"').passed
    assert not run_check(check, '"yesterday"').passed


def test_json_schema_uses_draft_2020_12() -> None:
    check = JsonSchemaCheck(
        json_schema={"type": "array", "prefixItems": [{"type": "integer"}], "items": False}
    )
    assert run_check(check, "[1]").passed
    assert not run_check(check, "[1, 2]").passed


def test_an_invalid_schema_is_a_problem_at_compile_time() -> None:
    check = JsonSchemaCheck(json_schema={"type": "objekt"})
    (problem,) = validate_check(check)
    assert problem.startswith("invalid JSON Schema at type:")
    with pytest.raises(ValueError, match="invalid JSON Schema"):
        run_check(check, "{}")


def test_an_unresolvable_reference_fails_the_reply_with_evidence() -> None:
    check = JsonSchemaCheck(json_schema={"$ref": "https://example.invalid/schema.json"})
    result = run_check(check, "{}")
    assert not result.passed
    assert "cannot be resolved" in result.evidence


# --- regex ----------------------------------------------------------------------------------


def test_regex_search_reports_what_matched() -> None:
    result = run_check(RegexCheck(pattern=r"[A-Z]+-\d+"), "Fixes PROJ-42 today")
    assert result == CheckResult(True, 1.0, "matched 'PROJ-42' at offset 6")
    assert run_check(RegexCheck(pattern=r"[A-Z]+-\d+"), "no ticket").evidence == r"no match for /[A-Z]+-\d+/"


def test_regex_fullmatch_ignores_surrounding_whitespace() -> None:
    check = RegexCheck(pattern=r"feat: \w+", mode="fullmatch")
    assert run_check(check, "  feat: parser\n").passed
    result = run_check(check, "feat: parser and more")
    assert not result.passed and result.evidence == r"reply does not fully match /feat: \w+/"


def test_regex_flags() -> None:
    assert not run_check(RegexCheck(pattern="^done$"), "step\nDONE").passed
    assert run_check(RegexCheck(pattern="^done$", flags=["IGNORECASE", "MULTILINE"]), "step\nDONE").passed
    assert run_check(RegexCheck(pattern="a.b", flags=["DOTALL"]), "a\nb").passed


def test_regex_examines_a_bounded_prefix_of_the_reply() -> None:
    text = "a" * MAX_TEXT_CHARS + "NEEDLE"
    result = run_check(RegexCheck(pattern="NEEDLE"), text)
    assert not result.passed
    assert f"first {MAX_TEXT_CHARS} characters examined" in result.evidence


def test_invalid_and_catastrophic_regexes_are_problems() -> None:
    assert validate_check(RegexCheck(pattern="(unclosed"))[0].startswith("invalid regex '(unclosed'")
    assert "backtrack catastrophically" in validate_check(RegexCheck(pattern=r"^(\w+\s?)*$"))[0]
    assert validate_check(RegexCheck(pattern=r"^[a-z]+(-[a-z]+){0,3}$")) == []


@pytest.mark.parametrize(
    ("pattern", "nested"),
    [("(a+)+", True), ("(?:a|b*)*", True), ("(?:ab|cd)+e+", False), ("a+b*", False), ("(ab){1,5}+?", False)],
)
def test_nested_quantifier_detection(pattern: str, nested: bool) -> None:
    assert nested_quantifier(pattern) is nested


# --- text -----------------------------------------------------------------------------------


def test_contains_is_case_insensitive_by_default_and_names_the_line() -> None:
    assert run_check(ContainsCheck(text="risk"), "Intro\nRISKS ahead") == CheckResult(
        True, 1.0, "found 'risk' on line 2"
    )
    assert not run_check(ContainsCheck(text="risk", case_sensitive=True), "RISKS").passed
    assert run_check(ContainsCheck(text="risk"), "safe").evidence == "'risk' not found"


def test_not_contains_fails_where_the_text_appears() -> None:
    result = run_check(NotContainsCheck(text="as an AI"), "Well,\nAs an AI model, I think")
    assert result == CheckResult(False, 0.0, "found 'as an AI' on line 2")
    assert run_check(NotContainsCheck(text="as an AI"), "I think so").passed


def test_starts_and_ends_with_ignore_surrounding_whitespace() -> None:
    assert run_check(StartsWithCheck(text="Summary:"), "\n  Summary: all good").passed
    assert run_check(EndsWithCheck(text="Thanks!"), "All good. Thanks!\n\n").passed


def test_starts_with_is_case_sensitive_by_default_and_shows_the_actual_start() -> None:
    result = run_check(StartsWithCheck(text="Summary:"), "summary: all good")
    assert result == CheckResult(False, 0.0, "reply starts with 'summary: all good'; expected 'Summary:'")
    assert run_check(StartsWithCheck(text="Summary:", case_sensitive=False), "summary: ok").passed


def test_ends_with_failure_and_empty_reply() -> None:
    assert run_check(EndsWithCheck(text="Thanks!"), "Thanks! Bye").evidence == (
        "reply ends with 'Thanks! Bye'; expected 'Thanks!'"
    )
    assert (
        run_check(EndsWithCheck(text="Thanks!"), "").evidence
        == "reply is empty; expected it to end with 'Thanks!'"
    )


# --- Markdown -------------------------------------------------------------------------------

REPORT = f"""# Report

## 1. Summary ##
All fine.

## **Risks**:
- one
* two
+ three

{FENCE}markdown
## Hidden heading
- hidden item
{FENCE}

1. first
2) second

---
* * *
"""


def test_headings_are_found_case_insensitively_outside_code() -> None:
    assert (
        run_check(MarkdownHeadingsCheck(headings=["summary", "RISKS"]), REPORT).evidence
        == "all 2 headings present"
    )
    assert not run_check(MarkdownHeadingsCheck(headings=["Hidden heading"]), REPORT).passed


def test_missing_headings_are_named() -> None:
    result = run_check(MarkdownHeadingsCheck(headings=["Summary", "Next steps", "Owners"]), REPORT)
    assert result.evidence == "missing headings 'Next steps', 'Owners'"


def test_heading_level_is_enforced() -> None:
    assert run_check(MarkdownHeadingsCheck(headings=["Report"], level=1), REPORT).passed
    result = run_check(MarkdownHeadingsCheck(headings=["## Summary"], level=1), REPORT)
    assert result.evidence == "missing heading 'Summary' at level 1"


def test_heading_order() -> None:
    assert run_check(MarkdownHeadingsCheck(headings=["Summary", "Risks"], in_order=True), REPORT).passed
    result = run_check(MarkdownHeadingsCheck(headings=["Risks", "Summary"], in_order=True), REPORT)
    assert result.evidence == "heading 'Summary' does not come after 'Risks'"


def test_bullet_items_are_counted_without_code_or_rules() -> None:
    assert run_check(BulletListCheck(min_items=3, max_items=3), REPORT).evidence == "reply has 3 bullet items"
    assert (
        run_check(BulletListCheck(max_items=2), REPORT).evidence
        == "reply has 3 bullet items; at most 2 allowed"
    )
    assert run_check(BulletListCheck(), "**bold** text\n- \n").evidence == (
        "reply has 0 bullet items; at least 1 required"
    )


def test_nested_bullets_count() -> None:
    assert run_check(BulletListCheck(min_items=3), "- a\n  - b\n    - c").passed


def test_no_bullets_allowed() -> None:
    check = BulletListCheck(min_items=0, max_items=0)
    assert run_check(check, "Plain prose.\n\n1. numbered is fine").passed
    assert not run_check(check, "- a bullet").passed


def test_numbered_items_accept_dot_and_parenthesis_but_not_decimals() -> None:
    assert run_check(NumberedListCheck(min_items=2), REPORT).evidence == "reply has 2 numbered items"
    assert run_check(NumberedListCheck(), "Pi is 3.14 and\n3.5 is not a list").evidence == (
        "reply has 0 numbered items; at least 1 required"
    )
    assert not run_check(NumberedListCheck(max_items=1), "1. a\n2. b").passed


def test_code_blocks_with_language_and_aliases() -> None:
    reply = f"Run:\n{FENCE}py\nprint(1)\n{FENCE}\n~~~bash\nls\n~~~\n"
    assert run_check(CodeBlockCheck(language="python"), reply).evidence == "reply has 1 python code block"
    assert run_check(CodeBlockCheck(language="sh"), reply).passed
    assert run_check(CodeBlockCheck(min_blocks=2), reply).evidence == "reply has 2 fenced code blocks"
    missing = run_check(CodeBlockCheck(language="sql"), reply)
    assert missing.evidence == "reply has 0 sql code blocks; at least 1 required (other blocks: python, bash)"


def test_an_unclosed_fence_is_not_a_code_block() -> None:
    assert not run_check(CodeBlockCheck(), f"{FENCE}python\nprint(1)\n").passed
    assert run_check(CodeBlockCheck(), f"````\n{FENCE}\nnested\n{FENCE}\n````").evidence == (
        "reply has 1 fenced code block"
    )


# --- length ---------------------------------------------------------------------------------


def test_length_units() -> None:
    text = "  One two three.\n\nFour five?  \n   \nSix!  "
    assert count_units(text, "words") == 6
    assert count_units(text, "characters") == len(text.strip())
    assert count_units(text, "lines") == 3
    assert count_units(text, "sentences") == 3


def test_sentences_ignore_decimals_and_abbreviations() -> None:
    text = "Pi is 3.14, e.g. in math. Dr. Smith agreed! Use apples, pears, etc. for pies. Done etc. Next one"
    assert sentences(text) == [
        "Pi is 3.14, e.g. in math.",
        "Dr. Smith agreed!",
        "Use apples, pears, etc. for pies.",
        "Done etc.",
        "Next one",
    ]


def test_sentences_end_at_blank_lines_and_closing_quotes() -> None:
    assert sentences('He said "stop." Then left...\n\nA heading\nWhat?! (Yes.) ok') == [
        'He said "stop."',
        "Then left...",
        "A heading\nWhat?!",
        "(Yes.)",
        "ok",
    ]


def test_length_within_bounds_passes_with_full_score() -> None:
    result = run_check(LengthCheck(unit="words", min=2, max=5), "three words here")
    assert result == CheckResult(True, 1.0, "reply has 3 words (between 2 and 5 allowed)")
    assert (
        run_check(LengthCheck(unit="sentences", max=1), "One.").evidence
        == "reply has 1 sentence (at most 1 allowed)"
    )


def test_length_over_the_maximum_falls_linearly_to_zero_at_twice_the_limit() -> None:
    check = LengthCheck(unit="words", max=100)
    over = run_check(check, " ".join(["w"] * 143))
    assert over == CheckResult(False, pytest.approx(0.57), "reply has 143 words; at most 100 allowed")
    assert run_check(check, " ".join(["w"] * 200)).score == 0.0
    assert run_check(check, " ".join(["w"] * 350)).score == 0.0


def test_length_under_the_minimum_scores_the_share_reached() -> None:
    result = run_check(LengthCheck(unit="lines", min=4), "a\nb\n\nc")
    assert result == CheckResult(False, 0.75, "reply has 3 lines; at least 4 required")


def test_length_with_a_zero_maximum() -> None:
    check = LengthCheck(unit="characters", max=0)
    assert run_check(check, "  ").passed
    assert run_check(check, "x").score == 0.0


@given(n=st.integers(min_value=0, max_value=400), limit=st.integers(min_value=1, max_value=200))
def test_length_score_is_monotone_and_passed_is_strict(n: int, limit: int) -> None:
    text = " ".join(["word"] * n)
    result = run_check(LengthCheck(unit="words", max=limit), text)
    assert result.passed is (n <= limit)
    assert 0.0 <= result.score <= 1.0
    assert (result.score == 1.0) is result.passed
    longer = run_check(LengthCheck(unit="words", max=limit), text + " word")
    assert longer.score <= result.score


# --- properties -----------------------------------------------------------------------------

DETERMINISTIC = [
    ValidJsonCheck(allow_code_fence=True),
    JsonSchemaCheck(json_schema=SCHEMA, allow_code_fence=True),
    RegexCheck(pattern=r"\b\w+@\w+\.com\b", flags=["IGNORECASE", "MULTILINE"]),
    RegexCheck(pattern=r"[a-z ]+", mode="fullmatch"),
    ContainsCheck(text="ß"),
    NotContainsCheck(text="İ", case_sensitive=True),
    StartsWithCheck(text="#"),
    EndsWithCheck(text="?", case_sensitive=False),
    MarkdownHeadingsCheck(headings=["A", "B"], level=2, in_order=True),
    BulletListCheck(min_items=2, max_items=4),
    NumberedListCheck(min_items=0, max_items=0),
    CodeBlockCheck(language="python", min_blocks=2),
    LengthCheck(unit="sentences", min=1, max=3),
    LengthCheck(unit="characters", max=10),
]

MARKDOWNISH = st.text(alphabet=st.sampled_from(list('#-*+`~.!?{}[]":,0123456789 \n\tabcAB')), max_size=300)


@settings(max_examples=300)
@given(check=st.sampled_from(DETERMINISTIC), text=st.one_of(st.text(max_size=300), MARKDOWNISH))
def test_run_check_never_raises_on_any_reply(check: object, text: str) -> None:
    result = run_check(check, text)  # type: ignore[arg-type]
    assert isinstance(result.passed, bool)
    assert 0.0 <= result.score <= 1.0
    assert result.evidence


@pytest.mark.parametrize("check", DETERMINISTIC, ids=lambda c: c.kind)
def test_valid_checks_have_no_problems(check: object) -> None:
    assert validate_check(check) == []  # type: ignore[arg-type]


def test_whitespace_only_literals_and_empty_headings_are_problems() -> None:
    assert validate_check(StartsWithCheck(text="  ")) == ["starts_with text is only whitespace"]
    assert validate_check(MarkdownHeadingsCheck(headings=["##"])) == ["a heading is empty"]
    assert validate_check(BulletListCheck(min_items=3, max_items=1)) == ["min_items 3 exceeds max_items 1"]


def test_a_judge_check_is_never_guessed() -> None:
    with pytest.raises(JudgeRequired) as raised:
        run_check(JudgeCheck(instruction="Is the tone friendly?"), "Hello!")
    assert raised.value.instruction == "Is the tone friendly?"
    assert validate_check(JudgeCheck(instruction="Is the tone friendly?")) == []
