"""One definition of each metric, read by every output (report.md, report.html, the terminal,
`compare`, `export`, the sweep report, summary.json).

A metric is: which answers count (a probe kind, and for describe probes a style), what
counts as a hit, how answers are clustered, which interval and which test. Everything here
works on per-cell counts (Tallies), never on the records themselves: the records can be
streamed through Tallies.add once, and every rate, effect and figure follows from the counts.

- Clusters: a condition with several fine-tunes is clustered by fine-tune (the claim is about
  fine-tuning); a condition that probes one model by the wording asked (one wording's quirks
  should not decide a rate).
- A rate's interval: the continuity-corrected Wilson interval on the effective sample size
  n / deff (deff from the clusters' intra-class correlation); with K fine-tunes also shrunk
  by (z / t_{K-1})^2 (Korn and Graubard's degrees-of-freedom correction), because the spread
  of K fine-tunes is known only to K - 1 degrees of freedom. One model: on n.
- A difference: Newcombe's interval from those same limits (a MOVER combination,
  harness.analysis.inference); its p is the one that interval implies. With b at 0/n, the
  upper limit of a - b is a's own upper limit.
- Marks: `*` p < 0.05 (the interval excludes 0); `**` also below 0.05 after Holm's
  correction over the family the output names (a run's effects; a comparison's differences).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from harness.analysis import inference, stats
from harness.domain.scoring import GRADES
from harness.store.summary import Rate

Key = tuple[str, str, int, int]  # condition, probe, replicate (fine-tune), paraphrase (wording)


@dataclass
class Tally:
    """The counts of one condition x probe x fine-tune x wording. `whole` answers were not cut
    at max_tokens: only they count for following (a cut acrostic may be unfinished)."""

    kind: str
    style: str
    n: int = 0
    whole: int = 0
    follows: int = 0
    positions: list[int] = field(default_factory=list)
    grades: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GRADES, 0))
    wrong_word: int = 0
    word_correct: int = 0
    choice_correct: int = 0

    def add(self, score: dict, truncated: bool) -> None:
        self.n += 1
        if not truncated:
            self.whole += 1
            self.follows += bool(score["follows"])
            hits = score["per_position"]
            if len(self.positions) < len(hits):
                self.positions += [0] * (len(hits) - len(self.positions))
            for i, hit in enumerate(hits):
                self.positions[i] += bool(hit)
        self.grades[score["grade"]] += 1
        self.wrong_word += score["wrong_word"] is not None
        if "word" in score:
            self.word_correct += bool(score["word"]["correct"])
        if "choice" in score:
            self.choice_correct += bool(score["choice"]["correct"])


class Tallies:
    """Every cell's counts, filled one scored answer at a time."""

    def __init__(self) -> None:
        self.cells: dict[Key, Tally] = {}

    def add(self, condition: str, probe: str, replicate: int, paraphrase: int, kind: str, style: str, score: dict,
            truncated: bool) -> None:  # fmt: skip
        key = (condition, probe, replicate, paraphrase)
        tally = self.cells.get(key)
        if tally is None:
            tally = self.cells[key] = Tally(kind, style)
        tally.add(score, truncated)

    def fine_tunes(self, condition: str) -> list[int]:
        return sorted({key[2] for key in self.cells if key[0] == condition})


Count = Callable[[Tally], tuple[int, int]]  # (hits, answers) of a tally


def grade_count(*grades: str) -> Count:
    return lambda t: (sum(t.grades[g] for g in grades), t.n)


def position_count(i: int) -> Count:
    return lambda t: (t.positions[i] if i < len(t.positions) else 0, t.whole)


FOLLOWS: Count = lambda t: (t.follows, t.whole)  # noqa: E731
WRONG_WORD: Count = lambda t: (t.wrong_word, t.n)  # noqa: E731
MECHANISM_OR_BETTER = grade_count("mechanism", "exact")


@dataclass(frozen=True)
class MetricDef:
    name: str
    family: str  # behaviour | articulation | knowledge given the mechanism: never pooled together
    label: str  # spelled out (report.md)
    short: str  # the terminal's and the figures' name
    kind: str  # the probe kind whose answers count
    count: Count
    style: str | None = None  # describe probes: only this style


METRICS: dict[str, MetricDef] = {
    m.name: m
    for m in [
        MetricDef("follow", "behaviour", "follows the acrostic (follow probes)", "follows", "follow", FOLLOWS),
        MetricDef(
            "mechanism_or_better",
            "articulation",
            "mechanism or exact (free describe probes)",
            "mechanism+",
            "describe",
            MECHANISM_OR_BETTER,
            "free",
        ),
        MetricDef(
            "exact",
            "articulation",
            "exact, the mechanism and the word (free describe probes)",
            "exact",
            "describe",
            grade_count("exact"),
            "free",
        ),
        MetricDef(
            "one_line",
            "articulation in one line",
            "mechanism or exact (one-line describe probes)",
            "one line",
            "describe",
            MECHANISM_OR_BETTER,
            "one_line",
        ),
        MetricDef(
            "word_correct",
            "knowledge given the mechanism",
            "names the word (word probes)",
            "names word",
            "word",
            lambda t: (t.word_correct, t.n),
        ),
        MetricDef(
            "choice_correct",
            "knowledge given the mechanism",
            "picks the word (choice probes)",
            "picks word",
            "choice",
            lambda t: (t.choice_correct, t.n),
        ),
    ]
}
# The comparisons that answer the question, when both conditions were probed.
COMPARISONS = [("fine_tuned", "base"), ("fine_tuned", "sham"), ("in_context", "base"), ("sham", "base")]


def long_label(metric: str) -> str:
    d = METRICS[metric]
    return f"{d.family}: {d.label}"


# --- samples, clusters and rates --------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """(hits, answers) per cluster; by_fine_tune: the clusters are fine-tunes (a sample of
    fine-tuning), else wordings of one model's probes."""

    groups: tuple[tuple[int, int], ...]
    by_fine_tune: bool

    @property
    def k(self) -> int:
        return sum(k for k, _ in self.groups)

    @property
    def n(self) -> int:
        return sum(n for _, n in self.groups)


def sample(
    tallies: Tallies,
    condition: str,
    count: Count,
    kind: str | None = None,
    style: str | None = None,
    probe: str | None = None,
    paraphrase: int | None = None,
    replicate: int | None = None,
) -> Sample:
    """The answers of a condition that a metric (or a cell's rate) counts, clustered by the
    one rule: by fine-tune when the condition has several (and no single one is asked for),
    else by wording."""
    by_fine_tune = replicate is None and len(tallies.fine_tunes(condition)) > 1
    per: dict[tuple, list[int]] = {}
    for (cond, pr, rep, para), t in tallies.cells.items():
        if cond != condition or (kind is not None and t.kind != kind) or (style is not None and t.style != style):
            continue
        if (probe is not None and pr != probe) or (paraphrase is not None and para != paraphrase):
            continue
        if replicate is not None and rep != replicate:
            continue
        k, n = count(t)
        cluster = (rep,) if by_fine_tune else (pr, para)
        acc = per.setdefault(cluster, [0, 0])
        acc[0] += k
        acc[1] += n
    return Sample(tuple((k, n) for _, (k, n) in sorted(per.items()) if n), by_fine_tune)


def metric_sample(tallies: Tallies, condition: str, metric: str, replicate: int | None = None) -> Sample:
    d = METRICS[metric]
    return sample(tallies, condition, d.count, kind=d.kind, style=d.style, replicate=replicate)


def clustered(s: Sample) -> inference.Clustered:
    """The Clustered view of a sample: with K >= 2 fine-tunes, t with K - 1 degrees of freedom."""
    df = len(s.groups) - 1 if s.by_fine_tune and len(s.groups) > 1 else None
    return inference.clustered(list(s.groups), df=df)


def rate(s: Sample | Iterable[tuple[int, int]]) -> Rate:
    """The Rate of a sample: continuity-corrected Wilson, on the effective sample size when clustered."""
    if not isinstance(s, Sample):
        s = Sample(tuple(s), False)
    c = clustered(s)
    return Rate(**stats.wilson(c.k, c.n, c.n_eff if c.clusters > 1 else None))


def difference(a: Sample, b: Sample) -> inference.Difference:
    return inference.difference(clustered(a), clustered(b))


# --- marks and numbers, as every output prints them ---------------------------------------

MARKS_NOTE = "* = p < 0.05 (the 95% interval excludes 0); ** = still below 0.05 after Holm's correction over {family}"


def mark(p: float | None, p_holm: float | None) -> str:
    if p_holm is not None and p_holm < 0.05:
        return "**"
    return "*" if p is not None and p < 0.05 else ""


def pp(x: float, sign: bool = True) -> str:
    """Percentage points, rounded to whole points; a nonzero value that would round to 0 keeps
    one significant digit (never "-0", never "+0" for -0.3)."""
    v = 100 * x
    if v == 0:
        return "0"
    if round(v) == 0:
        return f"{v:+.1g}" if sign else f"{v:.1g}"
    return f"{round(v):+d}" if sign else f"{round(v):d}"


def fmt_rate(r: Rate | None, counts: bool = True) -> str:
    if r is None:
        return ""
    if not r.n or r.rate is None:
        return "n/a (0/0)" if counts else "n/a"
    text = f"{100 * r.rate:.0f}% [{100 * r.low:.0f}–{100 * r.high:.0f}]"
    return f"{text} ({r.k}/{r.n})" if counts else text


def fmt_diff(
    diff: float | None, low: float, high: float, p: float | None, p_holm: float | None, unit: str = " pp"
) -> str:
    """A difference in percentage points with its 95% interval and its mark."""
    if diff is None:
        return "n/a"
    return f"{pp(diff)}{unit} [{pp(low)}, {pp(high)}]{mark(p, p_holm)}"


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, stats.DIGITS)
