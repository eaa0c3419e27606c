"""The rubric compiler on a realistic skill: sources, provenance, dedupe, diagnostics."""

from __future__ import annotations

import json
import textwrap

import pytest

from skill_adapter.contracts import (
    BulletListCheck,
    ContainsCheck,
    Criterion,
    JsonSchemaCheck,
    JudgeCheck,
    LengthCheck,
    MarkdownHeadingsCheck,
    NotContainsCheck,
    RegexCheck,
    Rubric,
    ValidJsonCheck,
)
from skill_adapter.skillspec.document import Bundle, SkillDocument
from skill_adapter.skillspec.evals import EVALS_PATH, load_evals
from skill_adapter.skillspec.rubric.compiler import body_sentences, compile_rubric, output_constraint
from skill_adapter.skillspec.rubric.grading import grade

from .builders import criterion

pytestmark = pytest.mark.unit

FENCE = "```"

SKILL_MD = textwrap.dedent(
    f"""\
    ---
    name: release-notes
    description: Writes release notes as JSON. Use when the user asks for release notes.
    ---
    # Release notes

    Use this skill when the user asks for release notes or a changelog.

    ## Rules

    - Respond with a JSON object with keys `version`, `highlights` and `breaking`.
    - Keep the reply under 200 words.
    - Never mention `internal-only`. Be friendly but brief.
    - Write in a confident tone,
      without hedging words.

    When the user asks for a migration guide:

    - Include a `## Steps` section.

    {FENCE}json
    {{"version": "1.2.0", "highlights": ["Never use this line"], "breaking": []}}
    {FENCE}

    | rule | why |
    | --- | --- |
    | Never use tables | tables are not rules |

    <!-- Always include the word `hidden`. -->

    ## Examples

    Respond with YAML here; this is only an example.

    ### More examples

    Never say "example".

    ## Style

    Always include the phrase `Thanks for upgrading`.
    Do not use bullet points.
    """
)

EVALS = {
    "skill_name": "release-notes",
    "evals": [
        {
            "id": 1,
            "prompt": "Release notes for 1.2",
            "assertions": [
                "The output is valid JSON",
                "The reply has at most 50 words",
                "Mentions the new export API",
            ],
        },
        {
            "id": "Case B",
            "prompt": "Release notes for 2.0",
            "expectations": [
                "Does not contain 'internal-only'",
                "The output includes 'BREAKING' and 'migration'",
            ],
        },
    ],
}

RUBRIC_YAML = textwrap.dedent(
    """\
    criteria:
      - id: has-version
        description: The JSON names the version
        check:
          kind: json_schema
          json_schema: {type: object, required: [version]}
      - id: short
        description: Under 200 words
        weight: 2
        check: {kind: length, unit: words, max: 199}
    """
)


def document(skill_md: str) -> SkillDocument:
    """What the SKILL.md parser gives: the body and the line it starts on."""
    lines = skill_md.split("\n")
    closing = lines.index("---", 1)
    return SkillDocument(
        name="release-notes",
        description="Writes release notes.",
        body="\n".join(lines[closing + 1 :]),
        body_line=closing + 2,
    )


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def bundle(
    skill_md: str = SKILL_MD, evals: dict | None = EVALS, rubric_yaml: str | None = RUBRIC_YAML
) -> Bundle:
    files = {"SKILL.md": skill_md.encode()}
    if evals is not None:
        files[EVALS_PATH] = json.dumps(evals, indent=2).encode()
    if rubric_yaml is not None:
        files["evals/rubric.yaml"] = rubric_yaml.encode()
    return Bundle(files=files, folder="release-notes")


def compile_all(
    skill_md: str = SKILL_MD, evals: dict | None = EVALS, rubric_yaml: str | None = RUBRIC_YAML
) -> tuple[Rubric, list]:
    files = bundle(skill_md, evals, rubric_yaml)
    eval_set, problems = load_evals(files)
    assert problems == []
    return compile_rubric(document(skill_md), files, "v1", eval_set)


def by_id(rubric: Rubric) -> dict[str, Criterion]:
    return {c.id: c for c in rubric.criteria}


# --- the whole skill ------------------------------------------------------------------------


def test_the_realistic_skill_compiles_in_trust_order() -> None:
    rubric, diagnostics = compile_all()
    assert diagnostics == []
    assert rubric.skill_name == "release-notes" and rubric.skill_version == "v1"
    body = SKILL_MD
    assert [(c.id, c.check.kind, c.eval_id) for c in rubric.criteria] == [
        ("rubric.has-version", "json_schema", None),
        ("rubric.short", "length", None),
        ("evals.1.1", "valid_json", "1"),
        ("evals.1.2", "length", "1"),
        ("evals.1.3", "judge", "1"),
        ("evals.case-b.2.contains", "contains", "Case B"),
        ("evals.case-b.2.contains-2", "contains", "Case B"),
        (f"body.l{line_of(body, '- Respond with')}.json-schema", "json_schema", None),
        (f"body.l{line_of(body, '- Never mention')}.not-contains", "not_contains", None),
        (f"body.l{line_of(body, '- Never mention')}.judge", "judge", None),
        (f"body.l{line_of(body, '- Write in a confident')}.judge", "judge", None),
        (f"body.l{line_of(body, '- Include a `## Steps`')}.judge", "judge", None),
        (f"body.l{line_of(body, 'Always include the phrase')}.contains", "contains", None),
        (f"body.l{line_of(body, 'Do not use bullet points')}.bullet-list", "bullet_list", None),
    ]


def test_rubric_file_criteria_keep_their_weight_description_and_line() -> None:
    criteria = by_id(compile_all()[0])
    short = criteria["rubric.short"]
    assert short.weight == 2.0
    assert short.description == "Under 200 words"
    assert short.check == LengthCheck(unit="words", max=199)
    assert short.provenance.source == "rubric_file"
    assert short.provenance.file == "evals/rubric.yaml"
    assert short.provenance.line == line_of(RUBRIC_YAML, "- id: short")
    assert criteria["rubric.has-version"].provenance.line == 2


def test_eval_assertions_point_at_their_line_in_evals_json() -> None:
    criteria = by_id(compile_all()[0])
    raw = json.dumps(EVALS, indent=2)
    judged = criteria["evals.1.3"]
    assert judged.check == JudgeCheck(instruction="Mentions the new export API")
    assert judged.provenance.source == "evals" and judged.provenance.file == "evals/evals.json"
    assert judged.provenance.line == line_of(raw, '"Mentions the new export API"')
    assert judged.provenance.text == "Mentions the new export API"
    assert criteria["evals.1.2"].check == LengthCheck(unit="words", max=50)
    assert criteria["evals.case-b.2.contains"].provenance.line == line_of(raw, "The output includes")
    assert criteria["evals.case-b.2.contains-2"].check == ContainsCheck(text="migration")


def test_body_criteria_point_at_their_line_and_sentence() -> None:
    criteria = by_id(compile_all()[0])
    line = line_of(SKILL_MD, "- Never mention")
    forbidden = criteria[f"body.l{line}.not-contains"]
    assert forbidden.check == NotContainsCheck(text="internal-only")
    assert forbidden.description == "The reply does not contain 'internal-only'"
    assert forbidden.provenance.source == "body" and forbidden.provenance.file == "SKILL.md"
    assert forbidden.provenance.text == "Never mention `internal-only`."
    friendly = criteria[f"body.l{line}.judge"]
    assert friendly.check == JudgeCheck(instruction="Be friendly but brief.")


def test_a_sentence_over_two_lines_is_one_criterion_at_its_first_line() -> None:
    criteria = by_id(compile_all()[0])
    tone = criteria[f"body.l{line_of(SKILL_MD, '- Write in a confident')}.judge"]
    assert tone.provenance.text == "Write in a confident tone, without hedging words."


def test_a_conditional_lead_in_makes_its_list_a_judge_question() -> None:
    criteria = by_id(compile_all()[0])
    steps = criteria[f"body.l{line_of(SKILL_MD, '- Include a `## Steps`')}.judge"]
    assert steps.check == JudgeCheck(
        instruction="When the user asks for a migration guide: Include a `## Steps` section."
    )


def test_code_tables_comments_and_examples_are_not_rules() -> None:
    texts = " ".join(c.provenance.text for c in compile_all()[0].criteria)
    for ignored in ("Never use this line", "Never use tables", "hidden", "YAML", '"example"'):
        assert ignored not in texts


def test_identical_checks_keep_the_most_trusted_source() -> None:
    criteria = by_id(compile_all()[0])
    # "Keep the reply under 200 words" is rubric.short (max 199) again: the body copy is dropped.
    assert not any(c.provenance.text == "Keep the reply under 200 words." for c in criteria.values())
    # "Does not contain 'internal-only'" (eval Case B) is covered by the body rule for every prompt.
    assert "evals.case-b.1" not in criteria
    assert criteria[f"body.l{line_of(SKILL_MD, '- Never mention')}.not-contains"].eval_id is None


def test_coverage_counts_body_constraint_sentences() -> None:
    coverage = compile_all()[0].coverage
    # Respond..., Keep..., Never mention..., Be friendly..., Write..., Include ## Steps..., Always include..., Do not use...
    assert coverage.constraint_sentences == 8
    assert coverage.compiled_sentences == 5
    assert coverage.deterministic_criteria == 10
    assert coverage.judge_criteria == 4
    assert coverage.share == pytest.approx(5 / 8)


def test_the_output_constraint_merges_every_schema_for_every_prompt() -> None:
    constraint = compile_all()[0].output_constraint
    assert constraint is not None
    assert constraint.kind == "json_schema"
    assert constraint.json_schema == {"type": "object", "required": ["version", "highlights", "breaking"]}
    assert constraint.criteria == [
        "rubric.has-version",
        f"body.l{line_of(SKILL_MD, '- Respond with')}.json-schema",
    ]


def test_compiling_is_deterministic() -> None:
    first, _ = compile_all()
    second, _ = compile_all()
    assert first == second
    assert first.model_dump_json() == second.model_dump_json()


def test_the_rubric_grades_a_reply() -> None:
    rubric, _ = compile_all()
    reply = json.dumps({"version": "1.2", "highlights": ["Export API"], "breaking": []})
    result = grade(rubric, reply + "\nThanks for upgrading", eval_id="1")
    failed = {r.criterion_id for r in result.results if r.passed is False}
    assert failed == {
        "evals.1.1",
        f"body.l{line_of(SKILL_MD, '- Respond with')}.json-schema",
        "rubric.has-version",
    }
    assert grade(rubric, reply, eval_id="1").results[0].passed


# --- other shapes ---------------------------------------------------------------------------


def test_without_evals_or_rubric_file_only_the_body_counts() -> None:
    rubric, diagnostics = compile_all(evals=None, rubric_yaml=None)
    assert diagnostics == []
    assert {c.provenance.source for c in rubric.criteria} == {"body"}
    assert by_id(rubric)[f"body.l{line_of(SKILL_MD, '- Keep the reply')}.max-words"].check == LengthCheck(
        unit="words", max=199
    )
    assert rubric.output_constraint is not None
    assert rubric.output_constraint.json_schema == {
        "type": "object",
        "required": ["version", "highlights", "breaking"],
    }


def test_a_body_without_constraints_has_full_coverage() -> None:
    skill = "---\nname: x\n---\nThis skill explains invoices.\n"
    rubric, _ = compile_all(skill, evals=None, rubric_yaml=None)
    assert rubric.criteria == []
    assert rubric.coverage.share == 1.0
    assert rubric.output_constraint is None


def test_an_unmatched_eval_assertion_line_is_unknown_but_kept() -> None:
    files = bundle(evals=EVALS)
    eval_set, _ = load_evals(files)
    files.files[EVALS_PATH] = b"{}"  # the text no longer holds the assertions
    rubric, _ = compile_rubric(document(SKILL_MD), files, "v1", eval_set)
    assert by_id(rubric)["evals.1.3"].provenance.line is None


def test_conditional_headings_make_their_section_judged() -> None:
    skill = textwrap.dedent(
        """\
        ---
        name: x
        ---
        ## When reviewing code

        Never use `print`.

        ### Format

        Never use `exec`.

        ## Always

        Never use `eval`.
        """
    )
    rubric, _ = compile_all(skill, evals=None, rubric_yaml=None)
    assert [(c.id, c.check) for c in rubric.criteria] == [
        ("body.l6.judge", JudgeCheck(instruction="When reviewing code: Never use `print`.")),
        ("body.l10.judge", JudgeCheck(instruction="When reviewing code: Never use `exec`.")),
        ("body.l14.not-contains", NotContainsCheck(text="eval")),
    ]


def test_sections_about_the_skill_rather_than_the_reply_are_skipped() -> None:
    skill = textwrap.dedent(
        """\
        ---
        name: x
        ---
        ## When to use this skill

        - The answer is read by a program.

        ## About the output

        The reply is valid JSON.

        ## Overview

        You must be quick.

        ## Example replies

        Never say "no".
        """
    )
    rubric, _ = compile_all(skill, evals=None, rubric_yaml=None)
    assert [(c.id, c.check) for c in rubric.criteria] == [("body.l10.valid-json", ValidJsonCheck())]


def test_a_judge_sentence_gets_the_block_it_introduces() -> None:
    skill = textwrap.dedent(
        f"""\
        ---
        name: x
        ---
        Respond with exactly this shape:

        {FENCE}
        {{"answer": "...", "confidence": "low"}}
        {FENCE}

        Use this layout:
        ## Not a heading here
        {FENCE}
        ignored
        {FENCE}
        """
    )
    rubric, _ = compile_all(skill, evals=None, rubric_yaml=None)
    assert [c.check for c in rubric.criteria] == [
        JudgeCheck(instruction='Respond with exactly this shape:\n{"answer": "...", "confidence": "low"}'),
        JudgeCheck(instruction="Use this layout:"),
    ]
    assert rubric.criteria[0].description == "Respond with exactly this shape:"


def test_body_sentences_keep_skill_md_lines() -> None:
    skill = "---\nname: x\n---\nFirst one. Second\none.\n\n> Quoted rule.\n1. Item one.\n   Continued. Two\n"
    found = [(s.line, s.text) for s in body_sentences(document(skill))]
    assert found == [
        (4, "First one."),
        (4, "Second one."),
        (7, "Quoted rule."),
        (8, "Item one."),
        (9, "Continued."),
        (9, "Two"),
    ]


def test_identical_body_sentences_get_distinct_ids() -> None:
    skill = "---\nname: x\n---\nNever use `a` or `a`. Never use `b`; never use `c`.\n"
    rubric, _ = compile_all(skill, evals=None, rubric_yaml=None)
    assert [c.id for c in rubric.criteria] == ["body.l4.not-contains", "body.l4.not-contains-2"]
    assert [c.check for c in rubric.criteria] == [NotContainsCheck(text="a"), NotContainsCheck(text="b")]


# --- invalid rubric files -------------------------------------------------------------------


def only_error(rubric_yaml: str) -> tuple[str, int | None, Rubric]:
    rubric, diagnostics = compile_all(rubric_yaml=rubric_yaml)
    assert len(diagnostics) == 1, diagnostics
    (problem,) = diagnostics
    assert problem.severity == "error"
    assert problem.code == "rubric_file_invalid"
    assert problem.file == "evals/rubric.yaml"
    return problem.message, problem.line, rubric


def test_yaml_syntax_errors_name_the_line() -> None:
    message, line, rubric = only_error("criteria:\n  - id: a\n    description: [unclosed\n")
    assert message.startswith("not valid YAML")
    assert line == 4
    assert not any(c.provenance.source == "rubric_file" for c in rubric.criteria)


def test_schema_errors_name_the_field_and_its_line() -> None:
    text = "criteria:\n  - id: ok\n    description: fine\n    check:\n      kind: telepathy\n"
    message, line, _ = only_error(text)
    assert message.startswith("criteria[0].check: ")
    assert line == 5


def test_a_bad_length_check_names_its_line() -> None:
    text = "criteria:\n  - id: ok\n    description: fine\n    check: {kind: length, unit: words}\n"
    message, line, _ = only_error(text)
    assert "needs min, max or both" in message
    assert line == 4


def test_an_uncompilable_check_is_left_out_with_an_error() -> None:
    text = textwrap.dedent(
        """\
        criteria:
          - id: good
            description: Contains thanks
            check: {kind: contains, text: thanks}
          - id: bad-regex
            description: Ticket
            check: {kind: regex, pattern: "([A-Z]+"}
          - id: bad-schema
            description: Schema
            check: {kind: json_schema, json_schema: {type: objekt}}
        """
    )
    rubric, diagnostics = compile_all(rubric_yaml=text)
    assert [(d.line, d.message.split(":")[0]) for d in diagnostics] == [
        (5, "criteria[1] (bad-regex)"),
        (8, "criteria[2] (bad-schema)"),
    ]
    assert "invalid regex" in diagnostics[0].message and "invalid JSON Schema" in diagnostics[1].message
    assert [c.id for c in rubric.criteria if c.provenance.source == "rubric_file"] == ["rubric.good"]


def test_aliases_empty_files_and_duplicate_ids_are_errors() -> None:
    aliased = "base: &b {kind: contains, text: x}\ncriteria:\n  - id: a\n    description: d\n    check: *b\n"
    message, line, _ = only_error(aliased)
    assert message == "YAML aliases are not allowed in a rubric file" and line == 5
    assert only_error("")[0] == "the rubric file is empty"
    duplicate = (
        "criteria:\n  - id: a\n    description: d\n    check: {kind: contains, text: x}\n"
        "  - id: a\n    description: e\n    check: {kind: contains, text: y}\n"
    )
    message, line, rubric = only_error(duplicate)
    assert message == "criteria[1]: id 'a' is used twice" and line == 5
    assert by_id(rubric)["rubric.a"].check == ContainsCheck(text="x")


def test_python_tags_are_refused() -> None:
    message, line, _ = only_error("criteria: !!python/object/apply:os.system ['true']\n")
    assert message.startswith("not valid YAML")
    assert line == 1


# --- output constraint ----------------------------------------------------------------------


def test_valid_json_alone_constrains_to_an_object_or_array() -> None:
    constraint = output_constraint([criterion("body.l1.valid-json", ValidJsonCheck())])
    assert constraint is not None
    assert constraint.json_schema == {"type": ["object", "array"]}
    assert constraint.criteria == ["body.l1.valid-json"]


def test_a_schema_enforces_valid_json_too() -> None:
    constraint = output_constraint(
        [
            criterion("body.l1.valid-json", ValidJsonCheck()),
            criterion("body.l2.json-schema", JsonSchemaCheck(json_schema={"type": "object"})),
        ]
    )
    assert constraint is not None and constraint.criteria == ["body.l2.json-schema", "body.l1.valid-json"]


def test_the_most_trusted_fullmatch_regex_is_a_regex_constraint() -> None:
    ticket = criterion("body.l1.regex", RegexCheck(pattern=r"[A-Z]+-\d+: .+", mode="fullmatch"))
    constraint = output_constraint(
        [ticket, criterion("body.l2.max-words", LengthCheck(unit="words", max=20))]
    )
    assert constraint is not None and constraint.kind == "regex" and constraint.regex == r"[A-Z]+-\d+: .+"
    second = criterion("body.l3.regex", RegexCheck(pattern="x", mode="fullmatch"))
    both = output_constraint([ticket, second])  # the regex stays the first; a grammar holds both
    assert both is not None and both.regex == ticket.check.pattern
    assert both.criteria == ["body.l1.regex", "body.l3.regex"] and both.grammar is not None
    assert output_constraint([ticket]).grammar is None  # type: ignore[union-attr]
    assert (
        output_constraint([criterion("r", RegexCheck(pattern="x", mode="fullmatch", flags=["IGNORECASE"]))])
        is None
    )


def test_no_constraint_when_markdown_is_needed_or_only_one_eval_asks() -> None:
    headings = criterion("body.l2.headings", MarkdownHeadingsCheck(headings=["Summary"]))
    assert output_constraint([criterion("body.l1.valid-json", ValidJsonCheck()), headings]) is None
    bullets = criterion("body.l3.bullet-list", BulletListCheck())
    assert output_constraint([criterion("body.l1.valid-json", ValidJsonCheck()), bullets]) is None
    scoped = criterion("evals.1.1", ValidJsonCheck(), eval_id="1")
    assert output_constraint([scoped]) is None


# --- coverage, JSON replies and lead-ins -----------------------------------------------------


def test_a_body_sentence_dropped_as_a_copy_still_counts_as_compiled() -> None:
    skill = "---\nname: x\n---\nKeep the reply under 200 words.\nBe kind.\n"
    rubric, _ = compile_all(skill, evals=None)
    assert not any(c.provenance.source == "body" and c.deterministic for c in rubric.criteria)
    assert (rubric.coverage.constraint_sentences, rubric.coverage.compiled_sentences) == (2, 1)


JSON_SKILL = textwrap.dedent(
    """\
    ---
    name: x
    ---
    Always respond with a single JSON object.

    - The object has exactly two keys, `answer` and `confidence`.
    - `answer` is a string of at most 300 characters.
    - `confidence` is one of `"low"` or `"high"`.
    - Write the whole object on a single line.
    """
)


def test_facts_about_the_json_object_compile_in_a_json_skill() -> None:
    rubric, _ = compile_all(JSON_SKILL, evals=None, rubric_yaml=None)
    assert [(c.id, c.check) for c in rubric.criteria] == [
        ("body.l4.json-schema", JsonSchemaCheck(json_schema={"type": "object"})),
        (
            "body.l6.json-schema",
            JsonSchemaCheck(
                json_schema={
                    "type": "object",
                    "required": ["answer", "confidence"],
                    "properties": {"answer": {}, "confidence": {}},
                    "additionalProperties": False,
                }
            ),
        ),
        (
            "body.l7.json-schema",
            JsonSchemaCheck(
                json_schema={"type": "object", "properties": {"answer": {"type": "string", "maxLength": 300}}}
            ),
        ),
        (
            "body.l8.json-schema",
            JsonSchemaCheck(
                json_schema={"type": "object", "properties": {"confidence": {"enum": ["low", "high"]}}}
            ),
        ),
        ("body.l9.max-lines", LengthCheck(unit="lines", max=1)),
    ]
    assert rubric.coverage.compiled_sentences == 5
    assert by_id(rubric)["body.l7.json-schema"].description == (
        'In the reply\'s JSON object, \'answer\' matches {"maxLength": 300, "type": "string"}'
    )


def test_the_output_constraint_merges_the_facts_with_their_provenance() -> None:
    rubric, _ = compile_all(JSON_SKILL, evals=None, rubric_yaml=None)
    constraint = rubric.output_constraint
    assert constraint is not None
    assert constraint.json_schema == {
        "type": "object",
        "required": ["answer", "confidence"],
        "properties": {
            "answer": {"type": "string", "maxLength": 300},
            "confidence": {"enum": ["low", "high"]},
        },
        "additionalProperties": False,
    }
    assert constraint.criteria == [f"body.l{n}.json-schema" for n in (4, 6, 7, 8)]
    assert grade(rubric, '{"answer": "Paris", "confidence": "high"}').passed
    assert not grade(rubric, '{"answer": "Paris", "confidence": "sure"}').passed


def test_without_a_json_reply_the_facts_stay_with_a_judge() -> None:
    for first in ("If the user asks for JSON, respond with a single JSON object.", "Respond in English."):
        skill = JSON_SKILL.replace("Always respond with a single JSON object.", first)
        rubric, _ = compile_all(skill, evals=None, rubric_yaml=None)
        assert all(c.check.kind == "judge" for c in rubric.criteria if c.provenance.line in (6, 7, 8, 9))


def test_a_rubric_file_schema_makes_the_reply_a_json_object() -> None:
    skill = JSON_SKILL.replace("Always respond with a single JSON object.", "Answer the question.")
    rubric, _ = compile_all(skill, evals=None)
    assert by_id(rubric)["body.l7.json-schema"].check.kind == "json_schema"


def test_a_lead_in_with_a_list_of_headings_compiles() -> None:
    skill = textwrap.dedent(
        """\
        ---
        name: x
        ---
        Use exactly these three sections, in this order:

        - `## Context`
        - `## Decision` - what was decided
        - `## Consequences`

        When the change is small, use these sections:
        - `## Summary`
        """
    )
    sentences = body_sentences(document(skill))
    assert sentences[0].listed == ("`## Context`", "`## Decision` - what was decided", "`## Consequences`")
    rubric, _ = compile_all(skill, evals=None, rubric_yaml=None)
    assert [(c.id, c.check) for c in rubric.criteria] == [
        (
            "body.l4.headings",
            MarkdownHeadingsCheck(headings=["Context", "Decision", "Consequences"], level=2, in_order=True),
        ),
        ("body.l10.judge", JudgeCheck(instruction="When the change is small, use these sections:")),
    ]


def test_a_lead_in_with_a_block_of_headings_compiles() -> None:
    skill = f"---\nname: x\n---\nThe report has these two sections:\n\n{FENCE}\n# Title\n## Notes\n{FENCE}\n"
    rubric, _ = compile_all(skill, evals=None, rubric_yaml=None)
    assert [c.check for c in rubric.criteria] == [MarkdownHeadingsCheck(headings=["Title", "Notes"])]


def test_line_checks_are_described_in_words() -> None:
    from skill_adapter.skillspec.rubric.compiler import describe_check
    from skill_adapter.skillspec.rubric.patterns import compile_sentence

    described = {
        sentence: describe_check(compile_sentence(sentence))  # type: ignore[arg-type]
        for sentence in (
            "Keep the first line at most 72 characters.",
            "The subject line must be under 50 characters.",
            "No line longer than 80 characters.",
            "Wrap the body at 72 characters.",
        )
    }
    assert list(described.values()) == [
        "The first line of the reply has at most 72 characters",
        "The first line of the reply has at most 49 characters (not counting a 'Subject:' label)",
        "Every line of the reply has at most 80 characters",
        "Every line after the first has at most 72 characters",
    ]
    assert (
        describe_check(RegexCheck(pattern="(?:[^\\n]{0,9}\\n)*x"))
        == "The reply matches /(?:[^\\n]{0,9}\\n)*x/"
    )


def test_descriptions_a_pattern_could_read_stay_descriptions() -> None:
    skill = textwrap.dedent(
        """\
        ---
        name: x
        ---
        Headings: Poppins (with Arial fallback).

        The tool outputs a JSON object.

        - `answer` is a string.
        """
    )
    rubric, _ = compile_all(skill, evals=None, rubric_yaml=None)
    assert rubric.criteria == [] and rubric.coverage.constraint_sentences == 0
