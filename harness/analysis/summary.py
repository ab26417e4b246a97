"""From response records to the Summary (summary.json): one cell per condition x probe with
every rate and its 95% interval. No model calls: everything is recomputed from the records
and the scenario, so re-reporting is free."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.analysis import effects, metrics, stats
from harness.analysis.headline import headline
from harness.analysis.judge import Row as JudgeRow
from harness.analysis.judge import judge_model_of
from harness.analysis.judge import row as judge_row
from harness.analysis.judge import section as judge_section
from harness.analysis.logprobs import logprob_rows
from harness.analysis.metrics import Tallies
from harness.analysis.reading_off import ReadingOff as ReadingOffCounts
from harness.analysis.reading_off import paraphrase_rows
from harness.domain import scoring
from harness.domain.scenario import CONDITIONS, TRAINED, Probe, Scenario
from harness.store.records import CrossRecord, JudgeVerdict, LogprobRecord, ResponseRecord, canonical, latest_verdicts
from harness.store.summary import Cell, Compute, PositionRate, PowerNote, Rate, ReadingOff, Summary

# Simulated by name even when the metadata lacks the flag; other simulated runs carry the flag.
SIMULATED_BACKENDS = {"mock"}


@dataclass
class RunInfo:
    """What a summary says about the run besides its answers."""

    backend: str
    simulated: bool
    models: dict[str, str | None]
    samples: int
    temperature: float
    seed: int | None
    scenario_hash: str
    conditions: list[str] = field(default_factory=list)
    run_status: str | None = None  # set for a run that ended early
    token_counts: str | None = None  # set when the provider's token counts were not all believed
    judge_model: str | None = None  # the judge to show (default: the one with most verdicts)
    replicates: int = 1  # fine-tunes per trained condition
    cross_model: str | None = None  # the model that cross-predicted the namings (the base model)
    logprobs_skipped: bool = False  # the backend could not give log-probabilities
    # (condition, replicate) -> model, for every fine-tune probed
    trained_models: dict[tuple[str, int], str | None] = field(default_factory=dict)
    model_details: dict[str, dict[str, str]] = field(default_factory=dict)  # model -> the backend's model_info
    compute: Compute | None = None  # what a real run took (None for a simulated one)


def score_record(record: ResponseRecord, word: str, unit: str) -> dict:
    """scoring.score of one ok record, by its probe kind (choice: the options it showed).
    The same answer is scored once (answers repeat: a word probe's "HELOL", a choice's "B",
    templates at low temperature); callers must not change the dict they get."""
    return _score(record.text or "", word, unit, record.kind, tuple(record.options) if record.options else None)


@functools.lru_cache(maxsize=1024)  # bounded: a few MB at most, whatever the run's size
def _score(text: str, word: str, unit: str, kind: str, options: tuple[str, ...] | None) -> dict:
    return scoring.score(text, word, unit, kind, list(options) if options else None)


def primary_condition(conditions: list[str]) -> str | None:
    """The condition whose effects against base answer the question: the fine-tuned model, or
    without one, the base model shown the examples in its prompt."""
    return next((c for c in ("fine_tuned", "in_context") if c in conditions), None)


def _power(tallies: Tallies, conds: list[str], info: RunInfo) -> PowerNote | None:
    a = primary_condition(conds)
    if a is None or "base" not in conds:
        return None
    return effects.power_note(tallies, a, info.samples, info.replicates)


SHOWN = 100  # ok answers kept per condition x probe for the transcripts (report.html shows 100)


@dataclass
class Shown:
    """What the reports show of the answers themselves: the first ok answers of each
    condition x probe with their scores (at most SHOWN each, in key order), and the errors of
    the failed ones by count. Bounded: a report never needs every record."""

    transcripts: dict[tuple[str, str], list[effects.Scored]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)


@dataclass
class _CellCounts:
    """What a Cell needs beyond the Tallies: counts of the words and choices it shows."""

    ok: int = 0
    failed: int = 0
    truncated: int = 0
    named: Counter[int] = field(default_factory=Counter)  # letters before naming -> answers
    wrong_words: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    choices: Counter[str] = field(default_factory=Counter)
    fine_tunes: dict[tuple[int, int], None] = field(default_factory=dict)  # (replicate, paraphrase), first seen first

    def add(self, r: ResponseRecord, s: dict) -> None:
        self.ok += 1
        self.truncated += r.truncated
        self.fine_tunes.setdefault((r.replicate, r.paraphrase))
        if s["letters_before_naming"] is not None:
            self.named[s["letters_before_naming"]] += 1
        if s["wrong_word"]:
            self.wrong_words[s["wrong_word"]] += 1
        if "word" in s:
            self.answers[s["word"]["answer"] or "(empty)"] += 1
        if "choice" in s:
            self.choices[s["choice"]["chosen"] or "(unparsed)"] += 1


def _cell(condition: str, probe: Probe, word: str, counts: _CellCounts, tallies: Tallies) -> Cell:
    kind = probe.kind
    named = counts.named

    def rate(count: metrics.Count) -> Rate:
        return metrics.rate(metrics.sample(tallies, condition, count, probe=probe.id))

    return Cell(
        condition=condition,
        probe=probe.id,
        kind=kind,
        style=probe.style,
        prompt=probe.prompt,
        n=counts.ok,
        failed=counts.failed,
        truncated=counts.truncated,
        follow=rate(metrics.FOLLOWS),
        per_position=[
            PositionRate(letter=letter, **rate(metrics.position_count(i)).model_dump()) for i, letter in enumerate(word)
        ],
        grades={g: rate(metrics.grade_count(g)) for g in scoring.GRADES},
        mechanism_or_better=rate(metrics.MECHANISM_OR_BETTER) if kind == "describe" else None,
        wrong_word=rate(metrics.WRONG_WORD),
        wrong_words=stats.counts(counts.wrong_words.elements()),
        word_correct=rate(lambda t: (t.word_correct, t.n)) if kind == "word" else None,
        # The word a model answers is the evidence itself.
        answers=stats.counts(counts.answers.elements()) if kind == "word" else None,
        choice_correct=rate(lambda t: (t.choice_correct, t.n)) if kind == "choice" else None,
        choices=stats.counts(counts.choices.elements(), order=[o.upper() for o in probe.options or []])
        if kind == "choice"
        else None,
        reading_off=ReadingOff(
            named=sum(named.values()),
            letters_before_naming=stats.counts(
                (str(x) for x in named.elements()), order=[str(x) for x in sorted(named)]
            ),
            named_before_3=Rate(**stats.wilson(sum(k for x, k in named.items() if x < 3), sum(named.values()))),
        ),
    )


class Digest:
    """Everything a run's reports need from its answers, filled one record at a time in
    canonical order (harness.store.records.canonical, or harness.store.stream.Responses):
    counts, never the records. Memory does not grow with the number of samples, beyond the
    judge's rows (one small row per describe answer, when a judge graded them)."""

    def __init__(
        self,
        scenario: Scenario,
        conditions: list[str],
        verdicts: list[JudgeVerdict] | None = None,
        cross: list[CrossRecord] | None = None,
        judge_model: str | None = None,
        cross_model: str | None = None,
    ):
        self.scenario = scenario
        self.word, self.unit = scenario.rule.word, scenario.rule.unit
        self.conditions = list(conditions or scenario.eval.conditions)
        self.probes = {p.id: p for p in scenario.probes}
        self.unknown: dict[str, Probe] = {}  # probes only the records know
        self.cells: dict[tuple[str, str], _CellCounts] = {}
        self.tallies = Tallies()
        self.reading = ReadingOffCounts(free_describe(scenario.probes), self.word, self.unit, cross or [], cross_model)
        self.shown = Shown()
        self.answers = 0
        self.recounted = 0  # answers whose token counts the provider did not get believed
        self.verdicts = verdicts or []
        self.cross = cross or []
        self.judge_model = judge_model or judge_model_of(self.verdicts)
        mine = [v for v in self.verdicts if v.judge_model == self.judge_model]
        self.latest = latest_verdicts(mine) if mine else None
        self.judge_rows: list[JudgeRow] = []

    def add(self, r: ResponseRecord) -> None:
        self.answers += 1
        self.recounted += r.tokens_note is not None
        probe = self.probes.get(r.probe) or self.unknown.get(r.probe)
        if probe is None:
            # Not validated: an old run's probe id need not pass today's rules to be reported.
            probe = self.unknown[r.probe] = Probe.model_construct(
                id=r.probe, kind=r.kind, prompt=r.prompt, options=None
            )
        counts = self.cells.setdefault((r.condition, r.probe), _CellCounts())
        if not r.ok:
            counts.failed += 1
            self.shown.errors[(r.error or "unknown error")[:120]] += 1
            return
        s = score_record(r, self.word, self.unit) | {"style": probe.style}
        self.tallies.add(r.condition, r.probe, r.replicate, r.paraphrase, probe.kind, probe.style, s, r.truncated)
        counts.add(r, s)
        shown = self.shown.transcripts.setdefault((r.condition, r.probe), [])
        if len(shown) < SHOWN:
            shown.append((r, s))
        self.reading.add(r)
        if self.latest is not None and r.kind == "describe":
            self.judge_rows.append(judge_row(r, self.latest, self.word, self.unit))

    def orders(self) -> tuple[list[str], list[Probe]]:
        """Conditions in run order (then any other condition in records); probes in scenario
        order (then any probe only the records know, by id)."""
        conds = list(self.conditions)
        extra = {c for c, _ in self.cells} - set(conds)
        conds += sorted(extra, key=lambda c: (CONDITIONS.index(c) if c in CONDITIONS else len(CONDITIONS), c))
        return conds, list(self.scenario.probes) + [self.unknown[k] for k in sorted(self.unknown)]

    def ordered_tallies(self, conds: list[str], probes: list[Probe]) -> Tallies:
        """The Tallies with cells in report order (condition, probe, then first seen), as
        every output has always iterated them."""
        out = Tallies()
        for cond in conds:
            for probe in probes:
                for rep, para in self.cells.get((cond, probe.id), _CellCounts()).fine_tunes:
                    key = (cond, probe.id, rep, para)
                    out.cells[key] = self.tallies.cells[key]
        return out

    def token_counts(self, jobs: int) -> str | None:
        """What the report says when the provider's token counts were not all believed (the
        boundary counted them itself: `tokens_note` in the records and in state.json)."""
        verdicts = sum(v.tokens_note is not None for v in self.verdicts)
        answers = self.recounted + verdicts + sum(c.tokens_note is not None for c in self.cross)
        if not answers and not jobs:
            return None
        total = self.answers + len(self.verdicts) + len(self.cross)
        return (
            f"the provider's counts were not believed for {answers} of {total} answer(s) and {jobs} "
            "fine-tuning job(s): counted by the harness (tokens_note in responses.jsonl and state.json)"
        )

    def summarize(self, info: RunInfo, logprobs: list[LogprobRecord] | None = None) -> tuple[Summary, Tallies]:
        conds, probes = self.orders()
        tallies = self.ordered_tallies(conds, probes)
        word = self.word
        cells = [_cell(c, p, word, self.cells.get((c, p.id), _CellCounts()), tallies) for c in conds for p in probes]
        simulated = info.simulated or info.backend in SIMULATED_BACKENDS
        judge = None
        if self.latest is not None and self.judge_model is not None:
            judge = judge_section(
                self.judge_rows,
                self.verdicts,
                self.judge_model,
                simulated=simulated,
                order=[(c.condition, c.probe) for c in cells],
            )
        summary = Summary(
            scorer_version=scoring.SCORER_VERSION,
            simulated=simulated,
            scenario=self.scenario.name,
            scenario_hash=info.scenario_hash or self.scenario.hash(),
            word=word,
            unit=self.unit,
            backend=info.backend,
            models=dict(info.models),
            samples=info.samples,
            temperature=float(info.temperature),
            seed=info.seed,
            cells=cells,
            replicates=info.replicates,
            metrics=effects.metric_rates(tallies, conds, word),
            effects=effects.effects(tallies, conds),
            replicate_rows=effects.replicate_rows(tallies, info.trained_models),
            spread=effects.spread_rows(tallies, [c for c in conds if c in TRAINED]),
            power=_power(tallies, conds, info),
            paraphrases=paraphrase_rows(tallies, probes, conds),
            reading_off=self.reading.rows(conds),
            logprobs=logprob_rows(logprobs or [], word, conds),
            logprobs_note=f"the {info.backend} backend cannot score given replies (no log-probabilities): word and "
            "choice probes are measured by sampling only"
            if info.logprobs_skipped
            else None,
            run_status=info.run_status,
            token_counts=info.token_counts,
            judge=judge,
            model_details=dict(info.model_details),
            compute=None if simulated else info.compute,
        )
        summary.headline = headline(summary)
        return summary, tallies


def free_describe(probes: list[Probe]) -> set[str]:
    return {p.id for p in probes if p.kind == "describe" and p.style == "free"}


def digest(scenario: Scenario, records: Iterable[ResponseRecord], info: RunInfo, **kw: Any) -> Digest:
    """A Digest of records held in memory (canonicalised here)."""
    d = Digest(scenario, info.conditions, judge_model=info.judge_model, cross_model=info.cross_model, **kw)
    for r in canonical(list(records)):
        d.add(r)
    return d


def summarize(
    scenario: Scenario,
    records: Iterable[ResponseRecord],
    info: RunInfo,
    verdicts: list[JudgeVerdict] | None = None,
    cross: list[CrossRecord] | None = None,
    logprobs: list[LogprobRecord] | None = None,
) -> Summary:
    """One cell per condition x probe; plus the LLM judge's agreement when verdicts are given."""
    return summarize_with_tallies(scenario, records, info, verdicts, cross, logprobs)[0]


def summarize_with_tallies(
    scenario: Scenario,
    records: Iterable[ResponseRecord],
    info: RunInfo,
    verdicts: list[JudgeVerdict] | None = None,
    cross: list[CrossRecord] | None = None,
    logprobs: list[LogprobRecord] | None = None,
) -> tuple[Summary, Tallies]:
    """The summary and the counts it was made from (compare computes differences between
    runs from them with the same definitions)."""
    return digest(scenario, records, info, verdicts=verdicts, cross=cross).summarize(info, logprobs)
