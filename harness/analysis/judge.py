"""How far an LLM judge agrees with the rule-based grade: percent agreement, Cohen's kappa
over the four grades, the confusion matrix and the disagreements (summary.json's "judge")."""

from __future__ import annotations

from dataclasses import dataclass

from harness.analysis import stats
from harness.domain.judge import states_wrong_word, text_hash
from harness.domain.scoring import GRADES, articulation
from harness.store.records import JudgeVerdict, ResponseRecord, canonical, latest_verdicts
from harness.store.summary import Disagreement, JudgeCell, JudgeSection, Rate

EXCERPT_CHARS = 160
SUMMARY_DISAGREEMENTS = 20  # how many disagreements summary.json and the reports carry


@dataclass
class _Row:
    answer: ResponseRecord
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


def _numbers(rows: list[_Row]) -> dict:
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


def _rows(records: list[ResponseRecord], verdicts: list[JudgeVerdict], word: str, unit: str) -> list[_Row]:
    """Each ok describe answer with its latest verdict. An answer without a verdict, or whose
    verdict graded a different text, is missing; failed calls and unparseable verdicts are
    counted, never compared."""
    latest = latest_verdicts(verdicts)
    rows = []
    for a in canonical(records):
        if a.kind != "describe" or not a.ok:
            continue
        rule = articulation(a.text or "", word, unit)
        v = latest.get(a.key)
        stale = v is not None and v.text_sha256 not in (None, text_hash(a.text))
        status = "missing" if v is None or stale else v.status
        answered = v if status == "ok" else None
        rows.append(
            _Row(
                a,
                rule.grade,
                rule.wrong_word,
                answered.grade if answered else None,
                answered.wrong_word if answered else None,
                bool(answered and states_wrong_word(answered.raw)),
                status,
            )
        )
    return rows


def _disagreements(rows: list[_Row]) -> list[Disagreement]:
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
            excerpt=_excerpt(r.answer.text),
        )
        for r in rows
        if r.judge is not None
        and (r.rule != r.judge or (r.judge_states_wrong_word and r.rule_wrong_word != r.judge_wrong_word))
    ]
    return sorted(out, key=lambda d: (d.rule == d.judge, d.condition, d.probe, d.sample))


def summary_section(
    records: list[ResponseRecord],
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
    rows = _rows(records, mine, word, unit)
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
