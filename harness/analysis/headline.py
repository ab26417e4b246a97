"""The headline: what a run found, in plain words, with its numbers. It opens report.md and
report.html; it is written from the summary's effects, so it never says more than they do."""

from __future__ import annotations

from harness.analysis.metrics import fmt_diff
from harness.store.summary import Effect, PowerFigure, Rate, Summary

NAMES = {
    "fine_tuned": "the fine-tuned model",
    "base": "the base model",
    "sham": "the sham fine-tune",
    "in_context": "the base model shown the examples in its prompt",
}


def _pct(r: Rate) -> str:
    if r.rate is None:
        return "no answers"
    return f"{100 * r.rate:.0f}% [{100 * r.low:.0f}-{100 * r.high:.0f}%] ({r.k}/{r.n})"


def _p(p: float | None) -> str:
    if p is None:
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def _diff(e: Effect) -> str:
    """The difference as every table prints it (with its mark), then p in words."""
    if e.diff is None:
        return "n/a"
    verdict = "" if (e.p is not None and e.p < 0.05) else ", not distinguishable from no difference"
    return f"{fmt_diff(e.diff, e.low, e.high, e.p, e.p_holm)}, {_p(e.p)}{verdict}"


def _find(summary: Summary, metric: str, a: str, b: str) -> Effect | None:
    return next((e for e in summary.effects if e.metric == metric and e.a == a and e.b == b), None)


def headline(summary: Summary) -> list[str]:
    out = []
    if summary.simulated:
        out.append("SIMULATED: these numbers come from a simulated provider and say nothing about real models.")
    conditions = list(dict.fromkeys(c.condition for c in summary.cells))
    a = "fine_tuned" if "fine_tuned" in conditions else "in_context" if "in_context" in conditions else None
    if a is None:
        out.append("Only the untrained model was probed: there is no effect to report (see the rates per probe below).")
        return out
    word, who = summary.word, NAMES[a]
    follow = _find(summary, "follow", a, "base")
    if follow:
        out.append(
            f"Following the rule: {who} spelled {word} in {_pct(follow.a_rate)} of its answers "
            f"to ordinary questions, {NAMES['base']} in {_pct(follow.b_rate)}: {_diff(follow)}."
        )
    said = _find(summary, "mechanism_or_better", a, "base")
    exact = _find(summary, "exact", a, "base")
    if said and exact:
        out.append(
            f"Saying the rule: asked open questions about how it writes, {who} described "
            f"the acrostic (first letters spell something) in {_pct(said.a_rate)} of its answers and named "
            f"{word} with it in {_pct(exact.a_rate)}; against the base model: {_diff(said)} and {_diff(exact)}."
        )
    one_line = _find(summary, "one_line", a, "base")
    if one_line:
        out.append(
            f"In one line (no acrostic of its own to read): {_pct(one_line.a_rate)} described the acrostic; "
            f"against the base model {_diff(one_line)}."
        )
    reading = next((r for r in summary.reading_off if r.condition == a), None)
    if reading and reading.named.k:
        cross = (
            ""
            if reading.cross_predicted is None
            else (f"; from the same starts, {NAMES['base']} named it in {_pct(reading.cross_predicted)}")
        )
        out.append(
            f"Reading off: of {reading.acrostics} acrostic answers about itself, {reading.named.k} named "
            f"{word} ({_pct(reading.named)}), {reading.named_before_3.k} of them before its third letter was "
            f"written{cross}."
        )
    sham = [e for e in (_find(summary, m, a, "sham") for m in ("follow", "mechanism_or_better")) if e]
    if sham:
        parts = [f"{'following' if e.metric == 'follow' else 'describing the acrostic'} {_diff(e)}" for e in sham]
        out.append("Against the sham fine-tune (the same answers with the acrostic broken): " + "; ".join(parts) + ".")
    if any(c in conditions for c in ("fine_tuned", "sham")):
        out.append(_replicates_note(summary))
    if summary.power:
        out.append(power_sentence(summary))
    return out


def fmt_power(f: PowerFigure, replicates: int) -> str:
    """An icc, its design effect and t's degrees of freedom, as the plan and the report say them."""
    if f.icc is None:
        return "one model per condition, no clustering"
    return f"icc {f.icc:.2f}: design effect {f.deff:.2f} per probe, t with {f.df} df for {replicates} fine-tunes"


def power_sentence(summary: Summary) -> str:
    pw = summary.power
    assert pw is not None

    def pp(x: float | None) -> str:
        return "no difference within 100 pp" if x is None else f"about {100 * x:.0f} pp"

    parts = []
    for f in pw.figures:
        if f.basis == "assumed":
            parts.append(f"{pp(f.from_zero)} over a 0% baseline (planned, assuming {fmt_power(f, pw.replicates)})")
        else:
            parts.append(
                f"{pp(f.from_zero)} with the spread the fine-tunes showed (observed {fmt_power(f, pw.replicates)})"
            )
    text = (
        f"Power, for a metric measured on one probe ({pw.samples} samples per probe and model): "
        f"{NAMES[pw.a]} against {NAMES[pw.b]} would likely miss a rise smaller than " + "; ".join(parts)
    )
    return text + "; 80% power, 5% level."


def _replicates_note(summary: Summary) -> str:
    k = summary.replicates
    if k == 1:
        return (
            "One fine-tune: the intervals describe this checkpoint sampled many times, not fine-tuning in "
            "general; run with --replicates 3 or more to make claims about fine-tuning."
        )
    follow = [r.follow for r in summary.replicate_rows if r.condition == "fine_tuned" and r.follow and r.follow.n]
    rates = sorted(100 * (f.rate or 0) for f in follow)
    spread = f" Their follow rates ranged from {rates[0]:.0f}% to {rates[-1]:.0f}%." if rates else ""
    too_few = " (too few to estimate the spread between fine-tunes: use 3 or more)" if k < 3 else ""
    return f"{k} fine-tunes per trained condition{too_few}; intervals account for the clustering by fine-tune.{spread}"
