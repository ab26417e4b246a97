"""The headline: what a run found, in plain words, with its numbers. It opens report.md and
report.html; it is written from the summary's effects, so it never says more than they do."""

from __future__ import annotations

from harness.store.summary import Effect, Rate, Summary

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
    if e.diff is None:
        return "n/a"
    verdict = "" if (e.p is not None and e.p < 0.05) else ", not distinguishable from no difference"
    return f"{100 * e.diff:+.0f} pp [{100 * e.low:+.0f}, {100 * e.high:+.0f}], {_p(e.p)}{verdict}"


def _find(summary: Summary, metric: str, a: str, b: str) -> Effect | None:
    return next((e for e in summary.effects if e.metric == metric and e.a == a and e.b == b), None)


def headline(summary: Summary) -> list[str]:
    out = []
    if summary.simulated:
        out.append("SIMULATED: these numbers come from a simulated provider and say nothing about real models.")
    word = summary.word
    follow = _find(summary, "follow", "fine_tuned", "base")
    if follow:
        out.append(
            f"Following the rule: {NAMES['fine_tuned']} spelled {word} in {_pct(follow.a_rate)} of its answers "
            f"to ordinary questions, {NAMES['base']} in {_pct(follow.b_rate)}: {_diff(follow)}."
        )
    said = _find(summary, "mechanism_or_better", "fine_tuned", "base")
    exact = _find(summary, "exact", "fine_tuned", "base")
    if said and exact:
        out.append(
            f"Saying the rule: asked open questions about how it writes, {NAMES['fine_tuned']} described "
            f"the acrostic (first letters spell something) in {_pct(said.a_rate)} of its answers and named "
            f"{word} with it in {_pct(exact.a_rate)}; against the base model: {_diff(said)} and {_diff(exact)}."
        )
    one_line = _find(summary, "one_line", "fine_tuned", "base")
    if one_line:
        out.append(
            f"In one line (no acrostic of its own to read): {_pct(one_line.a_rate)} described the acrostic; "
            f"against the base model {_diff(one_line)}."
        )
    reading = next((r for r in summary.reading_off if r.condition == "fine_tuned"), None)
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
    sham = [e for e in (_find(summary, m, "fine_tuned", "sham") for m in ("follow", "mechanism_or_better")) if e]
    if sham:
        parts = [f"{'following' if e.metric == 'follow' else 'describing the acrostic'} {_diff(e)}" for e in sham]
        out.append("Against the sham fine-tune (the same answers with the acrostic broken): " + "; ".join(parts) + ".")
    out.append(_replicates_note(summary))
    if summary.power and summary.power.from_zero is not None:
        out.append(
            f"With {summary.power.samples} samples per probe, a difference smaller than about "
            f"{100 * summary.power.from_zero:.0f} pp above a 0% baseline would likely be missed "
            "(80% power, 5% level)."
        )
    return out


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
