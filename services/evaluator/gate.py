"""The promotion gate: lift, the adapter's own pass rate and regressions against thresholds.

Thresholds come from settings, overridden per run by the command. A partial run never passes.
When the skill already has a promoted adapter, the new one must do at least as well, else it
stays a candidate (and the promoted one stays).
"""

from __future__ import annotations

from skill_adapter.contracts import ArmSummary, EvaluationSummary, GateDecision, StartEvaluation, Thresholds

from .statistics import difference


def thresholds_for(command: StartEvaluation, defaults: Thresholds) -> Thresholds:
    return Thresholds(
        min_lift=defaults.min_lift if command.min_lift is None else command.min_lift,
        min_pass_rate=defaults.min_pass_rate if command.min_pass_rate is None else command.min_pass_rate,
        max_regression=defaults.max_regression if command.max_regression is None else command.max_regression,
    )


def _counts(base: ArmSummary | None, adapter: ArmSummary, name: str) -> str:
    """``" (base 19/32, adapter 14/32; 95% CI of the drop -0.084 to +0.373)"``: how much a
    regression figure rests on, so a reader can tell a drop from sampling noise (the rule itself
    compares the point estimates against the margin); empty when an arm lacks the figure."""
    theirs, mine = getattr(base, name, None), getattr(adapter, name, None)
    if theirs is None or mine is None:
        return ""
    low, high = difference(theirs, mine)
    return (
        f" (base {theirs.passed}/{theirs.total}, adapter {mine.passed}/{mine.total}; "
        f"95% CI of the drop {low:+.3f} to {high:+.3f})"
    )


def decide(
    summary: EvaluationSummary,
    thresholds: Thresholds,
    *,
    incumbent: tuple[str, float] | None = None,
) -> GateDecision:
    """Pass when every condition holds; ``reasons`` says which did not (or, on a pass, what held).

    ``incumbent``: the skill's promoted adapter and its overall pass rate, if there is one.
    """
    failed: list[str] = []
    held: list[str] = []
    adapter = summary.arms.get("adapter")
    if summary.partial:
        failed.append("the run is partial: a partial run is never promoted")
    if adapter is None:
        failed.append(f"{summary.model} is the base model: there is no adapter to promote")
        return GateDecision(passed=False, reasons=failed, thresholds=thresholds)
    if adapter.samples == 0:
        failed.append("no held-out reply of the adapter was graded")
    rate = adapter.overall.rate
    if rate < thresholds.min_pass_rate:
        failed.append(f"adapter pass rate {rate:.3f} is below the minimum {thresholds.min_pass_rate:.3f}")
    else:
        held.append(f"adapter pass rate {rate:.3f} >= {thresholds.min_pass_rate:.3f}")
    if summary.lift is None:
        failed.append("no base arm to measure lift against")
    elif summary.lift < thresholds.min_lift:
        failed.append(
            f"lift {summary.lift:+.3f} over the base model is below the minimum {thresholds.min_lift:+.3f}"
        )
    else:
        held.append(f"lift {summary.lift:+.3f} >= {thresholds.min_lift:+.3f}")
    base = summary.arms.get("base")
    for name, drop in sorted(summary.regressions.items()):
        label = name.replace("_", " ")
        counts = _counts(base, adapter, name)
        if drop > thresholds.max_regression:
            failed.append(
                f"regression on {label}: {drop:.3f} below the base model, more than "
                f"{thresholds.max_regression:.3f}{counts}"
            )
        else:
            held.append(f"{label} within {thresholds.max_regression:.3f} of the base model{counts}")
    if incumbent is not None and incumbent[0] != summary.model and rate < incumbent[1]:
        failed.append(
            f"the promoted adapter {incumbent[0]} has a higher pass rate ({incumbent[1]:.3f} > {rate:.3f})"
        )
    if failed:
        return GateDecision(passed=False, reasons=failed, thresholds=thresholds)
    return GateDecision(passed=True, reasons=held, thresholds=thresholds)
