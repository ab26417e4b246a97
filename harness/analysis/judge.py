"""How far an LLM judge agrees with the rule-based grade: percent agreement, Cohen's kappa
over the four grades, the confusion matrix and the disagreements (summary.json's "judge")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from harness.analysis import stats
from harness.domain.judge import states_wrong_word, text_hash
from harness.domain.scoring import GRADES, articulation
from harness.store.records import JudgeVerdict, Key, ResponseRecord, canonical, latest_verdicts
from harness.store.summary import Disagreement, JudgeCell, JudgeSection, Rate

EXCERPT_CHARS = 160
SUMMARY_DISAGREEMENTS = 20  # how many disagreements summary.json and the reports carry


class Answer(NamedTuple):
    """What the judge section keeps of an answer: where it is and the start of its text."""

    condition: str
    probe: str
    sample: int
    excerpt: str


@dataclass
class Row:
    answer: Answer
    rule: str
    rule_wrong_word: str | None
    judge: str | None
    judge_wrong_word: str | None
    judge_states_wrong_word: bool
    status: str  # ok | failed | missing


def judge_model_of(verdicts: list[JudgeVerdict]) -> str | None:
    """The judge model a report shows when none is named: the one with the most verdicts
    (ties: by name). A run normally has one; a later --judge with another model adds one."""
    return next(iter(stats.counts(v.judge_model for v in verdicts)), None)


def _excerpt(text: str | None) -> str:
    flat = " / ".join(line.strip() for line in (text or "").splitlines() if line.strip())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1].rstrip() + "…"


def _numbers(rows: list[Row]) -> dict:
    """Agreement numbers of the rows of one group. kappa is Cohen's kappa with linear
    weights: the grades are ordered, so calling exact "mechanism" costs less than "none"."""
    answered = [r for r in rows if r.judge is not None]
    pairs = [(r.rule, r.judge) for r in answered if r.judge is not None]
    worded = [r for r in answered if r.judge_states_wrong_word]
    kappa, note = stats.weighted_kappa(pairs, GRADES)
    return {
        "n": len(pairs),
        "agreement": Rate(**stats.wilson(sum(1 for a, b in pairs if a == b), len(pairs))),
        "kappa": kappa,
        "kappa_note": note,
        "wrong_word_agreement": Rate(**stats.rate(r.rule_wrong_word == r.judge_wrong_word for r in worded)),
        "unparsed": sum(1 for r in rows if r.status == "ok" and r.judge is None),
        "failed": sum(1 for r in rows if r.status == "failed"),
        "missing": sum(1 for r in rows if r.status == "missing"),
    }


def row(a: ResponseRecord, latest: dict[Key, JudgeVerdict], word: str, unit: str) -> Row:
    """An ok describe answer with its latest verdict. An answer without a verdict, or whose
    verdict graded a different text, is missing; failed calls and unparseable verdicts are
    counted, never compared."""
    rule = articulation(a.text or "", word, unit)
    v = latest.get(a.key)
    stale = v is not None and v.text_sha256 not in (None, text_hash(a.text))
    status = "missing" if v is None or stale else v.status
    answered = v if status == "ok" else None
    return Row(
        Answer(a.condition, a.probe, a.sample, _excerpt(a.text)),
        rule.grade,
        rule.wrong_word,
        answered.grade if answered else None,
        answered.wrong_word if answered else None,
        bool(answered and states_wrong_word(answered.raw)),
        status,
    )


def _rows(records: Iterable[ResponseRecord], verdicts: list[JudgeVerdict], word: str, unit: str) -> list[Row]:
    latest = latest_verdicts(verdicts)
    return [row(a, latest, word, unit) for a in canonical(list(records)) if a.kind == "describe" and a.ok]


def _disagreements(rows: list[Row]) -> list[Disagreement]:
    """Grade disagreements first (what kappa measures), then answers where only the wrong
    word differs."""
    out = [
        Disagreement(
            condition=r.answer.condition,
            probe=r.answer.probe,
            sample=r.answer.sample,
            rule=r.rule,
            judge=r.judge,
            rule_wrong_word=r.rule_wrong_word,
            judge_wrong_word=r.judge_wrong_word,
            excerpt=r.answer.excerpt,
        )
        for r in rows
        if r.judge is not None
        and (r.rule != r.judge or (r.judge_states_wrong_word and r.rule_wrong_word != r.judge_wrong_word))
    ]
    return sorted(out, key=lambda d: (d.rule == d.judge, d.condition, d.probe, d.sample))


def summary_section(
    records: Iterable[ResponseRecord],
    verdicts: list[JudgeVerdict],
    word: str,
    unit: str,
    *,
    simulated: bool,
    model: str | None = None,
    order: list[tuple[str, str]] | None = None,
) -> JudgeSection | None:
    """One judge model's agreement with the rule-based grade (`model`, else the one with the
    most verdicts), or None when that model has no verdicts. `simulated` is the run's flag; a
    verdict served by a simulated backend also sets it. Cells follow `order` (condition, probe)."""
    model = model or judge_model_of(verdicts)
    mine = [v for v in verdicts if v.judge_model == model]
    if model is None or not mine:
        return None
    return section(_rows(records, mine, word, unit), verdicts, model, simulated=simulated, order=order)


def section(
    rows: list[Row],
    verdicts: list[JudgeVerdict],
    model: str,
    *,
    simulated: bool,
    order: list[tuple[str, str]] | None = None,
) -> JudgeSection:
    """The judge section from its rows (one per ok describe answer, in key order)."""
    mine = [v for v in verdicts if v.judge_model == model]
    position = {key: i for i, key in enumerate(order or [])}
    groups = sorted(
        dict.fromkeys((r.answer.condition, r.answer.probe) for r in rows),
        key=lambda k: (position.get(k, len(position)), k),
    )
    cells = [
        JudgeCell(condition=c, probe=p, **_numbers([r for r in rows if (r.answer.condition, r.answer.probe) == (c, p)]))
        for c, p in groups
    ]
    disagreements = _disagreements(rows)
    return JudgeSection(
        model=model,
        simulated=bool(simulated) or any(v.simulated for v in mine),
        **_numbers(rows),
        grades=list(GRADES),
        confusion={r: {j: sum(1 for x in rows if x.rule == r and x.judge == j) for j in GRADES} for r in GRADES},
        cells=cells,
        disagreements_total=len(disagreements),
        disagreements=disagreements[:SUMMARY_DISAGREEMENTS],
        other_models=sorted({v.judge_model for v in verdicts} - {model}),
    )
