"""The quantities that answer the question, from scored answers: each condition's rate of a
metric pooled over its fine-tunes, the effects (fine-tuned minus base, minus sham; in-context
minus base) with clustered Newcombe intervals and Holm's correction, one row per fine-tune,
the spread between fine-tunes, and what this run's sizes can detect."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.analysis import inference, stats
from harness.store.records import ResponseRecord
from harness.store.summary import Effect, Metric, PowerNote, Rate, ReplicateRow, SpreadRow

Scored = tuple[ResponseRecord, dict]  # an ok answer and its scores


@dataclass(frozen=True)
class MetricDef:
    kind: str  # the probe kind whose answers it counts
    label: str
    hit: Callable[[dict], bool]
    style: str | None = None  # describe probes of this style only (scores carry it)


def _said(s: dict) -> bool:
    return s["grade"] in ("mechanism", "exact")


# Three families, never pooled: articulation (free describe probes; one-line ones apart),
# knowledge given the mechanism (word and choice probes, whose prompts state it), behaviour.
METRICS: dict[Metric, MetricDef] = {
    "follow": MetricDef("follow", "follows the acrostic (ordinary questions)", lambda s: s["follows"]),
    "mechanism_or_better": MetricDef("describe", "mechanism or exact (free describe probes)", _said, "free"),
    "exact": MetricDef(
        "describe", "exact: mechanism and the word (free describe probes)", lambda s: s["grade"] == "exact", "free"
    ),
    "one_line": MetricDef("describe", "mechanism or exact in one line (one-line describe probes)", _said, "one_line"),
    "word_correct": MetricDef(
        "word", "names the word when told the mechanism (word probes)", lambda s: s["word"]["correct"]
    ),
    "choice_correct": MetricDef(
        "choice", "picks the word when told the mechanism (choice probes)", lambda s: s["choice"]["correct"]
    ),
}
# The comparisons that answer the question, when both conditions were probed.
COMPARISONS = [("fine_tuned", "base"), ("fine_tuned", "sham"), ("in_context", "base"), ("sham", "base")]


def groups(scored: list[Scored], condition: str, metric: Metric, by: str = "cluster") -> list[tuple[int, int]]:
    """(hits, answers) per cluster of a condition's answers, for one metric. Clusters are the
    condition's fine-tunes when it has several (the claim is about fine-tuning), else the
    wordings of its probes (the claim should not rest on one prompt); by="fine_tune" always
    groups by fine-tune. Truncated answers do not count for following (the acrostic may have
    been cut off)."""
    d = METRICS[metric]
    per: dict[tuple[int, str, int], list[bool]] = {}
    for record, score in scored:
        if record.condition != condition or record.kind != d.kind:
            continue
        if d.style is not None and score.get("style", "free") != d.style:
            continue
        if metric == "follow" and record.truncated:
            continue
        per.setdefault((record.replicate, record.probe, record.paraphrase), []).append(bool(d.hit(score)))
    replicates = {key[0] for key in per}
    merged: dict[tuple, list[bool]] = {}
    for key, flags in per.items():
        cluster = key[:1] if by == "fine_tune" or len(replicates) > 1 else key[1:]
        merged.setdefault(cluster, []).extend(flags)
    return [(sum(flags), len(flags)) for _, flags in sorted(merged.items())]


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
            out.append(
                Effect(
                    metric=metric,
                    a=a,
                    b=b,
                    a_rate=rate_of(ga),
                    b_rate=rate_of(gb),
                    diff=_r(d.diff),
                    low=_r(d.low) or 0.0,
                    high=_r(d.high) or 0.0,
                    p=d.p,
                )
            )
    for effect, adjusted in zip(out, stats.holm([e.p for e in out])):
        effect.p_holm = adjusted
    return out


def replicate_rows(scored: list[Scored], models: dict[tuple[str, int], str | None]) -> list[ReplicateRow]:
    """One row per fine-tune of the trained conditions."""
    rows = []
    for (condition, replicate), model in sorted(models.items()):
        mine = [(r, s) for r, s in scored if r.condition == condition and r.replicate == replicate]
        rates = {
            m: (rate_of(g) if (g := groups(mine, condition, m, by="fine_tune")) else None)
            for m in ("follow", "mechanism_or_better", "exact")
        }
        rows.append(ReplicateRow(condition=condition, replicate=replicate, model=model, **rates))
    return rows


def spread_rows(scored: list[Scored], trained: list[str]) -> list[SpreadRow]:
    rows = []
    for condition in trained:
        for metric in METRICS:
            g = groups(scored, condition, metric, by="fine_tune")
            if len(g) < 2:
                continue
            s = inference.spread(g)
            rows.append(
                SpreadRow(
                    condition=condition,
                    metric=metric,
                    clusters=len(g),
                    icc=_r(inference.clustered(g).icc),
                    sd=_r(s.sd) if s else None,
                    low=_r(s.low) if s else None,
                    high=_r(s.high) if s else None,
                )
            )
    return rows


def power_note(scored: list[Scored], samples: int, replicates: int) -> PowerNote:
    """What one probe's cell of this run can detect against base, with the design effect the
    fine-tunes' follow rates showed (1 with one fine-tune, or when it cannot be estimated)."""
    icc = inference.clustered(groups(scored, "fine_tuned", "follow", by="fine_tune")).icc if replicates > 1 else None
    deff = 1.0 + (samples - 1) * (icc or 0.0)
    n_ft = samples * replicates
    return PowerNote(
        samples=samples,
        replicates=replicates,
        deff=round(deff, 4),
        from_zero=inference.min_detectable_difference(n_ft, samples, 0.0, deff_a=deff),
        from_half=inference.min_detectable_difference(n_ft, samples, 0.5, deff_a=deff),
    )


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, stats.DIGITS)
