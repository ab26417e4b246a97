"""From response records to the Summary (summary.json): one cell per condition x probe with
every rate and its 95% interval. No model calls: everything is recomputed from the records
and the scenario, so re-reporting is free."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.analysis import effects, stats
from harness.analysis.headline import headline
from harness.analysis.judge import summary_section
from harness.analysis.logprobs import logprob_rows
from harness.analysis.reading_off import paraphrase_rows, reading_off_rows
from harness.domain import scoring
from harness.domain.scenario import CONDITIONS, TRAINED, Probe, Scenario
from harness.store.records import CrossRecord, JudgeVerdict, LogprobRecord, ResponseRecord, canonical
from harness.store.summary import Cell, Compute, PositionRate, Rate, ReadingOff, Summary

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


def _rate(flags: list[tuple[tuple[int, int], bool]]) -> Rate:
    """The rate of ((replicate, wording), hit) flags: clustered by fine-tune when there are
    several, else by wording (Wilson when there is one cluster)."""
    replicates = {key[0] for key, _ in flags}
    per: dict[int, list[bool]] = {}
    for (replicate, paraphrase), hit in flags:
        per.setdefault(replicate if len(replicates) > 1 else paraphrase, []).append(bool(hit))
    return Rate(**stats.clustered_rate((sum(v), len(v)) for _, v in sorted(per.items())))


def mechanism_or_better(cell: Cell) -> Rate:
    """Answers graded mechanism or exact: the acrostic idea, with or without the word."""
    return Rate(**stats.wilson(cell.grades["mechanism"].k + cell.grades["exact"].k, cell.grades["exact"].n))


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


def _cell(condition: str, probe: Probe, word: str, scored: list[effects.Scored], failed: int) -> Cell:
    kind = probe.kind
    scores = [s for _, s in scored]
    # A cut answer cannot be judged on following.
    whole = [((r.replicate, r.paraphrase), s) for r, s in scored if not r.truncated]
    named = [s["letters_before_naming"] for s in scores if s["letters_before_naming"] is not None]

    def rate(hit) -> Rate:
        return _rate([((r.replicate, r.paraphrase), hit(s)) for r, s in scored])

    return Cell(
        condition=condition,
        probe=probe.id,
        kind=kind,
        style=probe.style,
        prompt=probe.prompt,
        n=len(scores),
        failed=failed,
        truncated=len(scored) - len(whole),
        follow=_rate([(rep, s["follows"]) for rep, s in whole]),
        per_position=[
            PositionRate(letter=letter, **_rate([(rep, s["per_position"][i]) for rep, s in whole]).model_dump())
            for i, letter in enumerate(word)
        ],
        grades={g: rate(lambda s, g=g: s["grade"] == g) for g in scoring.GRADES},
        wrong_word=rate(lambda s: s["wrong_word"] is not None),
        wrong_words=stats.counts(s["wrong_word"] for s in scores if s["wrong_word"]),
        word_correct=rate(lambda s: s["word"]["correct"]) if kind == "word" else None,
        # The word a model answers is the evidence itself.
        answers=stats.counts(s["word"]["answer"] or "(empty)" for s in scores) if kind == "word" else None,
        choice_correct=rate(lambda s: s["choice"]["correct"]) if kind == "choice" else None,
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
    word, unit = scenario.rule.word, scenario.rule.unit
    records = canonical(records)
    conds, probes = _orders(scenario, records, info.conditions)
    by_cell: dict[tuple[str, str], list[ResponseRecord]] = {}
    for r in records:
        by_cell.setdefault((r.condition, r.probe), []).append(r)
    cells = []
    scored: list[effects.Scored] = []
    for cond in conds:
        for probe in probes:
            group = by_cell.get((cond, probe.id), [])
            mine = [(r, score_record(r, word, unit) | {"style": probe.style}) for r in group if r.ok]
            scored += mine
            cells.append(_cell(cond, probe, word, mine, len(group) - len(mine)))
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
        effects=effects.effects(scored, conds),
        replicate_rows=effects.replicate_rows(scored, info.trained_models),
        spread=effects.spread_rows(scored, [c for c in conds if c in TRAINED]),
        power=effects.power_note(scored, info.samples, info.replicates) if "fine_tuned" in conds else None,
        paraphrases=paraphrase_rows(scored, probes, conds),
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
        judge=judge,
        model_details=dict(info.model_details),
        compute=None if simulated else info.compute,
    )
    summary.headline = headline(summary)
    return summary
