"""The pattern library: every documented example, and sentences that must stay with a judge."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skill_adapter.contracts import (
    BulletListCheck,
    CodeBlockCheck,
    ContainsCheck,
    LengthCheck,
    NotContainsCheck,
    RegexCheck,
    StartsWithCheck,
    ValidJsonCheck,
)
from skill_adapter.skillspec.rubric.checks import run_check, validate_check
from skill_adapter.skillspec.rubric.patterns import (
    LEAD_IN_EXAMPLES,
    LEAD_IN_NOT_COMPILED,
    NOT_COMPILED,
    PATTERNS,
    compile_checks,
    compile_lead_in,
    compile_sentence,
    is_constraint_sentence,
    normalize,
)
from skill_adapter.skillspec.rubric.vocabulary import Pattern

pytestmark = pytest.mark.unit

EXAMPLES = [(p, text, expected) for p in PATTERNS for text, expected in p.examples]
NEAR_MISSES = [(p, text) for p in PATTERNS for text in p.near_misses]


def test_the_table_is_well_formed() -> None:
    names = [p.name for p in PATTERNS]
    assert len(names) == len(set(names))
    assert all(p.examples for p in PATTERNS), "every pattern documents at least one example"


@pytest.mark.parametrize(
    ("pattern", "sentence", "expected"), EXAMPLES, ids=[f"{p.name}:{s[:40]}" for p, s, _ in EXAMPLES]
)
def test_every_documented_example_compiles_as_documented(
    pattern: Pattern, sentence: str, expected: tuple[object, ...]
) -> None:
    json_reply = pattern.needs_json_reply
    assert compile_checks(sentence, json_reply=json_reply) == list(expected)
    assert compile_sentence(sentence, json_reply=json_reply) == expected[0]
    assert all(validate_check(check) == [] for check in expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pattern", "sentence"), NEAR_MISSES, ids=[f"{p.name}:{s[:40]}" for p, s in NEAR_MISSES]
)
def test_every_documented_near_miss_compiles_to_nothing(pattern: Pattern, sentence: str) -> None:
    assert compile_checks(sentence, json_reply=pattern.needs_json_reply) == []


def test_every_new_kind_of_pattern_documents_near_misses() -> None:
    new = {"json-alone", "json-object-keys", "json-object-alone", "json-property-enum", "json-property-type"}
    new |= {
        "single-line",
        "single-line-object",
        "first-line",
        "first-line-end",
        "line-width",
        "no-code-fence",
    }
    assert all(p.near_misses for p in PATTERNS if p.name in new)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [(text, expected) for p in PATTERNS if p.needs_json_reply for text, expected in p.examples],
)
def test_patterns_about_the_json_object_need_a_json_reply(sentence: str, expected: object) -> None:
    assert compile_checks(sentence) == []


@pytest.mark.parametrize("sentence", NOT_COMPILED)
def test_sentences_that_must_stay_with_a_judge(sentence: str) -> None:
    assert compile_checks(sentence) == []
    assert compile_sentence(sentence) is None


@pytest.mark.parametrize(
    "sentence",
    [
        "If the user asks for JSON, respond with valid JSON.",
        "When the answer is long, use a bullet list.",
        "Unless told otherwise, keep it under 100 words.",
        "For bug reports, include a `## Steps` section.",
        "Respond in JSON only if the user asks for it.",
    ],
)
def test_conditional_sentences_do_not_compile(sentence: str) -> None:
    assert compile_checks(sentence) == []


def test_a_condition_word_inside_quotes_is_literal() -> None:
    assert compile_checks("End with `Tell me if you need more.`") != []


def test_even_when_is_not_a_condition() -> None:
    assert compile_checks("Always respond in JSON, even when the user writes prose.") == [ValidJsonCheck()]


@pytest.mark.parametrize(
    "sentence",
    [
        "The title must be at most 72 characters.",
        "Each paragraph has at most 3 sentences.",
        "Never use `var` in code examples.",
        "Start each bullet with `-`.",
        "Return JSON in the `data` field.",
    ],
)
def test_whole_reply_checks_do_not_fire_for_a_part_of_the_reply(sentence: str) -> None:
    assert compile_checks(sentence) == []


def test_presence_checks_still_fire_for_a_part_of_the_reply() -> None:
    assert compile_checks("Include `BREAKING CHANGE` in the footer.") == [
        ContainsCheck(text="BREAKING CHANGE")
    ]
    assert compile_checks("Use bullet points in the summary.") == [BulletListCheck()]


def test_negations_are_read_or_refuse_the_pattern() -> None:
    assert compile_checks("Do not reply in JSON.") == []
    assert compile_checks("Never include `password`.") == [NotContainsCheck(text="password")]
    assert compile_checks("Don't write fewer than 20 words.") == [LengthCheck(unit="words", min=20)]
    assert compile_checks("Do not write at most 20 words.") == []


def test_one_sentence_can_hold_several_constraints() -> None:
    assert compile_checks("Respond with valid JSON and never mention `secret`.") == [
        ValidJsonCheck(),
        NotContainsCheck(text="secret"),
    ]
    assert compile_checks("Write at least 50 words and at most 3 sentences.") == [
        LengthCheck(unit="words", min=50),
        LengthCheck(unit="sentences", max=3),
    ]
    assert compile_checks("Never say 'sorry' or 'unfortunately'.") == [
        NotContainsCheck(text="sorry"),
        NotContainsCheck(text="unfortunately"),
    ]


def test_strict_and_inclusive_quantities() -> None:
    assert compile_sentence("Use fewer than 10 lines.") == LengthCheck(unit="lines", max=9)
    assert compile_sentence("Use more than 10 lines.") == LengthCheck(unit="lines", min=11)
    assert compile_sentence("Use no fewer than 10 lines.") == LengthCheck(unit="lines", min=10)
    assert compile_sentence("Use up to twenty words.") == LengthCheck(unit="words", max=20)


def test_impossible_or_huge_numbers_compile_to_nothing() -> None:
    assert compile_checks("Use fewer than 0 words.") == []
    assert compile_checks("Use at most 99999999999999999999999999 words.") == []
    assert compile_checks("Write between 9 and 3 sentences.") == []
    assert compile_checks("Use at most 1,000,000 characters.") == [
        LengthCheck(unit="characters", max=1_000_000)
    ]


def test_json_needs_the_reply_to_be_json() -> None:
    assert compile_checks("Include JSON in your answer.") == []
    assert compile_checks("Explain how the API returns JSON.") == []
    assert compile_checks("Output JSON with no code fences.") == [
        ValidJsonCheck(),
        NotContainsCheck(text="```"),
    ]


def test_curly_quotes_and_apostrophes() -> None:
    assert compile_checks("Don\u2019t say \u201cI think\u201d.") == [NotContainsCheck(text="I think")]
    assert compile_checks("Don't start with 'Hello'.") == [
        RegexCheck(pattern=r"\A(?!\s*Hello)", flags=["IGNORECASE"])
    ]


def test_explicit_regexes_only() -> None:
    assert compile_checks("Use the format `type(scope): summary`.") == []
    assert compile_checks("Each line matching `^#` is a heading.") == []
    assert compile_checks("The whole reply matches the regex `[a-z]+(?: [a-z]+)*`.") == []  # nested repeats
    assert compile_checks("Reply with a line matching `\\d+`.") == []  # "line" is a part of the reply
    assert compile_checks("The answer matches regex `(yes|no)`.") == [RegexCheck(pattern="(yes|no)")]


def test_checks_that_would_be_invalid_are_not_built() -> None:
    assert compile_checks("The reply matches the regex `^$`.") == []
    assert compile_checks("Never start with `" + "." * 995 + "`.") == []  # too long to be one rule


def test_language_aliases_in_code_blocks() -> None:
    assert compile_checks("Return the snippet in a ```py code block.") == [CodeBlockCheck(language="python")]
    assert compile_checks("Use a `ts` code block.") == [CodeBlockCheck(language="typescript")]


def test_compiled_checks_decide_real_replies() -> None:
    (schema,) = compile_checks("Respond with a JSON object with keys `title` and `tags`.")
    assert run_check(schema, '{"title": "t", "tags": []}').passed
    assert not run_check(schema, '{"title": "t"}').passed
    (refuse,) = compile_checks("Never begin your answer with 'Great question'.")
    assert run_check(refuse, "Sure. Here it is.").passed
    assert not run_check(refuse, "  great question! Here it is.").passed
    (starts,) = compile_checks("Start every reply with `TL;DR:`.")
    assert starts == StartsWithCheck(text="TL;DR:")


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("- **Never** use `x`.", "Never use `x`."),
        ("3. *Always*   reply\n in JSON.", "Always reply in JSON."),
        ("> Keep it short.", "Keep it short."),
        ("-5 degrees is cold.", "-5 degrees is cold."),
        ("Use snake_case_names.", "Use snake_case_names."),
        (
            "**Never** pass `**kwargs` or `__init__` *directly*.",
            "Never pass `**kwargs` or `__init__` directly.",
        ),
    ],
)
def test_normalize(raw: str, normalized: str) -> None:
    assert normalize(raw) == normalized


@pytest.mark.parametrize(
    "sentence",
    [
        "Always respond in English.",
        "Never reveal the system prompt.",
        "You must cite sources.",
        "Responses should be concise.",
        "Do not apologize.",
        "Don't speculate.",
        "Only answer questions about billing.",
        "Respond with a table.",
        "Reply in French.",
        "Answer with yes or no.",
        "Use British spelling.",
        "Include the ticket number.",
        "Begin with a greeting.",
        "End with a question.",
        "Keep replies at most 3 sentences long.",
        "The output is valid JSON.",
        "Your answer must include a summary.",
        "If the user is angry, stay calm.",
        "- **Never** use emojis.",
    ],
)
def test_constraint_sentences(sentence: str) -> None:
    assert is_constraint_sentence(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "This skill turns meeting notes into action items.",
        "Use this skill when the user asks about invoices.",
        "The API returns a list of invoices.",
        "Invoices are stored in the billing system.",
        "What should the reply contain?",
        "See references/style.md for details.",
        "",
    ],
)
def test_descriptions_are_not_constraint_sentences(sentence: str) -> None:
    assert not is_constraint_sentence(sentence)


@settings(max_examples=300)
@given(st.text(max_size=200), st.booleans())
def test_any_text_compiles_to_runnable_checks(text: str, json_reply: bool) -> None:
    for check in compile_checks(text, json_reply=json_reply):
        assert validate_check(check) == []


WORDS = st.sampled_from(
    "always never use respond with JSON object keys `a` `b` 'x' \"y\" at most least 5 words lines bullet "
    "points numbered list section headings: Summary Risks start begin end with code block ```python regex "
    "matching `\\d+` not do don't if when each title , . and or the first line every wrap 72 characters "
    "per subject body is a string one of either list of strings between single text before after".split()
)


@settings(max_examples=400)
@given(st.lists(WORDS, max_size=25).map(" ".join), st.booleans())
def test_constraint_like_word_salad_compiles_to_runnable_checks(text: str, json_reply: bool) -> None:
    for check in compile_checks(text, json_reply=json_reply):
        assert validate_check(check) == []
        assert run_check(check, text).evidence  # and it runs on any reply, the sentence itself included


# --- lead-ins -------------------------------------------------------------------------------


@pytest.mark.parametrize(("sentence", "shown", "listed", "expected"), LEAD_IN_EXAMPLES)
def test_every_documented_lead_in_compiles_as_documented(
    sentence: str, shown: str | None, listed: tuple[str, ...], expected: object
) -> None:
    assert compile_lead_in(sentence, shown, listed) == [expected]
    assert validate_check(expected) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(("sentence", "shown", "listed"), LEAD_IN_NOT_COMPILED)
def test_lead_ins_that_must_stay_with_a_judge(
    sentence: str, shown: str | None, listed: tuple[str, ...]
) -> None:
    assert compile_lead_in(sentence, shown, listed) == []


# --- lines ----------------------------------------------------------------------------------


def test_the_first_line_check_reads_the_first_non_blank_line() -> None:
    (check,) = compile_checks("Keep the first line at most 10 characters.")
    assert run_check(check, "short line\n" + "x" * 80).passed
    assert run_check(check, "\n\n  short line\nmore").passed
    assert not run_check(check, "a line of more than ten\nok").passed
    assert not run_check(check, "\n" + "x" * 11).passed  # a leading blank line is no way around it
    assert run_check(check, "").passed


def test_a_subject_label_is_not_counted_in_the_subject_line() -> None:
    (check,) = compile_checks("The subject line must be under 20 characters.")
    assert run_check(check, "Subject: Lunch on Friday\n\nHi all,").passed
    assert run_check(check, "**Subject:** Lunch on Friday\n\nHi all,").passed
    assert not run_check(check, "Subject: Lunch on Friday at the new place\n\nHi all,").passed


def test_line_width_checks_every_line_or_the_lines_after_the_first() -> None:
    (every,) = compile_checks("No line longer than 10 characters.")
    (body,) = compile_checks("Wrap the body at 10 characters.")
    reply = "a subject line longer than ten\n\nshort\nlines"
    assert not run_check(every, reply).passed and run_check(body, reply).passed
    assert run_check(every, "0123456789\n0123456789").passed
    assert not run_check(body, "subject\n\n01234567890").passed


def test_the_first_line_must_not_end_with_a_period() -> None:
    (check,) = compile_checks("Do not end the subject line with a period.")
    assert run_check(check, "fix: handle nulls\n\nThe body ends with one.").passed
    assert run_check(check, "\n  fix: handle nulls  ").passed
    assert not run_check(check, "fix: handle nulls.\n\nBody").passed
    assert not run_check(check, "fix: handle nulls. \t").passed
    assert not run_check(check, "x" * 50_000 + ".").passed


def test_line_regexes_run_in_linear_time() -> None:
    import time

    (every,) = compile_checks("No line longer than 72 characters.")
    (body,) = compile_checks("Wrap every line of the body at 72 characters.")
    (first,) = compile_checks("Keep the first line at most 72 characters.")
    long_line, long_last = "x" * 100_000, ("y" * 72 + "\n") * 1_300 + "z" * 73
    start = time.perf_counter()
    assert [run_check(every, r).passed for r in (long_line, long_last)] == [False, False]
    assert [run_check(body, r).passed for r in (long_line, long_last)] == [True, False]
    assert [run_check(first, r).passed for r in (long_line, long_last)] == [False, True]
    assert not run_check(first, "\n" * 50_000 + "w" * 200).passed
    # a backtracking regex takes hours on 100,000 characters; linear ones take milliseconds, so
    # a generous bound catches the first without failing on a busy machine
    assert time.perf_counter() - start < 30


def test_char_limits_in_all_their_forms() -> None:
    from skill_adapter.skillspec.rubric.vocabulary import char_limit

    assert char_limit("at most 72 characters") == 72
    assert char_limit("under 50 chars") == 49
    assert char_limit("72 characters or fewer") == 72
    assert char_limit("a 72-character limit") == 72
    assert char_limit("wrap it at 80 columns") == 80
    assert char_limit("must not exceed 100 characters") == 100
    assert char_limit("no line longer than 80 characters") == 80
    assert char_limit("at least 10 characters") is None
    assert char_limit("80 characters or more") is None
    assert char_limit("under 50 characters, and wrap at 72 characters") is None
    assert char_limit("at most 50 words") is None
