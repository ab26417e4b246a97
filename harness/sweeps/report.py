"""The sweep report: sweep_summary.json, sweep_report.md and a self-contained
sweep_report.html, plus plots/*.png next to them. Built from each cell's summary.json
alone, so it can be rebuilt at any time without calling a model."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from harness.analysis import stats
from harness.analysis.metrics import METRICS, Sample, rate
from harness.domain import scoring
from harness.reports.html import BASE_CSS, escape, html_page_start, html_table
from harness.reports.tables import BANNER, fmt_rate
from harness.store.files import write_atomic
from harness.store.run_dir import RunStore
from harness.store.summary import Rate, Summary
from harness.store.sweep_files import SweepDocument

SUMMARY = "sweep_summary.json"
REPORT_MD = "sweep_report.md"
REPORT_HTML = "sweep_report.html"
PLOTS = "plots"
# (file stem, metric, chart title)
CHARTS = [
    ("follow", "follow", "Follow rate (follow probes) vs examples"),
    ("articulation_exact", "exact", "Articulation: exact (describe probes) vs examples"),
    (
        "articulation_mechanism",
        "mechanism_or_better",
        "Articulation: mechanism or better (describe probes) vs examples",
    ),
]


def fmt(rate: dict | None) -> str:
    """A pooled rate of the sweep summary (a RATE dict), as the run reports show rates."""
    return fmt_rate(Rate(**rate)) if rate else "-"


def condition_metrics(summary: Summary) -> dict[str, dict]:
    """Per condition, the run's own metrics (summary.metrics: the rates its report shows, from
    harness/analysis/metrics.py), the describe grades pooled over the free describe probes, and
    the per-fine-tune counts ("clusters") that the sweep's series pool across cells."""
    out: dict[str, dict] = {}
    for cond in dict.fromkeys(c.condition for c in summary.cells):
        rates = {m.metric: m for m in summary.metrics if m.condition == cond}
        free = [c for c in summary.cells if c.condition == cond and c.kind == "describe" and c.style == "free"]
        grades = {
            g: stats.clustered_rate((c.grades[g].k, c.grades[g].n) for c in free) if free else None
            for g in scoring.GRADES
        }

        def rate(metric: str, rates: dict = rates) -> dict | None:
            return rates[metric].rate.model_dump() if metric in rates else None

        def clusters(metric: str, rates: dict = rates) -> list[list[int]]:
            m = rates.get(metric)
            if m is None:
                return []
            return [[r.k, r.n] for r in m.fine_tunes] if m.fine_tunes else [[m.rate.k, m.rate.n]]

        out[cond] = {
            **{metric: rate(metric) for metric in METRICS},
            "grades": grades | {"exact": rate("exact")},
            "effects": [e.model_dump() for e in summary.effects if e.a == cond],
            "clusters": {metric: clusters(metric) for metric in METRICS},
        }
    return out


def hp_label(hp: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(hp.items())) or "default"


def build(sweep_dir: Path, doc: SweepDocument) -> dict:
    """sweep_summary.json: the sweep's axes, each cell's pooled rates (read from its run's
    summary.json) and the series the plots draw."""
    cells, simulated = [], doc.simulated
    for entry in doc.cells:
        summary = RunStore(sweep_dir / entry.run).read_summary() if entry.status == "succeeded" else None
        simulated = simulated or bool(summary and summary.simulated)
        cells.append(
            entry.model_dump(
                include={
                    "id",
                    "word",
                    "examples",
                    "seed",
                    "base_model",
                    "hyperparameters",
                    "status",
                    "error",
                    "run",
                    "scenario_hash",
                }
            )
            | {"metrics": condition_metrics(summary) if summary else None}
        )
    spec = doc.spec
    return {
        "simulated": simulated,
        "sweep": doc.sweep,
        "description": spec.get("description", ""),
        "backend": doc.backend,
        "unit": spec["unit"],
        "samples": spec["samples"],
        "temperature": spec["temperature"],
        "conditions": spec["conditions"],
        "replicates": spec.get("replicates", 1),
        "axes": {k: spec[k] for k in ("words", "examples", "seeds", "base_models", "hyperparameters")},
        "cells": cells,
        "series": series(cells, spec),
    }


def series(cells: list[dict], spec: dict) -> list[dict]:
    """One line per word (x base model x hyperparameters) and condition. Every fine-tune at a
    point (of every seed's cell) is a cluster: the intervals are about fine-tuning, not about
    the answers of a few checkpoints pooled together."""
    out = []
    for word in spec["words"]:
        for model in spec["base_models"]:
            for hp in spec["hyperparameters"]:
                for cond in spec["conditions"]:
                    points = []
                    for n in spec["examples"]:
                        group = [
                            c["metrics"][cond]
                            for c in cells
                            if c["metrics"]
                            and cond in c["metrics"]
                            and c["word"] == word
                            and c["examples"] == n
                            and c["base_model"] == model
                            and c["hyperparameters"] == hp
                        ]

                        def clustered(metric: str, group: list[dict] = group) -> dict:
                            """Every fine-tune at the point is a cluster (t with clusters - 1 df)."""
                            ks = [tuple(k_n) for m in group for k_n in m["clusters"].get(metric, [])]
                            fine_tunes = len(ks) > 1
                            return rate(Sample(tuple(ks), fine_tunes)).model_dump()

                        points.append(
                            {
                                "examples": n,
                                "cells": len(group),
                                "fine_tunes": sum(len(m["clusters"]["follow"]) for m in group),
                                "follow": clustered("follow"),
                                "exact": clustered("exact"),
                                "mechanism_or_better": clustered("mechanism_or_better"),
                            }
                        )
                    out.append(
                        {
                            "word": word,
                            "base_model": model,
                            "hyperparameters": hp,
                            "hyperparameters_label": hp_label(hp),
                            "condition": cond,
                            "points": points,
                        }
                    )
    return out


# --- rendering --------------------------------------------------------------------------


def _columns(summary: dict) -> list[str]:
    axes = summary["axes"]
    cols = ["cell", "word", "examples", "seed"]
    cols += ["base model"] if len(axes["base_models"]) > 1 else []
    cols += ["hyperparameters"] if len(axes["hyperparameters"]) > 1 else []
    return cols + ["follow", "exact", "mechanism+", "pattern", "none", "word probe right", "status"]


def _rows(summary: dict, cond: str) -> list[list[str]]:
    axes, rows = summary["axes"], []
    for c in summary["cells"]:
        row = [c["id"], c["word"], str(c["examples"]), str(c["seed"])]
        row += [c["base_model"]] if len(axes["base_models"]) > 1 else []
        row += [hp_label(c["hyperparameters"])] if len(axes["hyperparameters"]) > 1 else []
        m = (c["metrics"] or {}).get(cond)
        if m:
            g = m["grades"]
            row += [
                fmt(m["follow"]),
                fmt(g["exact"]),
                fmt(m["mechanism_or_better"]),
                fmt(g["pattern"]),
                fmt(g["none"]),
                fmt(m["word_correct"]),
            ]
        else:
            row += ["-"] * 6
        row.append(c["status"] + (f": {c['error']}" if c["error"] else ""))
        rows.append(row)
    return rows


NOTES = (
    "Each cell's follow, exact, mechanism+ and word-probe rates are the ones its own report shows "
    "(harness/analysis/metrics.py: follow over the follow probes, exact and mechanism+ = mechanism or exact "
    "over the free describe probes; 95% intervals and k/n, clustered by fine-tune where a cell has several). "
    "pattern and none pool the free describe probes' grades. The rate plots treat every fine-tune at a point, "
    "of every seed, as a cluster; the effect plots show each cell's fine-tuned minus base as its report does."
)


def _header(summary: dict) -> list[tuple[str, str]]:
    axes = summary["axes"]
    return [
        ("sweep", summary["sweep"]),
        ("backend", summary["backend"] + (" (SIMULATED)" if summary["simulated"] else "")),
        ("words", ", ".join(axes["words"])),
        ("examples", ", ".join(map(str, axes["examples"]))),
        ("seeds", ", ".join(map(str, axes["seeds"]))),
        ("base models", ", ".join(axes["base_models"])),
        ("hyperparameters", "; ".join(hp_label(h) for h in axes["hyperparameters"])),
        (
            "probing",
            f"{summary['samples']} samples per probe at T={summary['temperature']}, "
            f"unit {summary['unit']}, conditions {', '.join(summary['conditions'])}",
        ),
        ("cells", f"{sum(c['status'] == 'succeeded' for c in summary['cells'])} of {len(summary['cells'])} succeeded"),
    ]


def render_md(summary: dict, plot_files: list[tuple[str, str]]) -> str:
    out = []
    if summary["simulated"]:
        out += [f"> **{BANNER}**", ""]
    out += [f"# Sweep {summary['sweep']}", ""]
    if summary["description"]:
        out += [summary["description"].strip(), ""]
    out += ["| field | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in _header(summary)] + ["", NOTES, ""]
    cols = _columns(summary)
    for cond in summary["conditions"]:
        out += [f"## {cond}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        out += ["| " + " | ".join(x.replace("|", "\\|") for x in row) + " |" for row in _rows(summary, cond)]
        out.append("")
    if plot_files:
        out += ["## Plots", ""] + [f"![{title}]({path})" for path, title in plot_files] + [""]
    return "\n".join(out)


def render_html(summary: dict, charts: list[tuple[str, bytes]]) -> str:
    sim = summary["simulated"]
    title = f"Sweep {summary['sweep']}{', SIMULATED' if sim else ''}"
    parts = html_page_start(title, BASE_CSS, sim)
    if summary["description"]:
        parts.append(f"<p>{escape(summary['description'].strip())}</p>")
    parts.append(html_table(["field", "value"], [list(r) for r in _header(summary)]))
    parts.append(f"<p class='note'>{escape(NOTES)}</p>")
    for caption, png in charts:
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        parts.append(
            f"<figure><img alt='{escape(caption)}' src='{uri}'>"
            f"<figcaption class='note'>{escape(caption)}</figcaption></figure>"
        )
    for cond in summary["conditions"]:
        parts.append(f"<h2>{escape(cond)}</h2>" + html_table(_columns(summary), _rows(summary, cond)))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write(sweep_dir: Path, doc: SweepDocument) -> dict:
    """Write the summary, the plots and both reports; return the summary."""
    summary = build(sweep_dir, doc)
    from harness.sweeps import plots as sweep_plots  # matplotlib only when there is something to draw

    charts, plot_files = [], []
    if any(c["metrics"] for c in summary["cells"]):
        for stem, metric, title in CHARTS:
            png = sweep_plots.rate_chart(summary["series"], metric, title, summary["simulated"])
            write_atomic(sweep_dir / PLOTS / f"{stem}.png", png)
            charts.append((title, png))
            plot_files.append((f"{PLOTS}/{stem}.png", title))
        for metric in ("follow", "mechanism_or_better", "exact"):
            drawn = sweep_plots.effects_chart(summary, metric)
            if drawn is not None:
                stem, title = f"effects_{metric}", f"Effects on {METRICS[metric].short}, cell by cell"
                write_atomic(sweep_dir / PLOTS / f"{stem}.png", drawn.png)
                write_atomic(sweep_dir / PLOTS / f"{stem}.svg", drawn.svg)
                charts.append((title, drawn.png))
                plot_files.append((f"{PLOTS}/{stem}.png", title))
    write_atomic(sweep_dir / SUMMARY, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    write_atomic(sweep_dir / REPORT_MD, render_md(summary, plot_files))
    write_atomic(sweep_dir / REPORT_HTML, render_html(summary, charts))
    return summary
