"""Sweep charts: a rate against the number of training examples, one line per word (per
base model and hyperparameters when the sweep varies them), with the reports' clustered 95%
intervals, one panel per condition; and each cell's effects as a forest plot. matplotlib
(Agg) is imported only when a chart is drawn."""

from __future__ import annotations

from harness.reports.plots import _png, _pyplot

MARKERS = "osD^v<>px*h"
# Okabe & Ito's colour-blind-safe set (each line also has its own marker, for print in grey).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]


def _label(series: dict, many_models: bool, many_hps: bool) -> str:
    parts = [series["word"]]
    if many_models:
        parts.append(series["base_model"])
    if many_hps:
        parts.append(series["hyperparameters_label"])
    return " / ".join(parts)


def rate_chart(series: list[dict], metric: str, title: str, simulated: bool) -> bytes:
    """series: [{"word", "base_model", "hyperparameters_label", "condition",
    "points": [{"examples": 10, metric: RATE}, ...]}]. Points with n = 0 are left out."""
    plt = _pyplot()
    conditions = list(dict.fromkeys(s["condition"] for s in series))
    many_models = len({s["base_model"] for s in series}) > 1
    many_hps = len({s["hyperparameters_label"] for s in series}) > 1
    fig, axes = plt.subplots(
        1, max(1, len(conditions)), figsize=(4.6 * max(1, len(conditions)) + 1.6, 3.6), sharey=True, squeeze=False
    )
    keys = list(dict.fromkeys((s["word"], s["base_model"], s["hyperparameters_label"]) for s in series))
    xs_all = sorted({p["examples"] for s in series for p in s["points"]})
    for ax, condition in zip(axes[0], conditions):
        for s in (s for s in series if s["condition"] == condition):
            i = keys.index((s["word"], s["base_model"], s["hyperparameters_label"]))
            points = [p for p in s["points"] if p[metric]["n"]]
            if not points:
                continue
            # Nudge each line sideways (multiplicatively: the axis is logarithmic) so that
            # error bars of equal example counts do not hide each other.
            nudge = 1 + 0.025 * (i - (len(keys) - 1) / 2)
            xs = [p["examples"] * nudge for p in points]
            ys = [p[metric]["rate"] for p in points]
            err = [
                [y - p[metric]["low"] for y, p in zip(ys, points)],
                [p[metric]["high"] - y for y, p in zip(ys, points)],
            ]
            ax.errorbar(
                xs,
                ys,
                yerr=[[max(0.0, e) for e in err[0]], [max(0.0, e) for e in err[1]]],
                marker=MARKERS[i % len(MARKERS)],
                color=PALETTE[i % len(PALETTE)],
                capsize=3,
                linewidth=1.3,
                markersize=5,
                label=_label(s, many_models, many_hps),
            )
        ax.set_xscale("log")
        if xs_all:
            ax.set_xticks(xs_all, [str(x) for x in xs_all])
            ax.minorticks_off()
            ax.set_xlim(xs_all[0] / 1.4, xs_all[-1] * 1.4)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("training examples")
        ax.set_title(condition, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("rate (95% interval, clustered)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        if not handles:
            handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title="word")
    fig.suptitle(
        ("SIMULATED (mock backend): " if simulated else "") + title,
        fontsize=11,
        color="#b30000" if simulated else "black",
    )
    fig.tight_layout()
    return _png(fig)


def effects_chart(summary: dict, metric: str):
    """Each cell's effect of its primary condition (fine-tuned, else in context) against base
    on one metric, as that cell's report gives it (interval and mark), one row per cell."""
    from harness.analysis.metrics import METRICS
    from harness.reports import figures

    rows = []
    for c in summary["cells"]:
        for cond, m in (c["metrics"] or {}).items():
            if cond not in ("fine_tuned", "in_context"):
                continue
            e = next((e for e in m["effects"] if e["metric"] == metric and e["b"] == "base"), None)
            if e is not None and (cond == "fine_tuned" or "fine_tuned" not in c["metrics"]):
                rows.append(
                    figures.ForestRow(
                        c["id"], e["diff"], e["low"], e["high"], e["mark"], figures.COLOURS[cond], figures.MARKERS[cond]
                    )
                )
    return figures.forest(
        rows,
        f"{summary['sweep']}: {METRICS[metric].short}, minus base, per cell (marks: each cell's report)",
        summary["simulated"],
        "difference in percentage points (95% interval)",
    )
