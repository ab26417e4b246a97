"""The report's figures, drawn by matplotlib (Agg) from the summary's metrics and effects, so
they show the same rates, intervals and marks as the tables: the headline figure (each
condition's rate of each headline metric with its clustered interval, each fine-tune a
dot), the effects (a forest plot, also used by `compare` and sweeps) and the letters by
position. Colours are Okabe and Ito's colour-blind-safe set, each condition also has its own
marker shape (for print in grey), and labels sit on the axes, never over the data.
matplotlib is imported inside the functions: commands that never plot start fast."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from harness.analysis.metrics import METRICS, pp
from harness.store.summary import MetricRate, Rate, Summary

# Okabe & Ito (2008); one marker per condition so that a grey print still tells them apart.
COLOURS = {"fine_tuned": "#0072B2", "base": "#000000", "sham": "#E69F00", "in_context": "#009E73"}
MARKERS = {"fine_tuned": "o", "base": "s", "sham": "^", "in_context": "D"}
NAMES = {"fine_tuned": "fine-tuned", "base": "base", "sham": "sham", "in_context": "in context"}
HEADLINE_METRICS = ["follow", "mechanism_or_better", "exact", "one_line", "word_correct"]
FONT = {"font.size": 10, "axes.titlesize": 10.5, "axes.labelsize": 10, "xtick.labelsize": 9.5, "ytick.labelsize": 9.5}


@dataclass(frozen=True)
class Drawn:
    """A figure as PNG (for the page) and SVG (for print and papers)."""

    png: bytes
    svg: bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot's import
    import matplotlib.pyplot as plt

    settings: Any = FONT | {"svg.hashsalt": "hello-harness", "svg.fonttype": "none"}
    plt.rcParams.update(settings)
    return plt


def _save(fig) -> Drawn:
    """PNG and SVG without dates or software names: the same numbers give the same bytes."""
    out = []
    for fmt, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=150, bbox_inches="tight", metadata=meta)
        out.append(buf.getvalue())
    _pyplot().close(fig)
    return Drawn(out[0], out[1])


def _title(fig, text: str, simulated: bool) -> None:
    fig.suptitle(("SIMULATED: " if simulated else "") + text, color="#b30000" if simulated else "black", y=1.02)


def _err(r: Rate) -> tuple[float, list[list[float]]]:
    y = r.rate or 0.0
    return y, [[max(0.0, y - r.low)], [max(0.0, r.high - y)]]


def headline_figure(summary: Summary) -> Drawn | None:
    """One panel per headline metric: each condition's rate with the report's 95% interval
    (clustered by fine-tune where a condition has several) and each fine-tune's own rate as a
    small open dot beside it."""
    by: dict[tuple[str, str], MetricRate] = {(m.condition, m.metric): m for m in summary.metrics}
    conditions = list(dict.fromkeys(m.condition for m in summary.metrics))
    panels = [m for m in HEADLINE_METRICS if any((c, m) in by for c in conditions)]
    if not panels:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(
        1, len(panels), figsize=(1.0 + 1.05 * len(conditions) * len(panels), 3.3), sharey=True, squeeze=False
    )
    for ax, metric in zip(axes[0], panels):
        for x, cond in enumerate(conditions):
            m = by.get((cond, metric))
            if m is None or not m.rate.n:
                continue
            y, err = _err(m.rate)
            colour = COLOURS.get(cond, "#555555")
            ax.errorbar([x], [y], yerr=err, fmt=MARKERS.get(cond, "o"), color=colour, capsize=4, ms=7, lw=1.6)
            dots = [r.rate for r in m.fine_tunes if r.rate is not None]
            for i, d in enumerate(dots):
                ax.plot(x + 0.22 + 0.06 * (i - (len(dots) - 1) / 2), d, "o", ms=3.5, mfc="white", mec=colour, mew=1)
            ax.annotate(f"{100 * y:.0f}%", (x, m.rate.high), xytext=(0, 4), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8.5, color=colour)  # fmt: skip
        ax.set_xticks(range(len(conditions)), [NAMES.get(c, c) for c in conditions], rotation=30, ha="right")
        ax.set_xlim(-0.5, len(conditions) - 0.4)
        ax.set_title(METRICS[metric].short)
        ax.set_ylim(-0.02, 1.08)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("share of answers (95% interval)")
    axes[0][0].yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    fine_tunes = f"; open dots: each of {summary.replicates} fine-tunes" if summary.fine_tunes > 1 else ""
    _title(fig, f"{summary.scenario} ({summary.word}): rates by condition{fine_tunes}", summary.simulated)
    fig.tight_layout()
    return _save(fig)


@dataclass(frozen=True)
class ForestRow:
    label: str
    diff: float | None
    low: float
    high: float
    mark: str
    colour: str = "#0072B2"
    marker: str = "o"


def forest(rows: list[ForestRow], title: str, simulated: bool, xlabel: str) -> Drawn | None:
    """Differences in percentage points with their 95% intervals, one row each (top to
    bottom), the value and its mark written in the right margin."""
    rows = [r for r in rows if r.diff is not None]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 0.9 + 0.36 * len(rows)))
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows):
        d = 100 * (r.diff or 0.0)
        ax.errorbar([d], [y], xerr=[[d - 100 * r.low], [100 * r.high - d]], fmt=r.marker, color=r.colour,
                    capsize=3, ms=6, lw=1.5)  # fmt: skip
        text = f"{pp(r.diff or 0.0)} [{pp(r.low)}, {pp(r.high)}]{r.mark}"
        ax.annotate(text, (1.01, y), xycoords=("axes fraction", "data"), va="center", fontsize=9, color=r.colour)
    ax.axvline(0, color="#444444", lw=1)
    ax.set_yticks(ys, [r.label for r in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    _title(fig, title, simulated)
    fig.tight_layout()
    return _save(fig)


def effects_figure(summary: Summary, a: str) -> Drawn | None:
    """Condition a minus each control, per metric, with the report's intervals and marks."""
    rows = [
        ForestRow(
            f"{METRICS[e.metric].short}: {NAMES.get(e.a, e.a)} − {NAMES.get(e.b, e.b)}",
            e.diff,
            e.low,
            e.high,
            e.mark,
            COLOURS.get(e.b, "#555555"),
            MARKERS.get(e.b, "o"),
        )
        for e in summary.effects
        if e.a == a
    ]
    return forest(
        rows,
        f"{summary.scenario} ({summary.word}): effects (* p < 0.05, ** after Holm)",
        summary.simulated,
        "difference in percentage points (95% interval)",
    )


def position_figure(summary: Summary) -> Drawn | None:
    """Each letter of the word, and the whole word, per condition side by side, over all follow
    probes, with the report's clustered intervals."""
    rows = [m for m in summary.metrics if m.metric == "follow" and m.positions]
    if not rows:
        return None
    plt = _pyplot()
    word = summary.word
    groups = [f"{i + 1}\n{ch}" for i, ch in enumerate(word)] + ["whole\nword"]
    width = 0.8 / len(rows)
    fig, ax = plt.subplots(figsize=(1.2 + 0.75 * len(groups) * max(1, len(rows) / 2), 3.4))
    for j, m in enumerate(rows):
        rates = [*m.positions, m.rate]
        xs = [i - 0.4 + width * (j + 0.5) for i in range(len(groups))]
        heights = [r.rate or 0.0 for r in rates]
        err = [
            [max(0.0, h - r.low) for h, r in zip(heights, rates)],
            [max(0.0, r.high - h) for h, r in zip(heights, rates)],
        ]
        colour = COLOURS.get(m.condition, "#555555")
        hatch = {"sham": "//", "in_context": ".."}.get(m.condition)
        ax.bar(xs, heights, width * 0.92, yerr=err, capsize=2.5, color=colour, edgecolor="black", lw=0.5,
               hatch=hatch, label=NAMES.get(m.condition, m.condition), error_kw={"lw": 1})  # fmt: skip
    ax.axvline(len(word) - 0.5, color="#888888", lw=0.8, ls=":")
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    ax.set_ylabel("answers (95% interval)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(rows), frameon=False)
    _title(fig, f"{summary.scenario}: the first letter at each position (follow probes)", summary.simulated)
    fig.tight_layout()
    return _save(fig)
