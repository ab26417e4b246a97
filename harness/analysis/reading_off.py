"""The reading-off section and the per-wording rates of a summary, from scored answers and
the cross-predictions (harness.domain.reading, harness.calls.crosscheck)."""

from __future__ import annotations

from harness.analysis import metrics, stats
from harness.analysis.effects import Scored
from harness.domain import rules
from harness.domain.reading import MIN_ACROSTIC_LETTERS, naming_in
from harness.domain.scenario import Probe
from harness.store.records import CrossRecord, ResponseRecord
from harness.store.summary import ParaphraseRow, Rate, ReadingOffRow

TRAINED = ("fine_tuned", "sham")


# A wording's rate is its probe's own measure: describe, mechanism or exact; word and choice,
# right; follow, follows.
PROBE_MEASURE: dict[str, metrics.Count] = {
    "describe": metrics.MECHANISM_OR_BETTER,
    "word": lambda t: (t.word_correct, t.n),
    "choice": lambda t: (t.choice_correct, t.n),
    "follow": metrics.FOLLOWS,
}


def paraphrase_rows(tallies: metrics.Tallies, probes: list[Probe], conditions: list[str]) -> list[ParaphraseRow]:
    """One row per wording of every probe that has several, per condition (clustered by
    fine-tune when the condition has several)."""
    rows = []
    for probe in probes:
        if len(probe.prompts) < 2:
            continue
        for condition in conditions:
            for i, prompt in enumerate(probe.prompts):
                s = metrics.sample(tallies, condition, PROBE_MEASURE[probe.kind], probe=probe.id, paraphrase=i)
                if s.n:
                    rows.append(
                        ParaphraseRow(
                            condition=condition, probe=probe.id, paraphrase=i, prompt=prompt, rate=metrics.rate(s)
                        )
                    )
    return rows


def reading_off_rows(
    scored: list[Scored],
    free: set[str],
    conditions: list[str],
    word: str,
    unit: str,
    cross: list[CrossRecord],
    cross_model: str | None,
) -> list[ReadingOffRow]:
    """Per trained condition: acrostic answers to free describe probes, how many name the
    word and after how many letters, and how often the base model named it from their start."""
    by_key = {c.key: c for c in cross if c.ok}
    rows = []
    for condition in conditions:
        if condition not in TRAINED:
            continue
        answers: list[ResponseRecord] = [r for r, _ in scored if r.condition == condition and r.probe in free]
        acrostic, named = 0, []
        for r in answers:
            if rules.follow(r.text or "", word, unit).prefix < MIN_ACROSTIC_LETTERS:
                continue
            acrostic += 1
            naming = naming_in(r.text or "", word, unit)
            if naming is not None:
                named.append((r, naming.letters))
        letters = [n for _, n in named]
        checked = [by_key[r.key] for r, _ in named if r.key in by_key]
        rows.append(
            ReadingOffRow(
                condition=condition,
                answers=len(answers),
                acrostics=acrostic,
                named=Rate(**stats.wilson(len(named), acrostic)),
                letters_before_naming=stats.counts(
                    (str(n) for n in letters), order=[str(n) for n in sorted(set(letters))]
                ),
                named_before_3=Rate(**stats.wilson(sum(n < 3 for n in letters), len(letters))),
                cross_predicted=Rate(**stats.rate(c.correct for c in checked)) if checked else None,
                cross_model=cross_model if checked else None,
            )
        )
    return rows
