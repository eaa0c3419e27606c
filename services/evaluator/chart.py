"""``chart.png``: per-criterion pass rate by arm, with the 95% Wilson intervals as error bars."""

from __future__ import annotations

import io

from skill_adapter.contracts import EvaluationSummary

COLOURS = {"base": "#9e9e9e", "base_with_skill": "#4f81bd", "adapter": "#c0504d"}


def chart_png(summary: EvaluationSummary) -> bytes:
    """A grouped bar chart: one group per criterion (and "overall"), one bar per arm."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    arms = list(summary.arms)
    criteria = sorted({cid for arm in summary.arms.values() for cid in arm.criteria})
    groups = ["overall", *criteria]
    width = 0.8 / max(1, len(arms))
    figure = Figure(figsize=(max(7.0, 1.1 * len(groups) + 3.5), 4.5), dpi=100)
    axes = figure.subplots()
    for index, name in enumerate(arms):
        arm = summary.arms[name]
        rates = [arm.overall if g == "overall" else arm.criteria.get(g) for g in groups]
        values = [r.rate if r else 0.0 for r in rates]
        below = [r.rate - r.low if r else 0.0 for r in rates]
        above = [r.high - r.rate if r else 0.0 for r in rates]
        positions = [g + (index - (len(arms) - 1) / 2) * width for g in range(len(groups))]
        axes.bar(
            positions,
            values,
            width,
            yerr=[below, above],
            capsize=3,
            label=name,
            color=COLOURS.get(name, "#888888"),
        )
    axes.set_xticks(range(len(groups)), groups, rotation=30, ha="right", fontsize=8)
    axes.set_ylim(0, 1.08)
    axes.set_ylabel("pass rate (95% Wilson CI)")
    title = f"{summary.skill_name}: {summary.model}"
    axes.set_title(title + (" (partial)" if summary.partial else ""), fontsize=9)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
