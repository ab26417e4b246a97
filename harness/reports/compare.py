"""`harness compare RUN_DIR...`: runs side by side (e.g. HELLO vs HELOL vs AKEWO). Each run
is re-scored from its files (no model is called) with the same code as its own report, so
every rate, effect and mark of a run here is the one its report.md shows. What compare adds
are differences BETWEEN runs: for each metric the difference in differences (fine-tuned
minus base in one run, minus the same in the other), and the pairwise differences of the
rates, with MOVER intervals and Holm's correction over those between-run differences.

No figure here pools what the reports keep apart: the metrics are the reports' (free describe
probes for mechanism+ and exact, one-line probes apart), and per-probe rows are shown only
for probes that every run asked (matched by id and kind)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from harness.analysis import inference, metrics, stats
from harness.analysis.metrics import METRICS, Tallies
from harness.analysis.summary import Digest, primary_condition
from harness.errors import StoreError
from harness.reports.write import run_info
from harness.store import run_dir
from harness.store.run_dir import RunStore
from harness.store.summary import Summary

# Per probe kind, the rates of a per-probe row: (name, label, what counts).
CELL_RATES: dict[str, list[tuple[str, str, metrics.Count]]] = {
    "follow": [("follow", "follows", metrics.FOLLOWS)],
    "describe": [
        ("mechanism_or_better", "mechanism+", metrics.MECHANISM_OR_BETTER),
        ("exact", "exact", metrics.grade_count("exact")),
    ],
    "word": [("word_correct", "names word", lambda t: (t.word_correct, t.n))],
    "choice": [("choice_correct", "picks word", lambda t: (t.choice_correct, t.n))],
}


class CompareError(Exception):
    """A run directory that cannot be compared (missing, or not a run)."""


def newest_run(path: Path) -> Path:
    """A run directory, or the newest run in a scenario's folder (store.run_dir.newest_run)."""
    try:
        return run_dir.newest_run(path)
    except StoreError as e:
        raise CompareError(str(e)) from None


@dataclass
class Loaded:
    dir: Path
    summary: Summary
    tallies: Tallies
    probes: dict[str, tuple[str, str]]  # probe id -> (kind, style)


def _load(path: Path) -> Loaded:
    found = newest_run(path)
    store = RunStore(found)
    try:
        manifest, state = store.read_manifest(), store.read_state()
        info = run_info(manifest, state, store.events())
        digest = Digest(
            manifest.scenario, info.conditions, cross=store.cross_predictions()[0], cross_model=info.cross_model
        )
        for r in store.answers():  # streamed: a comparison keeps counts, never the records
            digest.add(r)
        summary, tallies = digest.summarize(info)
    except StoreError as e:
        raise CompareError(str(e)) from None
    probes = {key[1]: (t.kind, t.style) for key, t in tallies.cells.items()}
    return Loaded(found, summary, tallies, probes)


LABEL_TAIL = 6  # characters of a run id's random end: enough to tell runs of one scenario apart


def _labels(runs: list[Loaded]) -> list[str]:
    """The scenario's name; runs of one scenario add the shortest end of their directory names
    that tells them apart (a run id ends in 6 random hex digits), or #1, #2... when none does:
    labels head every column, so they stay short (they reached 400 characters)."""
    names = [r.summary.scenario for r in runs]
    labels = list(names)
    for name in set(names):
        group = [i for i, n in enumerate(names) if n == name]
        if len(group) == 1:
            continue
        dirs = [runs[i].dir.resolve().name for i in group]
        width = next((w for w in range(LABEL_TAIL, 21) if len({d[-w:] for d in dirs}) == len(dirs)), None)
        for k, (i, d) in enumerate(zip(group, dirs), 1):
            labels[i] = f"{name} ({d[-width:]})" if width else f"{name} #{k}"
    return labels


def _diff(d: inference.Difference, **extra: Any) -> dict:
    return {**extra, "diff": d.diff, "low": d.low, "high": d.high, "p": d.p}


def _did_rows(runs: list[Loaded], pairs: list[tuple[int, int]]) -> list[dict]:
    """Per metric: each run's own effect of its primary condition against base (from its
    report, mark included), and for each pair of runs the difference of those effects."""
    primaries = [primary_condition([m.condition for m in r.summary.metrics]) for r in runs]
    if any(p is None or p != primaries[0] for p in primaries):
        return []
    a = primaries[0]
    assert a is not None
    rows = []
    for metric in METRICS:
        effects = [
            next((e for e in r.summary.effects if (e.metric, e.a, e.b) == (metric, a, "base")), None) for r in runs
        ]
        if any(e is None or e.diff is None for e in effects):
            continue
        ft = [metrics.clustered(metrics.metric_sample(r.tallies, a, metric)) for r in runs]
        base = [metrics.clustered(metrics.metric_sample(r.tallies, "base", metric)) for r in runs]
        rows.append(
            {
                "metric": metric,
                "a": a,
                "effects": [e.model_dump() for e in effects if e is not None],
                "diffs": [_diff(inference.diff_in_diff(ft[i], base[i], ft[j], base[j]), a=i, b=j) for i, j in pairs],
            }
        )
    return rows


def _rate_rows(runs: list[Loaded], pairs: list[tuple[int, int]]) -> list[dict]:
    """Every (condition, metric) all runs have, then every probe all runs asked (same id and
    kind), each run's rate as its report shows it, and each pair's difference."""
    conditions = [c for c in dict.fromkeys(m.condition for m in runs[0].summary.metrics)]
    rows = []
    for cond in conditions:
        for metric in METRICS:
            samples = [metrics.metric_sample(r.tallies, cond, metric) for r in runs]
            if all(s.n for s in samples):
                rows.append(_row(cond, "(all, as in the report)", METRICS[metric].short, samples, pairs))
        shared = [p for p, kind in runs[0].probes.items() if all(r.probes.get(p) == kind for r in runs[1:])]
        for probe in shared:
            kind = runs[0].probes[probe][0]
            for _, label, count in CELL_RATES[kind]:
                samples = [metrics.sample(r.tallies, cond, count, probe=probe) for r in runs]
                if all(s.n for s in samples):
                    rows.append(_row(cond, probe, label, samples, pairs))
    return rows


def _row(cond: str, probe: str, label: str, samples: list[metrics.Sample], pairs: list[tuple[int, int]]) -> dict:
    return {
        "condition": cond,
        "probe": probe,
        "metric": label,
        "rates": [metrics.rate(s) for s in samples],
        "diffs": [_diff(metrics.difference(samples[i], samples[j]), a=i, b=j) for i, j in pairs],
    }


def compare(run_dirs: list[Path]) -> dict:
    """Each run's effects (as its report), the differences in differences between runs, and
    the rates side by side with pairwise differences."""
    if len(run_dirs) < 2:
        raise CompareError("compare needs at least two run directories")
    for d in map(Path, run_dirs):  # a typo anywhere is named before any run is read
        if not d.is_dir():
            raise CompareError(f"{d}: not a directory" if d.exists() else f"{d}: no such directory")
    runs = [_load(Path(d)) for d in run_dirs]
    labels = _labels(runs)
    pairs = list(combinations(range(len(runs)), 2))
    did, rows = _did_rows(runs, pairs), _rate_rows(runs, pairs)
    # One family: every difference between runs on the page. Holm keeps the chance of any
    # false "**" among them at 5%, however many words and probes are compared.
    diffs = [d for row in did + rows for d in row["diffs"]]
    for d, adjusted in zip(diffs, stats.holm([d["p"] for d in diffs])):
        d["p_holm"] = adjusted
    info = [
        {
            "label": label,
            "dir": str(r.dir),
            "replicates": r.summary.replicates,
            **r.summary.model_dump(
                include={"scenario", "word", "backend", "simulated", "samples", "temperature", "seed"}
            ),
        }
        for label, r in zip(labels, runs)
    ]
    return {
        "simulated": any(bool(r["simulated"]) for r in info),
        "runs": info,
        "pairs": [list(p) for p in pairs],
        "did": did,
        "rows": rows,
    }


# --- rendering --------------------------------------------------------------------------


def fmt_diff(d: dict) -> str:
    return metrics.fmt_diff(d["diff"], d["low"], d["high"], d.get("p"), d.get("p_holm"))


def fmt_effect(e: dict) -> str:
    return metrics.fmt_diff(e["diff"], e["low"], e["high"], e["p"], e["p_holm"])


NOTES = (
    "Each run's rates and effects are the ones its own report shows (harness/analysis/metrics.py; "
    "mechanism+ = mechanism or exact, and exact, from free describe probes; one line = mechanism or exact "
    "from one-line probes), with their marks "
    "from Holm's correction over that run's effects. Differences between runs: percentage points with a "
    "MOVER interval from the runs' Newcombe intervals (clustered by fine-tune); "
)


def render_compare(result: dict, figure: str | None = None) -> str:
    """Markdown: the runs, each run's effects and their differences, then the rates side by side."""
    lines = []
    if result["simulated"]:
        sims = ", ".join(r["label"] for r in result["runs"] if r["simulated"])
        lines += [f"> **SIMULATED: {sims} ran on a simulated backend: not evidence about real models**", ""]
    lines += [
        "# Comparison: " + " vs ".join(r["label"] for r in result["runs"]),
        "",
        "| run | word | backend | samples | fine-tunes | temperature | seed | directory |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        backend = f"{r['backend']} (SIMULATED)" if r["simulated"] else str(r["backend"])
        lines.append(
            f"| {r['label']} | {r['word']} | {backend} | {r['samples']} | {r['replicates']} | "
            f"{r['temperature']} | {r['seed']} | {r['dir']} |"
        )
    tests = sum(d["diff"] is not None for row in result["rows"] + result["did"] for d in row["diffs"])
    family = f"all {tests} differences between runs on this page"
    lines += ["", NOTES + metrics.MARKS_NOTE.format(family=family) + ".", ""]
    labels = [r["label"] for r in result["runs"]]
    if figure:
        lines += [f"![Effects in each run]({figure})", ""]
    if result["did"]:
        a = result["did"][0]["a"]
        who = "fine-tuned" if a == "fine_tuned" else "in context"
        headers = (
            ["metric"]
            + [f"{x}: {who} − base" for x in labels]
            + [f"({labels[i]}) − ({labels[j]})" for i, j in result["pairs"]]
        )
        lines += [
            "## Effects in each run, and their differences between runs",
            "",
            "| " + " | ".join(headers) + " |",
            "|" + "---|" * len(headers),
        ]
        for row in result["did"]:
            cells = [METRICS[row["metric"]].short, *map(fmt_effect, row["effects"]), *map(fmt_diff, row["diffs"])]
            lines.append("| " + " | ".join(cells) + " |")
        lines += [""]
    lines += ["## Rates side by side", ""]
    headers = ["condition", "probe", "metric", *labels] + [f"{labels[i]} − {labels[j]}" for i, j in result["pairs"]]
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in result["rows"]:
        cells = [row["condition"], row["probe"], row["metric"]]
        cells += [metrics.fmt_rate(r) for r in row["rates"]] + [fmt_diff(d) for d in row["diffs"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if not result["rows"]:
        lines.append("\n(no condition and metric shared by all runs)")
    return "\n".join(lines) + "\n"


def effects_figure(result: dict):
    """Each run's effects, metric by metric, as a forest plot (harness.reports.figures)."""
    from harness.reports import figures

    colours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
    shapes = "osD^v<>"
    rows = []
    for row in result["did"]:
        for i, (run, e) in enumerate(zip(result["runs"], row["effects"])):
            rows.append(
                figures.ForestRow(
                    f"{METRICS[row['metric']].short}: {run['label']}",
                    e["diff"],
                    e["low"],
                    e["high"],
                    metrics.mark(e["p"], e["p_holm"]),
                    colours[i % len(colours)],
                    shapes[i % len(shapes)],
                )
            )
    who = "fine-tuned" if result["did"] and result["did"][0]["a"] == "fine_tuned" else "in context"
    return figures.forest(
        rows,
        f"{who} − base in each run (marks: each run's own report)",
        result["simulated"],
        "difference in percentage points (95% interval)",
    )
