"""The tables of a run's numbers that come first in report.md and report.html: every
condition's rate of every metric, the effects, one row per fine-tune, the spread between
fine-tunes and what the run could detect (the per-probe tables are in tables.py)."""

from __future__ import annotations

from harness.analysis import metrics
from harness.analysis.headline import fmt_power
from harness.analysis.metrics import METRICS, fmt_diff, fmt_rate
from harness.reports.tables import METRIC_LABELS, Table, fmt_p
from harness.store.summary import Rate, Summary


def effect_tables(summary: Summary) -> list[Table]:
    """Each condition's rate of every metric; the effects that answer the question, one row per
    comparison and metric; then one row per fine-tune, the spread between fine-tunes, and what
    the run could detect."""
    out = []
    conditions = list(dict.fromkeys(m.condition for m in summary.metrics))
    if summary.metrics:
        t = Table(
            "Rates: each condition, each metric",
            ["metric", *conditions],
            note="Rate [95% interval] (k/n). Continuity-corrected Wilson intervals; "
            + (
                "a condition with several fine-tunes is clustered by fine-tune (effective sample size, and t with "
                "fine-tunes - 1 degrees of freedom), one model by the wording asked. "
                if summary.fine_tunes > 1
                else "each condition probes one model, clustered by the wording asked. "
            )
            + "The same numbers as the effects below, the terminal, `compare` and "
            "the sweep report (harness/analysis/metrics.py defines them).",
        )
        by: dict[tuple[str, str], Rate] = {(m.condition, m.metric): m.rate for m in summary.metrics}
        for name in METRICS:
            if any((c, name) in by for c in conditions):
                t.rows.append([METRIC_LABELS[name], *(fmt_rate(by.get((c, name))) or "–" for c in conditions)])
        out.append(t)
    if summary.effects:
        t = Table(
            "Effects: differences between conditions",
            ["metric", "comparison", "a [95% CI] (k/n)", "b [95% CI] (k/n)", "a − b [95% CI]", "p", "p (Holm)"],
            note="Differences in percentage points with Newcombe's 95% interval (continuity-corrected Wilson "
            "limits on the same effective sample sizes as the rates, so it is a little wider than the rates' "
            "own intervals). p is the p-value that interval implies; "
            + metrics.MARKS_NOTE.format(family="every effect in this table")
            + ". Truncated answers are left out of following.",
        )
        for e in summary.effects:
            t.rows.append(
                [
                    METRIC_LABELS[e.metric],
                    f"{e.a} − {e.b}",
                    fmt_rate(e.a_rate),
                    fmt_rate(e.b_rate),
                    fmt_diff(e.diff, e.low, e.high, e.p, e.p_holm),
                    fmt_p(e.p),
                    fmt_p(e.p_holm),
                ]
            )
        out.append(t)
    if summary.replicates > 1 and summary.replicate_rows:
        t = Table(
            "Fine-tunes, one row each",
            ["condition", "replicate", "model", "follows", "mechanism or exact", "exact"],
            note="Each fine-tune's own rates (continuity-corrected Wilson intervals): how much they differ is what the pooled "
            "intervals above account for.",
        )
        for r in summary.replicate_rows:
            t.rows.append(
                [
                    r.condition,
                    str(r.replicate),
                    r.model or "–",
                    fmt_rate(r.follow),
                    fmt_rate(r.mechanism_or_better),
                    fmt_rate(r.exact),
                ]
            )
        out.append(t)
    if summary.spread:
        t = Table(
            "Spread between fine-tunes",
            ["condition", "metric", "fine-tunes", "ICC", "SD of true rates [95% CI]"],
            note="ICC: the share of the variation between answers that lies between fine-tunes. SD: the "
            "standard deviation of the fine-tunes' true rates (sampling noise removed), the maximum-likelihood "
            "estimate of a beta-binomial model with its 95% profile-likelihood interval; it needs at least 3 "
            "fine-tunes, and with few the upper limit is large: a few fine-tunes that agree cannot rule out "
            "that others would differ.",
        )
        for sp in summary.spread:
            sd = (
                "too few fine-tunes (need 3)"
                if sp.sd is None
                else f"{metrics.pp(sp.sd, sign=False)} pp [{metrics.pp(sp.low or 0, sign=False)}, "
                f"{metrics.pp(sp.high or 0, sign=False)}]"
            )
            t.rows.append(
                [
                    sp.condition,
                    METRIC_LABELS[sp.metric],
                    str(sp.clusters),
                    "–" if sp.icc is None else f"{sp.icc:.2f}",
                    sd,
                ]
            )
        out.append(t)
    if summary.power:
        pw = summary.power
        t = Table(
            "What this run can detect",
            ["basis", "comparison", "samples per probe", "clustering", "smallest rise from 0%", "from 50%"],
            note="The smallest rise over base, for a metric measured on one probe, that would be found 80% of "
            "the time at the 5% level (exact, by enumeration, with this report's intervals). Planned: with the "
            "icc the plan assumes (as `--dry-run` printed)"
            + (
                "; observed: with the icc this run's fine-tunes showed on following." if summary.fine_tunes > 1 else "."
            ),
        )
        for f in pw.figures:
            t.rows.append(
                [
                    "planned (assumed icc)" if f.basis == "assumed" else "observed icc",
                    f"{pw.a} − {pw.b}",
                    f"{pw.samples} x {pw.replicates} fine-tune(s) vs {pw.samples}"
                    if pw.a in ("fine_tuned", "sham")
                    else f"{pw.samples} vs {pw.samples}",
                    fmt_power(f, pw.replicates),
                    _pp(f.from_zero),
                    _pp(f.from_half),
                ]
            )
        out.append(t)
    return out


def _pp(x: float | None) -> str:
    return "none within 100 pp" if x is None else f"{100 * x:.0f} pp"
