"""The output grammar means what the rubric's checks mean: every full-match regex, no "never" text.

llguidance (the local engine's constrained decoding, and vLLM's ``guidance`` backend) compiles
the grammar; the rubric grades with Python's ``re``. Both read the same replies here, the
example skills' expected outputs and replies generated from the first regex, through the
byte-level tokenizer of the tiny test models (every byte one token).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skill_adapter.contracts import NotContainsCheck, RegexCheck
from skill_adapter.skillspec.rubric.compiler import output_constraint
from skill_adapter.skillspec.rubric.guidance import lark_grammar, portable
from tests.unit.skillspec.test_rubric_compiler import criterion
from tests.unit.skillspec.test_rubric_example_skills import compiled, good_answers

llguidance = pytest.importorskip("llguidance", reason="grammars are compiled by llguidance (the local extra)")
pytest.importorskip("transformers")

from skill_adapter.modelstore.tiny import byte_level_tokenizer  # noqa: E402

pytestmark = pytest.mark.unit

_TOKENIZER: list[Any] = []


def _tokenizer() -> tuple[Any, Any]:
    if not _TOKENIZER:
        import llguidance.hf

        hf = byte_level_tokenizer()
        _TOKENIZER.extend([hf, llguidance.hf.from_tokenizer(hf, n_vocab=len(hf), eos_token=2)])
    return _TOKENIZER[0], _TOKENIZER[1]


def accepts(grammar: str, text: str) -> bool:
    """Whether llguidance lets a model write exactly ``text`` and stop."""
    hf, tokenizer = _tokenizer()
    matcher = llguidance.LLMatcher(tokenizer, llguidance.grammar_from("grammar", grammar), log_level=0)
    assert not matcher.is_error(), matcher.get_error()
    for token in hf.encode(text, add_special_tokens=False):
        if not matcher.consume_token(token):
            return False
    return bool(matcher.is_accepting())


def by_id(name: str) -> dict[str, Any]:
    return {c.id: c.check for c in compiled(name)[0].criteria}


@pytest.mark.parametrize("name", ["commit-message", "status-report"])
def test_the_example_skills_get_a_grammar_that_their_own_answers_follow(name: str) -> None:
    constraint = compiled(name)[0].output_constraint
    assert constraint is not None and constraint.kind == "regex" and constraint.grammar is not None
    assert "rubric.no-code-fence" in constraint.criteria
    for eval_id, answer in good_answers(name):
        assert accepts(constraint.grammar, answer.strip()), f"eval {eval_id}"


def test_the_commit_grammar_holds_what_the_shape_regex_alone_let_through() -> None:
    constraint = compiled("commit-message")[0].output_constraint
    assert constraint is not None and constraint.grammar is not None
    shape = re.compile(constraint.regex or "")
    long_subject = "feat(user-api): add " + "a" * 60  # 80 characters: the shape allows it
    fenced = "fix(export): quote csv cells\n\nSee ```code``` below"
    good = "fix(export): quote csv cells\n\nCells with newlines were split."
    for text in (long_subject, fenced, good):
        assert shape.fullmatch(text)
    assert not accepts(constraint.grammar, long_subject)
    assert not accepts(constraint.grammar, fenced)
    assert accepts(constraint.grammar, good)
    assert constraint.criteria[:2] == ["rubric.message-shape", "rubric.lines-max-72"]


# Replies drawn from the first regex, some then broken: the grammar accepts exactly those the
# Python checks accept.
SHAPE = r"(feat|fix|docs)(\([a-z/-]{1,12}\))?!?: [a-z][^\n]{0,80}(\n\n[^\n]{1,90}){0,2}"
WIDTH = r"(?:[^\n]{0,40}\n)*[^\n]{0,40}"
NEVER = [NotContainsCheck(text="```"), NotContainsCheck(text="TODO", case_sensitive=True)]
GRAMMAR = lark_grammar(
    [RegexCheck(pattern=SHAPE, mode="fullmatch"), RegexCheck(pattern=WIDTH, mode="fullmatch")], NEVER
)


def python_checks(text: str) -> bool:
    return bool(
        re.fullmatch(SHAPE, text)
        and re.fullmatch(WIDTH, text)
        and "```" not in text.casefold()
        and "TODO" not in text
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.from_regex(
        SHAPE,
        fullmatch=True,
        alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]) | st.just("\n"),
    ),
    st.sampled_from(["", "```", "TODO", "todo", "/", "\n"]),
    st.integers(min_value=0, max_value=200),
)
def test_grammar_and_checks_agree(text: str, insert: str, at: int) -> None:
    reply = text[: at % (len(text) + 1)] + insert + text[at % (len(text) + 1) :]
    assert accepts(GRAMMAR, reply) == python_checks(reply), repr(reply)


def test_only_portable_regexes_join_the_grammar() -> None:
    shape = criterion("rubric.shape", RegexCheck(pattern="[a-z]+( [a-z]+)*", mode="fullmatch"))
    lookahead = criterion("rubric.look", RegexCheck(pattern="(?!no)[a-z ]+", mode="fullmatch"))
    anchored = criterion("rubric.end", RegexCheck(pattern="[a-z ]+$", mode="fullmatch"))
    alone = output_constraint([shape, lookahead, anchored])
    assert alone is not None and alone.grammar is None and alone.criteria == ["rubric.shape"]
    width = criterion("rubric.width", RegexCheck(pattern=".{1,20}", mode="fullmatch"))
    both = output_constraint([shape, lookahead, width])
    assert both is not None and both.regex == shape.check.pattern
    assert both.criteria == ["rubric.shape", "rubric.width"]
    assert both.grammar == "start: REPLY\nREPLY: /[a-z]+( [a-z]+)*/ & /.{1,20}/"
    first_not_portable = output_constraint([lookahead, width])
    assert first_not_portable is not None and first_not_portable.grammar is None
    assert first_not_portable.regex == lookahead.check.pattern
    assert not portable("(unclosed")


def test_slashes_and_line_breaks_are_escaped_for_lark() -> None:
    grammar = lark_grammar(
        [RegexCheck(pattern="a/b\nc\\/d", mode="fullmatch")],
        [NotContainsCheck(text="x/y", case_sensitive=True)],
    )
    assert grammar == "start: REPLY\nREPLY: /a\\/b\\nc\\/d/ & ~/(?s:.*)x\\/y(?s:.*)/"
    assert accepts(grammar, "a/b\nc/d")
    assert not accepts(grammar, "a/b\nc/dx")
