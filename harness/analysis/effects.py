"""The quantities that answer the question, from a run's Tallies (harness.analysis.metrics):
each condition's rate of every metric, the effects (fine-tuned minus base, minus sham;
in-context minus base) with clustered Newcombe intervals and Holm's correction, one row per
fine-tune, the spread between fine-tunes, and what this run's sizes can detect."""

from __future__ import annotations

from harness.analysis import inference, metrics, stats
from harness.analysis.metrics import COMPARISONS, METRICS, Tallies
from harness.analysis.spread import spread
from harness.store.records import ResponseRecord
from harness.store.summary import (
    Effect,
    MetricRate,
    PositionRate,
    PowerFigure,
    PowerNote,
    ReplicateRow,
    SpreadRow,
)

Scored = tuple[ResponseRecord, dict]  # an ok answer and its scores

# What a plan assumes about how much fine-tunes of the same data differ (the intra-class
# correlation of their answers) before any has been trained. Reports show it beside the
# value the fine-tunes then showed.
ASSUMED_ICC = 0.05


def metric_rates(tallies: Tallies, conditions: list[str], word: str) -> list[MetricRate]:
    """Every condition's rate of every metric it has answers for, and each fine-tune's own."""
    out = []
    for condition in conditions:
        fine_tunes = tallies.fine_tunes(condition)
        for metric in METRICS:
            s = metrics.metric_sample(tallies, condition, metric)
            if not s.n:
                continue
            own = (
                [metrics.rate(metrics.metric_sample(tallies, condition, metric, replicate=r)) for r in fine_tunes]
                if s.by_fine_tune
                else []
            )
            positions = (
                [
                    PositionRate(
                        letter=letter,
                        **metrics.rate(
                            metrics.sample(tallies, condition, metrics.position_count(i), kind="follow")
                        ).model_dump(),
                    )
                    for i, letter in enumerate(word)
                ]
                if metric == "follow"
                else []
            )
            out.append(
                MetricRate(
                    condition=condition, metric=metric, rate=metrics.rate(s), fine_tunes=own, positions=positions
                )
            )
    return out


def effects(tallies: Tallies, conditions: list[str]) -> list[Effect]:
    out = []
    for a, b in COMPARISONS:
        if a not in conditions or b not in conditions:
            continue
        for metric in METRICS:
            sa, sb = metrics.metric_sample(tallies, a, metric), metrics.metric_sample(tallies, b, metric)
            if not sa.n or not sb.n:
                continue
            d = metrics.difference(sa, sb)
            out.append(
                Effect(
                    metric=metric,
                    a=a,
                    b=b,
                    a_rate=metrics.rate(sa),
                    b_rate=metrics.rate(sb),
                    diff=_r(d.diff),
                    low=_r(d.low) or 0.0,
                    high=_r(d.high) or 0.0,
                    p=d.p,
                )
            )
    for effect, adjusted in zip(out, stats.holm([e.p for e in out])):
        effect.p_holm = adjusted
        effect.mark = metrics.mark(effect.p, adjusted)
    return out


def replicate_rows(tallies: Tallies, models: dict[tuple[str, int], str | None]) -> list[ReplicateRow]:
    """One row per fine-tune of the trained conditions."""
    rows = []
    for (condition, replicate), model in sorted(models.items()):
        rates = {}
        for m in ("follow", "mechanism_or_better", "exact"):
            s = metrics.metric_sample(tallies, condition, m, replicate=replicate)
            rates[m] = metrics.rate(s) if s.n else None
        rows.append(ReplicateRow(condition=condition, replicate=replicate, model=model, **rates))
    return rows


def spread_rows(tallies: Tallies, trained: list[str]) -> list[SpreadRow]:
    rows = []
    for condition in trained:
        for metric in METRICS:
            s = metrics.metric_sample(tallies, condition, metric)
            if len(s.groups) < 2 or not s.by_fine_tune:
                continue
            sp = spread(list(s.groups))
            rows.append(
                SpreadRow(
                    condition=condition,
                    metric=metric,
                    clusters=len(s.groups),
                    icc=_r(inference.clustered(list(s.groups)).icc),
                    sd=_r(sp.sd) if sp else None,
                    low=_r(sp.low) if sp else None,
                    high=_r(sp.high) if sp else None,
                )
            )
    return rows


def power_figure(samples: int, replicates: int, icc: float | None, basis: str) -> PowerFigure:
    """The smallest rise over base, for a metric measured on one probe, that a run of these
    sizes detects 80% of the time at the 5% level (exact, by enumeration), with the intervals
    the report uses: the design effect of icc, and t with replicates - 1 degrees of freedom."""
    clustered = replicates > 1
    deff = 1.0 + (samples - 1) * (icc or 0.0) if clustered else 1.0
    df = replicates - 1 if clustered else None
    n_a = samples * replicates

    def mdd(baseline: float) -> float | None:
        return inference.min_detectable_difference(n_a, samples, baseline, deff_a=deff, df_a=df)

    return PowerFigure(
        basis=basis,
        icc=_r(icc) if clustered else None,
        deff=round(deff, 4),
        df=df,
        from_zero=mdd(0.0),
        from_half=mdd(0.5),
    )


def power_note(tallies: Tallies, a: str, samples: int, replicates: int) -> PowerNote:
    """What this run could detect for a against base: the plan's figure (assumed icc) and,
    with several fine-tunes, the figure with the icc the fine-tunes' follow rates showed."""
    reps = replicates if a in ("fine_tuned", "sham") else 1
    figures = [power_figure(samples, reps, ASSUMED_ICC, "assumed")]
    if reps > 1:
        s = metrics.metric_sample(tallies, a, "follow")
        icc = inference.clustered(list(s.groups)).icc if len(s.groups) > 1 else None
        figures.append(power_figure(samples, reps, icc or 0.0, "observed"))
    return PowerNote(a=a, b="base", samples=samples, replicates=reps, figures=figures)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, stats.DIGITS)
