"""The reading-off section and the per-wording rates of a summary, from scored answers and
the cross-predictions (harness.domain.reading, harness.calls.crosscheck)."""

from __future__ import annotations

from collections import Counter

from harness.analysis import metrics, stats
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


class ReadingOff:
    """The reading-off rows, filled one ok answer at a time: per trained condition, the
    acrostic answers to free describe probes, how many name the word and after how many
    letters, and how often the base model named it from their start (cross-predictions)."""

    def __init__(self, free: set[str], word: str, unit: str, cross: list[CrossRecord], cross_model: str | None):
        self.free, self.word, self.unit, self.cross_model = free, word, unit, cross_model
        self.by_key = {c.key: c for c in cross if c.ok}
        self.answers: Counter[str] = Counter()
        self.acrostics: Counter[str] = Counter()
        self.letters: dict[str, Counter[int]] = {}  # condition -> letters before naming -> answers
        self.checked: dict[str, list[int]] = {}  # condition -> [cross-predicted right, cross-checked]

    def add(self, r: ResponseRecord) -> None:
        if r.condition not in TRAINED or r.probe not in self.free:
            return
        self.answers[r.condition] += 1
        if rules.follow(r.text or "", self.word, self.unit).prefix < MIN_ACROSTIC_LETTERS:
            return
        self.acrostics[r.condition] += 1
        naming = naming_in(r.text or "", self.word, self.unit)
        if naming is None:
            return
        self.letters.setdefault(r.condition, Counter())[naming.letters] += 1
        c = self.by_key.get(r.key)
        if c is not None:
            checked = self.checked.setdefault(r.condition, [0, 0])
            checked[0] += bool(c.correct)
            checked[1] += 1

    def rows(self, conditions: list[str]) -> list[ReadingOffRow]:
        rows = []
        for condition in conditions:
            if condition not in TRAINED:
                continue
            letters = self.letters.get(condition, Counter())
            named = sum(letters.values())
            right, checked = self.checked.get(condition, [0, 0])
            rows.append(
                ReadingOffRow(
                    condition=condition,
                    answers=self.answers[condition],
                    acrostics=self.acrostics[condition],
                    named=Rate(**stats.wilson(named, self.acrostics[condition])),
                    letters_before_naming=stats.counts(
                        (str(n) for n in letters.elements()), order=[str(n) for n in sorted(letters)]
                    ),
                    named_before_3=Rate(**stats.wilson(sum(k for n, k in letters.items() if n < 3), named)),
                    cross_predicted=Rate(**stats.wilson(right, checked)) if checked else None,
                    cross_model=self.cross_model if checked else None,
                )
            )
        return rows
