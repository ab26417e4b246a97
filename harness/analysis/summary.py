"""From response records to the Summary (summary.json): one cell per condition x probe with
every rate and its 95% interval. No model calls: everything is recomputed from the records
and the scenario, so re-reporting is free."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.analysis import effects, metrics, stats
from harness.analysis.headline import headline
from harness.analysis.judge import summary_section
from harness.analysis.logprobs import logprob_rows
from harness.analysis.metrics import Tallies
from harness.analysis.reading_off import paraphrase_rows, reading_off_rows
from harness.domain import scoring
from harness.domain.scenario import CONDITIONS, TRAINED, Probe, Scenario
from harness.store.records import CrossRecord, JudgeVerdict, LogprobRecord, ResponseRecord, canonical
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
    """scoring.score of one ok record, by its probe kind (choice: the options it showed)."""
    return scoring.score(record.text or "", word, unit, record.kind, record.options)


def primary_condition(conditions: list[str]) -> str | None:
    """The condition whose effects against base answer the question: the fine-tuned model, or
    without one, the base model shown the examples in its prompt."""
    return next((c for c in ("fine_tuned", "in_context") if c in conditions), None)


def _power(tallies: Tallies, conds: list[str], info: RunInfo) -> PowerNote | None:
    a = primary_condition(conds)
    if a is None or "base" not in conds:
        return None
    return effects.power_note(tallies, a, info.samples, info.replicates)


def _orders(scenario: Scenario, records: list[ResponseRecord], conditions: list[str]) -> tuple[list[str], list[Probe]]:
    """Conditions in run order (then any other condition in records); probes in scenario
    order (then any probe only the records know, by id)."""
    conds = list(conditions or scenario.eval.conditions)
    extra = {r.condition for r in records} - set(conds)
    conds += sorted(extra, key=lambda c: (CONDITIONS.index(c) if c in CONDITIONS else len(CONDITIONS), c))
    probes = list(scenario.probes)
    known = {p.id for p in probes}
    unknown: dict[str, Probe] = {}
    for r in records:
        if r.probe not in known and r.probe not in unknown:
            # Not validated: an old run's probe id need not pass today's rules to be reported.
            unknown[r.probe] = Probe.model_construct(id=r.probe, kind=r.kind, prompt=r.prompt, options=None)
    return conds, probes + [unknown[k] for k in sorted(unknown)]


def _cell(condition: str, probe: Probe, word: str, scored: list[effects.Scored], failed: int, tallies: Tallies) -> Cell:
    kind = probe.kind
    scores = [s for _, s in scored]
    named = [s["letters_before_naming"] for s in scores if s["letters_before_naming"] is not None]

    def rate(count: metrics.Count) -> Rate:
        return metrics.rate(metrics.sample(tallies, condition, count, probe=probe.id))

    return Cell(
        condition=condition,
        probe=probe.id,
        kind=kind,
        style=probe.style,
        prompt=probe.prompt,
        n=len(scores),
        failed=failed,
        truncated=sum(1 for r, _ in scored if r.truncated),
        follow=rate(metrics.FOLLOWS),
        per_position=[
            PositionRate(letter=letter, **rate(metrics.position_count(i)).model_dump()) for i, letter in enumerate(word)
        ],
        grades={g: rate(metrics.grade_count(g)) for g in scoring.GRADES},
        mechanism_or_better=rate(metrics.MECHANISM_OR_BETTER) if kind == "describe" else None,
        wrong_word=rate(metrics.WRONG_WORD),
        wrong_words=stats.counts(s["wrong_word"] for s in scores if s["wrong_word"]),
        word_correct=rate(lambda t: (t.word_correct, t.n)) if kind == "word" else None,
        # The word a model answers is the evidence itself.
        answers=stats.counts(s["word"]["answer"] or "(empty)" for s in scores) if kind == "word" else None,
        choice_correct=rate(lambda t: (t.choice_correct, t.n)) if kind == "choice" else None,
        choices=stats.counts(
            (s["choice"]["chosen"] or "(unparsed)" for s in scores), order=[o.upper() for o in probe.options or []]
        )
        if kind == "choice"
        else None,
        reading_off=ReadingOff(
            named=len(named),
            letters_before_naming=stats.counts((str(x) for x in named), order=[str(x) for x in sorted(set(named))]),
            named_before_3=Rate(**stats.wilson(sum(1 for x in named if x < 3), len(named))),
        ),
    )


def summarize(
    scenario: Scenario,
    records: list[ResponseRecord],
    info: RunInfo,
    verdicts: list[JudgeVerdict] | None = None,
    cross: list[CrossRecord] | None = None,
    logprobs: list[LogprobRecord] | None = None,
) -> Summary:
    """One cell per condition x probe; plus the LLM judge's agreement when verdicts are given."""
    return summarize_with_tallies(scenario, records, info, verdicts, cross, logprobs)[0]


def summarize_with_tallies(
    scenario: Scenario,
    records: list[ResponseRecord],
    info: RunInfo,
    verdicts: list[JudgeVerdict] | None = None,
    cross: list[CrossRecord] | None = None,
    logprobs: list[LogprobRecord] | None = None,
) -> tuple[Summary, Tallies]:
    """The summary and the counts it was made from (compare computes differences between
    runs from them with the same definitions)."""
    word, unit = scenario.rule.word, scenario.rule.unit
    records = canonical(records)
    conds, probes = _orders(scenario, records, info.conditions)
    by_cell: dict[tuple[str, str], list[ResponseRecord]] = {}
    for r in records:
        by_cell.setdefault((r.condition, r.probe), []).append(r)
    scored: list[effects.Scored] = []
    tallies = Tallies()
    per_cell = []
    for cond in conds:
        for probe in probes:
            group = by_cell.get((cond, probe.id), [])
            mine = [(r, score_record(r, word, unit) | {"style": probe.style}) for r in group if r.ok]
            for r, s in mine:
                tallies.add(cond, probe.id, r.replicate, r.paraphrase, probe.kind, probe.style, s, r.truncated)
            scored += mine
            per_cell.append((cond, probe, mine, len(group) - len(mine)))
    cells = [_cell(cond, probe, word, mine, failed, tallies) for cond, probe, mine, failed in per_cell]
    simulated = info.simulated or info.backend in SIMULATED_BACKENDS
    judge = None
    if verdicts:
        judge = summary_section(
            records,
            verdicts,
            word,
            unit,
            simulated=simulated,
            model=info.judge_model,
            order=[(c.condition, c.probe) for c in cells],
        )
    summary = Summary(
        scorer_version=scoring.SCORER_VERSION,
        simulated=simulated,
        scenario=scenario.name,
        scenario_hash=info.scenario_hash or scenario.hash(),
        word=word,
        unit=unit,
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
        reading_off=reading_off_rows(
            scored,
            {p.id for p in probes if p.kind == "describe" and p.style == "free"},
            conds,
            word,
            unit,
            cross or [],
            info.cross_model,
        ),
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
