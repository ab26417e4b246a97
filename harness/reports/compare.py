"""`harness compare RUN_DIR...`: runs side by side (e.g. HELLO vs HELOL vs AKEWO), each rate
with its 95% interval; for each pair of runs the difference, and the difference in
differences (fine-tuned minus base in one run, minus the same in the other), with
Newcombe intervals clustered by fine-tune and Holm's correction over the table. Samples are
re-scored from responses.jsonl; no model is called."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

from harness.analysis import inference, stats
from harness.analysis.summary import score_record
from harness.domain.scoring import PROBE_KINDS
from harness.errors import StoreError
from harness.reports.tables import fmt_rate
from harness.store.records import canonical
from harness.store.run_dir import SUMMARY, RunStore
from harness.store.summary import Rate

Flag = Callable[[dict], bool]
# Per probe kind, the rates compared: (metric name, label, per-sample predicate).
METRICS: dict[str, list[tuple[str, str, Flag]]] = {
    "follow": [("follow", "follow", lambda s: s["follows"])],
    "describe": [
        ("exact", "exact", lambda s: s["grade"] == "exact"),
        ("mechanism_or_better", "mechanism or exact", lambda s: s["grade"] in ("mechanism", "exact")),
    ],
    "word": [("word_correct", "word correct", lambda s: s["word"]["correct"])],
    "choice": [("choice_correct", "choice correct", lambda s: s["choice"]["correct"])],
}
LABELS = {name: label for metrics in METRICS.values() for name, label, _ in metrics}
Scores = list[tuple[int, dict]]  # (replicate, scores) of the ok answers of a cell


class CompareError(Exception):
    """A run directory that cannot be compared (missing, or no readable summary.json)."""


def _load(run_dir: Path) -> dict:
    """A run's summary and, per (condition, probe), its kind and scored ok samples."""
    if not run_dir.is_dir():  # a typo is not "run `harness report` first"
        raise CompareError(f"{run_dir}: not a directory" if run_dir.exists() else f"{run_dir}: no such directory")
    store = RunStore(run_dir)
    if not store.path(SUMMARY).exists():
        raise CompareError(f"{run_dir}: no summary.json (run `harness report {run_dir}` first)")
    try:
        summary = store.read_summary()
        records, _ = store.responses()
    except StoreError as e:
        raise CompareError(str(e)) from None
    scores: dict[tuple[str, str], Scores] = {(c.condition, c.probe): [] for c in summary.cells}
    for r in canonical(records):
        if r.ok:
            scores.setdefault((r.condition, r.probe), []).append(
                (r.replicate, score_record(r, summary.word, summary.unit))
            )
    kinds = {c.probe: c.kind for c in summary.cells}
    for r in records:
        kinds.setdefault(r.probe, r.kind)
    return {"dir": run_dir, "summary": summary, "scores": scores, "kinds": kinds}


LABEL_TAIL = 6  # characters of a run id's random end: enough to tell runs of one scenario apart


def _labels(runs: list[dict]) -> list[str]:
    """The scenario's name; runs of one scenario add the shortest end of their directory names
    that tells them apart (a run id ends in 6 random hex digits), or #1, #2... when none does:
    labels head every column, so they stay short (they reached 400 characters)."""
    names = [r["summary"].scenario for r in runs]
    labels = list(names)
    for name in set(names):
        group = [i for i, n in enumerate(names) if n == name]
        if len(group) == 1:
            continue
        dirs = [runs[i]["dir"].resolve().name for i in group]
        width = next((w for w in range(LABEL_TAIL, 21) if len({d[-w:] for d in dirs}) == len(dirs)), None)
        for k, (i, d) in enumerate(zip(group, dirs), 1):
            labels[i] = f"{name} ({d[-width:]})" if width else f"{name} #{k}"
    return labels


def _rows_for(runs: list[dict]) -> list[tuple[str, str, str, str, list[Scores]]]:
    """(condition, probe label, kind, match, per-run scored samples): probes matched by id
    in every run ("probe"); shared follow probes together ("pooled"); probes without a
    match pooled by kind where every run has some ("kind")."""
    conds = [
        c
        for c in dict.fromkeys(k[0] for k in runs[0]["scores"])
        if all(any(k[0] == c for k in r["scores"]) for r in runs)
    ]
    out = []
    for cond in conds:
        probes = [[p for (c, p) in r["scores"] if c == cond] for r in runs]
        shared = [
            p for p in probes[0] if all(p in ps and r["kinds"][p] == runs[0]["kinds"][p] for ps, r in zip(probes, runs))
        ]
        for p in shared:
            out.append((cond, p, runs[0]["kinds"][p], "probe", [r["scores"][(cond, p)] for r in runs]))
        shared_follow = [p for p in shared if runs[0]["kinds"][p] == "follow"]
        if len(shared_follow) > 1:  # the overall follow rate, over the same questions in every run
            out.append(
                (
                    cond,
                    "(shared follow probes)",
                    "follow",
                    "pooled",
                    [[s for p in shared_follow for s in r["scores"][(cond, p)]] for r in runs],
                )
            )
        for kind in PROBE_KINDS:
            rest = [[p for p in ps if p not in shared and r["kinds"][p] == kind] for ps, r in zip(probes, runs)]
            if all(rest):
                pooled = [[s for p in ps for s in r["scores"][(cond, p)]] for ps, r in zip(rest, runs)]
                out.append((cond, f"(unshared {kind} probes)", kind, "kind", pooled))
    return out


def _groups(samples: Scores, hit: Flag) -> list[tuple[int, int]]:
    """(hits, answers) per fine-tune."""
    per: dict[int, list[bool]] = {}
    for replicate, s in samples:
        per.setdefault(replicate, []).append(bool(hit(s)))
    return [(sum(v), len(v)) for _, v in sorted(per.items())]


def _clustered(samples: Scores, hit: Flag) -> inference.Clustered:
    return inference.clustered(_groups(samples, hit))


def _diff(d: inference.Difference, **extra: Any) -> dict:
    return {**extra, "diff": d.diff, "low": d.low, "high": d.high, "p": d.p}


def _pooled(run: dict, condition: str, kind: str) -> Scores:
    return [
        s for (c, p), scores in run["scores"].items() if c == condition and run["kinds"].get(p) == kind for s in scores
    ]


def _did_rows(runs: list[dict], pairs: list[tuple[int, int]]) -> list[dict]:
    """Per metric: (fine-tuned minus base) of each run, and for each pair of runs the
    difference of those differences (HELLO's effect minus HELOL's)."""
    if not all(any(c == cond for c, _ in r["scores"]) for r in runs for cond in ("fine_tuned", "base")):
        return []
    rows = []
    for kind in ("follow", "describe"):
        for name, _, hit in METRICS[kind]:
            ft = [_clustered(_pooled(r, "fine_tuned", kind), hit) for r in runs]
            base = [_clustered(_pooled(r, "base", kind), hit) for r in runs]
            if not all(x.n for x in ft + base):
                continue
            rows.append(
                {
                    "metric": name,
                    "kind": kind,
                    "effects": [_diff(inference.difference(f, b)) for f, b in zip(ft, base)],
                    "diffs": [
                        _diff(inference.diff_in_diff(ft[i], base[i], ft[j], base[j]), a=i, b=j) for i, j in pairs
                    ],
                }
            )
    return rows


def compare(run_dirs: list[Path]) -> dict:
    """Rows of rates over the cells the runs share, with pairwise differences, and the
    differences in differences of fine-tuned minus base."""
    if len(run_dirs) < 2:
        raise CompareError("compare needs at least two run directories")
    runs = [_load(Path(d)) for d in run_dirs]
    labels = _labels(runs)
    pairs = list(combinations(range(len(runs)), 2))
    rows: list[dict[str, Any]] = []
    for cond, probe, kind, match, samples in _rows_for(runs):
        if not any(samples):  # a cell no run has answers for (e.g. a condition not probed)
            continue
        for name, _, hit in METRICS[kind]:
            per_run = [_groups(run_samples, hit) for run_samples in samples]
            groups = [inference.clustered(g) for g in per_run]
            rows.append(
                {
                    "condition": cond,
                    "probe": probe,
                    "kind": kind,
                    "match": match,
                    "metric": name,
                    "rates": [Rate(**stats.clustered_rate(g)) for g in per_run],
                    "diffs": [_diff(inference.difference(groups[i], groups[j]), a=i, b=j) for i, j in pairs],
                }
            )
    did = _did_rows(runs, pairs)
    # One family: every difference in the tables. Holm keeps the chance of any false "**"
    # among them at 5%, however many words and probes are compared.
    diffs = [d for row in rows + did for d in row["diffs"]]
    for d, adjusted in zip(diffs, stats.holm([d["p"] for d in diffs])):
        d["p_holm"] = adjusted
    info = [
        {
            "label": label,
            "dir": str(r["dir"]),
            "replicates": r["summary"].replicates,
            **r["summary"].model_dump(
                include={"scenario", "word", "backend", "simulated", "samples", "temperature", "seed"}
            ),
        }
        for label, r in zip(labels, runs)
    ]
    return {
        "simulated": any(bool(r["simulated"]) for r in info),
        "runs": info,
        "pairs": [list(p) for p in pairs],
        "rows": rows,
        "did": did,
    }


# --- rendering --------------------------------------------------------------------------


def fmt_diff(d: dict) -> str:
    """Percentage points with the 95% interval; * when the interval excludes 0 (p < 0.05),
    ** when the difference also holds after Holm's correction over the whole table."""
    if d["diff"] is None:
        return "n/a"

    def below(key: str) -> bool:
        return d.get(key) is not None and d[key] < 0.05

    star = "**" if below("p_holm") else "*" if below("p") else ""
    return f"{100 * d['diff']:+.0f} pp [{100 * d['low']:+.0f}, {100 * d['high']:+.0f}]{star}"


def _grid(result: dict) -> tuple[list[str], list[list[str]]]:
    labels = [r["label"] for r in result["runs"]]
    headers = ["condition", "probe", "metric"] + labels + [f"{labels[a]} − {labels[b]}" for a, b in result["pairs"]]
    rows = [
        [row["condition"], row["probe"], LABELS[row["metric"]]]
        + [fmt_rate(r) for r in row["rates"]]
        + [fmt_diff(d) for d in row["diffs"]]
        for row in result["rows"]
    ]
    return headers, rows


NOTES = (
    "Rates: 95% Wilson intervals (k/n), on effective sample sizes when a run has several fine-tunes. "
    "Differences: percentage points with Newcombe's 95% interval (continuity-corrected, clustered by "
    "fine-tune); * = the interval excludes 0 (p < 0.05, the p that interval implies); ** = still below "
    "0.05 after Holm's correction over all {tests} differences on this page, which is what to cite when "
    "many words or probes are compared."
)


def render_compare(result: dict) -> str:
    """Markdown: run list, the difference-in-differences table, then one row per shared cell and metric."""
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
    lines += ["", NOTES.format(tests=tests), ""]
    labels = [r["label"] for r in result["runs"]]
    if result["did"]:
        headers = (
            ["metric"]
            + [f"{x}: fine-tuned − base" for x in labels]
            + [f"({labels[a]}) − ({labels[b]})" for a, b in result["pairs"]]
        )
        lines += [
            "## Effects of fine-tuning, and their differences between runs",
            "",
            "| " + " | ".join(headers) + " |",
            "|" + "---|" * len(headers),
        ]
        lines += [
            "| "
            + " | ".join([LABELS[row["metric"]], *map(fmt_diff, row["effects"]), *map(fmt_diff, row["diffs"])])
            + " |"
            for row in result["did"]
        ]
        lines += ["", "## Rates side by side", ""]
    headers, rows = _grid(result)
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    if not rows:
        lines.append("\n(no condition and probe shared by all runs)")
    return "\n".join(lines) + "\n"
