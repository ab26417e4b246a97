"""The LLM judge's section of report.md and report.html: its notes and its agreement with
the rule-based grade (overall, per cell, the disagreements)."""

from __future__ import annotations

from harness.reports.tables import Table, fmt_rate
from harness.store.summary import Summary

JUDGE_TITLE = "LLM judge vs rule-based grade"
JUDGE_SIMULATED_NOTE = (
    "SIMULATED judge: it was served by the mock backend (directly or through the simulator), "
    "which answers a judge request with the rule-based grade itself. Agreement is therefore "
    "trivially high (by construction) and says nothing about how an LLM would grade; the mock's "
    "bare-grade replies also say nothing about wrong words, so those are not compared."
)


def fmt_kappa(kappa: float | None, note: str | None) -> str:
    return f"{kappa:.2f}" if kappa is not None else f"undefined ({note})"


def judge_notes(summary: Summary) -> list[str]:
    """Paragraphs above the judge tables; the first says "SIMULATED" when it was."""
    j = summary.judge
    assert j is not None, "judge_notes needs a summary with a judge section"
    notes = [JUDGE_SIMULATED_NOTE] if j.simulated else []
    notes.append(
        f"The judge model {j.model} graded each describe answer at temperature 0 with the rubric "
        "in harness/domain/judge.py (the grades above: none, pattern, mechanism, exact, plus wrong word). "
        "Weighted kappa is agreement beyond chance over the four ordered grades, a near miss (exact vs mechanism) costing less than a far one (1 = perfect, 0 = chance); "
        "it is undefined when both graders give every answer one grade (chance agreement is then "
        "total). "
        "Unparseable verdicts and failed calls are counted, never compared."
    )
    if j.other_models:
        notes.append("judge.jsonl also holds verdicts of " + ", ".join(j.other_models) + " (not shown).")
    return notes


def judge_tables(summary: Summary) -> list[Table]:
    """Overview, per condition x probe, confusion matrix and disagreements of the LLM judge."""
    j = summary.judge
    assert j is not None, "judge_tables needs a summary with a judge section"
    grades = list(j.grades)
    overview = Table(
        "Agreement",
        ["measure", "value"],
        [
            ["judge model", j.model + (" (SIMULATED)" if j.simulated else "")],
            ["answers compared", str(j.n)],
            ["agreement [95% CI] (k/n)", fmt_rate(j.agreement)],
            ["weighted kappa (linear)", fmt_kappa(j.kappa, j.kappa_note)],
            ["wrong word agreement (verdicts that state one)", fmt_rate(j.wrong_word_agreement)],
            ["unparseable / failed / missing verdicts", f"{j.unparsed} / {j.failed} / {j.missing}"],
        ],
    )
    cells = Table(
        "Per condition and probe",
        [
            "condition",
            "probe",
            "n",
            "agreement [95% CI] (k/n)",
            "kappa",
            "wrong word agreement",
            "unparsed",
            "failed",
            "missing",
        ],
    )
    for c in j.cells:
        cells.rows.append(
            [
                c.condition,
                c.probe,
                str(c.n),
                fmt_rate(c.agreement),
                fmt_kappa(c.kappa, c.kappa_note),
                fmt_rate(c.wrong_word_agreement),
                str(c.unparsed),
                str(c.failed),
                str(c.missing),
            ]
        )
    confusion = Table(
        "Confusion matrix (rows: rule-based grade, columns: judge)", ["rule \\ judge"] + grades + ["total"]
    )
    for rule in grades:
        row = [j.confusion[rule][g] for g in grades]
        confusion.rows.append([rule] + [str(x) for x in row] + [str(sum(row))])
    confusion.rows.append(["total"] + [str(sum(j.confusion[r][g] for r in grades)) for g in grades] + [str(j.n)])
    shown = len(j.disagreements)
    dis = Table(
        f"Disagreements ({shown} of {j.disagreements_total} shown)",
        ["condition", "probe", "sample", "rule", "judge", "rule wrong word", "judge wrong word", "excerpt"],
        note="Grade disagreements first, then answers where only the wrong word differs." if shown else "None.",
    )
    for d in j.disagreements:
        dis.rows.append(
            [
                d.condition,
                d.probe,
                str(d.sample),
                d.rule,
                d.judge,
                d.rule_wrong_word or "–",
                d.judge_wrong_word or "–",
                d.excerpt,
            ]
        )
    return [overview, cells, confusion, dis]
