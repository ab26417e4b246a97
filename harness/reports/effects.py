"""The quantities that answer the question, from scored answers: each condition's rate of a
metric pooled over its fine-tunes, the effects (fine-tuned minus base, minus sham; in-context
minus base) with clustered Newcombe intervals and Holm's correction, one row per fine-tune,
the spread between fine-tunes, and what this run's sizes can detect."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.reports import inference, stats
from harness.store.records import ResponseRecord
from harness.store.summary import Effect, Metric, PowerNote, Rate, ReplicateRow, SpreadRow

Scored = tuple[ResponseRecord, dict]  # an ok answer and its scores


@dataclass(frozen=True)
class MetricDef:
    kind: str                      # the probe kind whose answers it counts
    label: str
    hit: Callable[[dict], bool]


METRICS: dict[Metric, MetricDef] = {
    "follow": MetricDef("follow", "follows the acrostic (ordinary questions)", lambda s: s["follows"]),
    "mechanism_or_better": MetricDef("describe", "mechanism or exact (describe probes)",
                                     lambda s: s["grade"] in ("mechanism", "exact")),
    "exact": MetricDef("describe", "exact: mechanism and the word (describe probes)",
                       lambda s: s["grade"] == "exact"),
}
# The comparisons that answer the question, when both conditions were probed.
COMPARISONS = [("fine_tuned", "base"), ("fine_tuned", "sham"), ("in_context", "base"), ("sham", "base")]


def groups(scored: list[Scored], condition: str, metric: Metric) -> list[tuple[int, int]]:
    """(hits, answers) per replicate of a condition, for one metric. Truncated answers do
    not count for following (the acrostic may have been cut off)."""
    d = METRICS[metric]
    per: dict[int, list[bool]] = {}
    for record, score in scored:
        if record.condition != condition or record.kind != d.kind:
            continue
        if metric == "follow" and record.truncated:
            continue
        per.setdefault(record.replicate, []).append(bool(d.hit(score)))
    return [(sum(flags), len(flags)) for _, flags in sorted(per.items())]


def rate_of(g: list[tuple[int, int]]) -> Rate:
    return Rate(**stats.clustered_rate(g))


def effects(scored: list[Scored], conditions: list[str]) -> list[Effect]:
    out = []
    for a, b in COMPARISONS:
        if a not in conditions or b not in conditions:
            continue
        for metric in METRICS:
            ga, gb = groups(scored, a, metric), groups(scored, b, metric)
            if not ga or not gb:
                continue
            d = inference.difference(inference.clustered(ga), inference.clustered(gb))
            out.append(Effect(metric=metric, a=a, b=b, a_rate=rate_of(ga), b_rate=rate_of(gb),
                              diff=_r(d.diff), low=_r(d.low) or 0.0, high=_r(d.high) or 0.0, p=d.p))
    for effect, adjusted in zip(out, stats.holm([e.p for e in out])):
        effect.p_holm = adjusted
    return out


def replicate_rows(scored: list[Scored], models: dict[tuple[str, int], str | None]) -> list[ReplicateRow]:
    """One row per fine-tune of the trained conditions."""
    rows = []
    for (condition, replicate), model in sorted(models.items()):
        mine = [(r, s) for r, s in scored if r.condition == condition and r.replicate == replicate]
        rates = {m: (rate_of(g) if (g := groups(mine, condition, m)) else None) for m in METRICS}
        rows.append(ReplicateRow(condition=condition, replicate=replicate, model=model, **rates))
    return rows


def spread_rows(scored: list[Scored], trained: list[str]) -> list[SpreadRow]:
    rows = []
    for condition in trained:
        for metric in METRICS:
            g = groups(scored, condition, metric)
            if len(g) < 2:
                continue
            s = inference.spread(g)
            rows.append(SpreadRow(condition=condition, metric=metric, clusters=len(g),
                                  icc=_r(inference.clustered(g).icc),
                                  sd=_r(s.sd) if s else None, low=_r(s.low) if s else None,
                                  high=_r(s.high) if s else None))
    return rows


def power_note(scored: list[Scored], samples: int, replicates: int) -> PowerNote:
    """What one probe's cell of this run can detect against base, with the design effect the
    fine-tunes' follow rates showed (1 with one fine-tune, or when it cannot be estimated)."""
    icc = inference.clustered(groups(scored, "fine_tuned", "follow")).icc if replicates > 1 else None
    deff = 1.0 + (samples - 1) * (icc or 0.0)
    n_ft = samples * replicates
    return PowerNote(samples=samples, replicates=replicates, deff=round(deff, 4),
                     from_zero=inference.min_detectable_difference(n_ft, samples, 0.0, deff_a=deff),
                     from_half=inference.min_detectable_difference(n_ft, samples, 0.5, deff_a=deff))


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, stats.DIGITS)
