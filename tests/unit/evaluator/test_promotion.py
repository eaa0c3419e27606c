"""Who gets promoted at the end of a run: the gate, the command, the registry, the incumbent."""

from __future__ import annotations

import pytest

from skill_adapter.contracts import EvaluationSummary, GateDecision, StartEvaluation, Thresholds
from skill_adapter.evaluator.evaluation import Outcome
from skill_adapter.evaluator.models import KnownAdapter, Promotion
from skill_adapter.evaluator.worker import Worker
from tests.unit.evaluator.test_reports import results, summary_of

pytestmark = pytest.mark.unit

MODEL = "ft:tiny:demo:1"
THRESHOLDS = Thresholds(min_lift=0, min_pass_rate=0, max_regression=1)


def command(promote: bool = True) -> StartEvaluation:
    return StartEvaluation(
        correlation_id="c",
        producer="t",
        run_id="r1",
        skill_name="demo-skill",
        skill_version="v1",
        model=MODEL,
        base_model="tiny",
        promote=promote,
    )


def passing() -> EvaluationSummary:
    return summary_of(results(), gate=GateDecision(passed=True, reasons=["ok"], thresholds=THRESHOLDS))


ADAPTER = KnownAdapter(adapter_id=MODEL, skill_name="demo-skill", skill_version="v1", base_model="tiny")


def test_a_passing_registered_adapter_is_promoted() -> None:
    assert Worker.promotion(command(), Outcome(passing()), ADAPTER, None) == (True, [])
    weaker = Promotion(skill_name="demo-skill", adapter_id="ft:old", pass_rate=0.5, run_id="r0")
    assert Worker.promotion(command(), Outcome(passing()), ADAPTER, weaker)[0]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("failed gate", None),
        ("failed run", None),
        ("not asked", "promote=false"),
        ("unknown adapter", "not a registered candidate"),
        ("better incumbent", "higher pass rate"),
    ],
)
def test_everything_else_stays_a_candidate_with_the_reason(case: str, reason: str | None) -> None:
    summary, adapter, current, cmd = passing(), ADAPTER, None, command()
    outcome = Outcome(summary)
    if case == "failed gate":
        outcome = Outcome(
            summary.model_copy(update={"gate": GateDecision(passed=False, thresholds=THRESHOLDS)})
        )
    elif case == "failed run":
        outcome = Outcome(summary.model_copy(update={"partial": True}), "inference_unavailable", "timed out")
    elif case == "not asked":
        cmd = command(promote=False)
    elif case == "unknown adapter":
        adapter = None
    elif case == "better incumbent":
        current = Promotion(skill_name="demo-skill", adapter_id="ft:old", pass_rate=1.01, run_id="r0")
    promote, held_back = Worker.promotion(cmd, outcome, adapter, current)
    assert not promote
    if reason is None:
        assert held_back == []
    else:
        assert len(held_back) == 1 and reason in held_back[0]
