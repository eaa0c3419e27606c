"""Our verdicts against the reference validator ``skills-ref`` on the corpora.

Every case records what skills-ref says. Where skills-ref accepts a skill we reject (hidden
Unicode, nested metadata, a YAML integer as a name, ...) or crashes on it, the case says why;
on everything else the two validators agree.
"""

from __future__ import annotations

import pytest
from skills_ref.validator import validate as skills_ref_validate

from skill_adapter.skillspec.analysis import analyze
from tests.support.corpus import Case, cases

pytestmark = pytest.mark.unit

DIRECTORY_CASES = [
    c for c in cases("broken") + cases("valid") if c.expected.get("skills_ref") != "not-applicable"
]


def reference_verdict(case: Case) -> str:
    folder = case.skill_dir
    assert folder is not None
    try:
        return "invalid" if skills_ref_validate(folder) else "valid"
    except Exception:  # skills-ref lets some decoding errors escape
        return "crash"


def our_verdict(case: Case) -> str:
    data, object_name = case.upload()
    return "valid" if analyze(data, object_name, case.mode).ok else "invalid"  # type: ignore[arg-type]


@pytest.mark.parametrize("case", DIRECTORY_CASES, ids=lambda c: f"{c.root.parent.name}/{c.name}")
def test_verdicts_agree_with_skills_ref_or_the_difference_is_explained(case: Case) -> None:
    reference = reference_verdict(case)
    assert reference == case.expected["skills_ref"], "the corpus records what skills-ref really says"
    ours = our_verdict(case)
    expected_ours = "invalid" if case.root.parent.name == "broken" else "valid"
    assert ours == expected_ours
    if ours != reference:
        assert case.expected.get("why_skills_ref_differs"), f"{case.name}: disagreement without a reason"


def test_the_corpora_are_large_enough() -> None:
    broken, valid = cases("broken"), cases("valid")
    assert len(broken) >= 40
    assert len(valid) >= 8
    agreeing = [
        c for c in DIRECTORY_CASES if c.expected["skills_ref"] == ("invalid" if c in broken else "valid")
    ]
    assert len(agreeing) >= 30
