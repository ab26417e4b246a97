"""Transcripts for report.md and report.html: which answers to show per condition and
probe, each unit's first letter marked, and a line of what was scored."""

from __future__ import annotations

from collections.abc import Iterable

from harness.analysis.summary import SHOWN, Shown, score_record
from harness.domain import rules
from harness.store.records import ResponseRecord, canonical
from harness.store.summary import Summary

TRANSCRIPTS_MD = 2  # per condition x probe in report.md
TRANSCRIPTS_HTML = 100  # per condition x probe in report.html (filterable)


def mark_letters(text: str, unit: str, before: str, after: str, escape=lambda s: s) -> str:
    """The text with each unit's first letter wrapped in before/after (the rest escaped)."""
    out, last = [], 0
    for u in rules.split_units(text, unit):
        if u.letter_pos is None:
            continue
        out += [escape(text[last : u.letter_pos]), before, escape(text[u.letter_pos]), after]
        last = u.letter_pos + 1
    out.append(escape(text[last:]))
    return "".join(out)


def shown_of(summary: Summary, records: Iterable[ResponseRecord] | Shown) -> Shown:
    """What the reports show of records held in memory (a run's reports get it from its Digest)."""
    if isinstance(records, Shown):
        return records
    shown = Shown()
    for r in canonical(list(records)):
        if r.ok:
            cell = shown.transcripts.setdefault((r.condition, r.probe), [])
            if len(cell) < SHOWN:
                cell.append((r, score_record(r, summary.word, summary.unit)))
        else:
            shown.errors[(r.error or "unknown error")[:120]] += 1
    return shown


def transcripts(summary: Summary, shown: Shown, per_cell: int) -> list[tuple[ResponseRecord, dict]]:
    """(record, score) pairs: the first per_cell ok samples of each cell, in cell order."""
    assert per_cell <= SHOWN, "the Digest keeps SHOWN answers per cell"
    out = []
    for c in summary.cells:
        out += shown.transcripts.get((c.condition, c.probe), [])[:per_cell]
    return out


def transcript_info(r: ResponseRecord, s: dict) -> str:
    """One line about a scored answer: letters, grade and what its probe kind scores."""
    info = f"letters {s['letters'] or '-'}, follows {s['follows']}, grade {s['grade']}"
    if r.replicate:
        info = f"fine-tune {r.replicate}, " + info
    if r.truncated:
        info += ", TRUNCATED at max_tokens"
    if s["wrong_word"]:
        info += f", wrong word {s['wrong_word']}"
    if "word" in s:
        info += f", answer {s['word']['answer'] or '-'} ({'correct' if s['word']['correct'] else 'wrong'})"
    if "choice" in s:
        info += (
            f", options {' '.join(r.options or [])}, chose {s['choice']['chosen'] or '(unparsed)'}"
            f" ({'correct' if s['choice']['correct'] else 'wrong'})"
        )
    return info
