"""Charts for report.html, drawn by matplotlib (Agg) and returned as PNG bytes.
matplotlib is imported inside the functions: commands that never plot start fast."""

from __future__ import annotations

import io

from harness.domain.scoring import Grade
from harness.store.summary import Cell

GRADE_COLOURS: dict[Grade, str] = {"none": "#d9d9d9", "pattern": "#9ecae1", "mechanism": "#4292c6", "exact": "#08306b"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    # No Software/time metadata: the same numbers give the same bytes.
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def grades_chart(cells: list[Cell]) -> bytes:
    """Articulation grades as stacked horizontal bars, one bar per condition x describe probe."""
    plt = _pyplot()
    group = [c for c in cells if c.kind == "describe"]
    labels = [f"{c.condition} / {c.probe} (n={c.n})" for c in group]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(group) + 1.4))
    left = [0.0] * len(group)
    ys = list(range(len(group)))[::-1]  # first cell on top
    for grade, colour in GRADE_COLOURS.items():
        widths = [c.grades[grade].rate or 0.0 for c in group]
        ax.barh(ys, widths, left=left, color=colour, edgecolor="white", label=grade)
        left = [a + b for a, b in zip(left, widths)]
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of answers")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title("Articulation grade of describe answers", fontsize=10)
    return _png(fig)


def confusion_chart(confusion: dict[str, dict[str, int]], grades: list[str]) -> bytes:
    """Rule-based grade (rows) x LLM judge grade (columns) as a heatmap of counts; the
    shade is the row share, so a rare grade's row is as readable as a common one's."""
    plt = _pyplot()
    counts = [[confusion[r][g] for g in grades] for r in grades]
    shares = [[x / (sum(row) or 1) for x in row] for row in counts]
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i, row in enumerate(counts):
        for k, x in enumerate(row):
            ax.text(k, i, str(x), ha="center", va="center", fontsize=9, color="white" if shares[i][k] > 0.6 else "#222")
    ax.set_xticks(range(len(grades)), grades, fontsize=8)
    ax.set_yticks(range(len(grades)), grades, fontsize=8)
    ax.set_xlabel("LLM judge")
    ax.set_ylabel("rule-based grade")
    ax.set_title("Judge vs rule (counts; shade = row share)", fontsize=10)
    return _png(fig)
