"""The pieces report.md and report.html share: canonical records and their scores, the
summary tables, the LLM-judge tables and the transcripts. No model calls, no files."""
from __future__ import annotations

from dataclasses import dataclass, field

from harness.domain import rules, scoring
from harness.reports import stats
from harness.reports.summary import mechanism_or_better, score_record
from harness.store.records import ResponseRecord, canonical
from harness.store.summary import Rate, Summary

# The one banner (console prints it too); true for every simulated provider, not only the mock.
BANNER = "SIMULATED (a simulated provider, such as the mock or the simulator): not evidence about real models"
TRANSCRIPTS_MD = 2      # per condition x probe in report.md
TRANSCRIPTS_HTML = 100  # per condition x probe in report.html (filterable)
JUDGE_TITLE = "LLM judge vs rule-based grade"
JUDGE_SIMULATED_NOTE = (
    "SIMULATED judge: it was served by the mock backend (directly or through the simulator), "
    "which answers a judge request with the rule-based grade itself. Agreement is therefore "
    "trivially high (by construction) and says nothing about how an LLM would grade; the mock's "
    "bare-grade replies also say nothing about wrong words, so those are not compared.")


# --- tables shared by report.md and report.html -----------------------------------------

@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""


def fmt_rate(r: Rate | None, counts: bool = True) -> str:
    if r is None:
        return ""
    if not r.n or r.rate is None:
        return "n/a (0/0)" if counts else "n/a"
    text = f"{100 * r.rate:.0f}% [{100 * r.low:.0f}–{100 * r.high:.0f}]"
    return f"{text} ({r.k}/{r.n})" if counts else text


def fmt_counts(c: dict | None, sep: str = " ") -> str:
    return ", ".join(f"{k}{sep}{v}" for k, v in (c or {}).items()) or "–"


def pool(rates) -> Rate:
    """One Rate from several (sum of k and of n): e.g. all follow probes of a condition."""
    return Rate(**stats.pool(r.model_dump() for r in rates))


def tables(summary: Summary) -> list[Table]:
    """One table per probe kind (plus the reading-off analysis), rows = condition x probe."""
    cells, word = summary.cells, summary.word
    out = []
    follow = [c for c in cells if c.kind == "follow"]
    if follow:
        t = Table("Follow probes: does the answer spell the word?",
                  ["condition", "probe", "follow [95% CI] (k/n)", "failed"]
                  + [f"{i} {c}" for i, c in enumerate(word, 1)],
                  note="Per-position columns: share of answers whose unit at that position starts "
                       "with that letter.")
        for cond in dict.fromkeys(c.condition for c in follow):
            group = [c for c in follow if c.condition == cond]
            for c in group:
                t.rows.append([cond, c.probe, fmt_rate(c.follow), str(c.failed)]
                              + [fmt_rate(p, counts=False) for p in c.per_position])
            if len(group) > 1:
                t.rows.append([cond, "(all follow probes)", fmt_rate(pool(c.follow for c in group)),
                               str(sum(c.failed for c in group))]
                              + [fmt_rate(pool(c.per_position[i] for c in group), counts=False)
                                 for i in range(len(word))])
        out.append(t)
    describe = [c for c in cells if c.kind == "describe"]
    if describe:
        t = Table("Describe probes: articulation grades",
                  ["condition", "probe", "n", "failed"] + list(scoring.GRADES)
                  + ["mechanism+", "names another word (which)", "answer is an acrostic"],
                  note=f"exact = the acrostic mechanism and the word {word}; mechanism = first letters "
                       "spell something, without the word; pattern = vague talk of structure; "
                       "mechanism+ = mechanism or exact. \"Names another word\": the answer says the letters "
                       "spell a word other than " + word + ".")
        for c in describe:
            other = fmt_rate(c.wrong_word) + (f": {fmt_counts(c.wrong_words)}" if c.wrong_words else "")
            t.rows.append([c.condition, c.probe, str(c.n), str(c.failed)]
                          + [fmt_rate(c.grades[g]) for g in scoring.GRADES]
                          + [fmt_rate(mechanism_or_better(c)), other, fmt_rate(c.follow)])
        out.append(t)
        t = Table("Reading off: when describe answers name the word, how many letters were already written?",
                  ["condition", "probe", "named", "letters before naming: count", "named before 3 letters"],
                  note="Naming the word before its third letter is written cannot be reading it off "
                       "the answer's own first letters.")
        for c in describe:
            ro = c.reading_off
            t.rows.append([c.condition, c.probe, f"{ro.named}/{c.n}",
                           fmt_counts({f"{k} letters": v for k, v in ro.letters_before_naming.items()}, sep=": "),
                           fmt_rate(ro.named_before_3)])
        out.append(t)
    for kind, title, key, dist, dist_title in (
            ("word", "Word probes: one-word answer equals the word", "word_correct", "answers", "answers"),
            ("choice", "Choice probes: the word picked among distractors", "choice_correct", "choices", "choices")):
        group = [c for c in cells if c.kind == kind]
        if group:
            t = Table(title, ["condition", "probe", "correct [95% CI] (k/n)", "failed", dist_title])
            for c in group:
                t.rows.append([c.condition, c.probe, fmt_rate(getattr(c, key)), str(c.failed),
                               fmt_counts(getattr(c, dist))])
            out.append(t)
    return out


def header_rows(summary: Summary) -> list[tuple[str, str]]:
    models = ", ".join(f"{k}: {v or 'none (no fine-tuned model)'}" for k, v in summary.models.items()) or "–"
    failed = sum(c.failed for c in summary.cells)
    ended = [("run status", summary.run_status)] if summary.run_status else []
    return ended + [("scenario", f"{summary.scenario} (hash {summary.scenario_hash})"),
            ("word", f"{summary.word} (unit: {summary.unit})"),
            ("backend", summary.backend + (" (simulated)" if summary.simulated else "")),
            ("models", models), ("samples", str(summary.samples)),
            ("temperature", str(summary.temperature)), ("seed", str(summary.seed)),
            ("failed samples", str(failed))] + _judge_header(summary)


def _judge_header(summary: Summary) -> list[tuple[str, str]]:
    j = summary.judge
    return [("LLM judge", j.model + (" (simulated)" if j.simulated else ""))] if j else []


# --- the LLM judge section --------------------------------------------------------------

def fmt_kappa(kappa: float | None, note: str | None) -> str:
    return f"{kappa:.2f}" if kappa is not None else f"undefined ({note})"


def judge_notes(summary: Summary) -> list[str]:
    """Paragraphs above the judge tables; the first says "SIMULATED" when it was."""
    j = summary.judge
    assert j is not None, "judge_notes needs a summary with a judge section"
    notes = [JUDGE_SIMULATED_NOTE] if j.simulated else []
    notes.append(f"The judge model {j.model} graded each describe answer at temperature 0 with the rubric "
                 "in harness/domain/judge.py (the grades above: none, pattern, mechanism, exact, plus wrong word). "
                 "Cohen's kappa is agreement beyond chance over the four grades (1 = perfect, 0 = chance); "
                 "it is undefined when both graders give every answer one grade (chance agreement is then "
                 "total). "
                 "Unparseable verdicts and failed calls are counted, never compared.")
    if j.other_models:
        notes.append("judge.jsonl also holds verdicts of " + ", ".join(j.other_models) + " (not shown).")
    return notes


def judge_tables(summary: Summary) -> list[Table]:
    """Overview, per condition x probe, confusion matrix and disagreements of the LLM judge."""
    j = summary.judge
    assert j is not None, "judge_tables needs a summary with a judge section"
    grades = list(j.grades)
    overview = Table("Agreement", ["measure", "value"], [
        ["judge model", j.model + (" (SIMULATED)" if j.simulated else "")],
        ["answers compared", str(j.n)],
        ["agreement [95% CI] (k/n)", fmt_rate(j.agreement)],
        ["Cohen's kappa", fmt_kappa(j.kappa, j.kappa_note)],
        ["wrong word agreement (verdicts that state one)", fmt_rate(j.wrong_word_agreement)],
        ["unparseable / failed / missing verdicts", f"{j.unparsed} / {j.failed} / {j.missing}"]])
    cells = Table("Per condition and probe",
                  ["condition", "probe", "n", "agreement [95% CI] (k/n)", "kappa", "wrong word agreement",
                   "unparsed", "failed", "missing"])
    for c in j.cells:
        cells.rows.append([c.condition, c.probe, str(c.n), fmt_rate(c.agreement),
                           fmt_kappa(c.kappa, c.kappa_note), fmt_rate(c.wrong_word_agreement),
                           str(c.unparsed), str(c.failed), str(c.missing)])
    confusion = Table("Confusion matrix (rows: rule-based grade, columns: judge)",
                      ["rule \\ judge"] + grades + ["total"])
    for rule in grades:
        row = [j.confusion[rule][g] for g in grades]
        confusion.rows.append([rule] + [str(x) for x in row] + [str(sum(row))])
    confusion.rows.append(["total"] + [str(sum(j.confusion[r][g] for r in grades)) for g in grades]
                          + [str(j.n)])
    shown = len(j.disagreements)
    dis = Table(f"Disagreements ({shown} of {j.disagreements_total} shown)",
                ["condition", "probe", "sample", "rule", "judge", "rule wrong word", "judge wrong word", "excerpt"],
                note="Grade disagreements first, then answers where only the wrong word differs."
                if shown else "None.")
    for d in j.disagreements:
        dis.rows.append([d.condition, d.probe, str(d.sample), d.rule, d.judge,
                         d.rule_wrong_word or "–", d.judge_wrong_word or "–", d.excerpt])
    return [overview, cells, confusion, dis]


# --- transcripts ------------------------------------------------------------------------

def mark_letters(text: str, unit: str, before: str, after: str, escape=lambda s: s) -> str:
    """The text with each unit's first letter wrapped in before/after (the rest escaped)."""
    out, last = [], 0
    for u in rules.split_units(text, unit):
        if u.letter_pos is None:
            continue
        out += [escape(text[last:u.letter_pos]), before, escape(text[u.letter_pos]), after]
        last = u.letter_pos + 1
    out.append(escape(text[last:]))
    return "".join(out)


def transcripts(summary: Summary, records: list[ResponseRecord], per_cell: int) -> list[tuple[ResponseRecord, dict]]:
    """(record, score) pairs: the first per_cell ok samples of each cell, in cell order."""
    word, unit = summary.word, summary.unit
    by_cell: dict[tuple, list[ResponseRecord]] = {}
    for r in canonical(records):
        if r.ok:
            by_cell.setdefault((r.condition, r.probe), []).append(r)
    out = []
    for c in summary.cells:
        for r in by_cell.get((c.condition, c.probe), [])[:per_cell]:
            out.append((r, score_record(r, word, unit)))
    return out


def transcript_info(r: ResponseRecord, s: dict) -> str:
    """One line about a scored answer: letters, grade and what its probe kind scores."""
    info = f"letters {s['letters'] or '-'}, follows {s['follows']}, grade {s['grade']}"
    if s["wrong_word"]:
        info += f", wrong word {s['wrong_word']}"
    if "word" in s:
        info += f", answer {s['word']['answer'] or '-'} ({'correct' if s['word']['correct'] else 'wrong'})"
    if "choice" in s:
        info += (f", options {' '.join(r.options or [])}, chose {s['choice']['chosen'] or '(unparsed)'}"
                 f" ({'correct' if s['choice']['correct'] else 'wrong'})")
    return info
