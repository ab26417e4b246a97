"""report.md: the run's tables, the LLM judge's agreement and a few transcripts, for people."""

from __future__ import annotations

from collections.abc import Iterable

from harness.analysis import stats
from harness.analysis.summary import Shown
from harness.reports.effect_tables import effect_tables
from harness.reports.judge_tables import JUDGE_TITLE, judge_notes, judge_tables
from harness.reports.tables import BANNER, header_rows, tables
from harness.reports.transcripts import TRANSCRIPTS_MD, mark_letters, shown_of, transcript_info, transcripts
from harness.store.records import ResponseRecord
from harness.store.summary import Summary


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _judge_md(summary: Summary) -> list[str]:
    lines = [f"## {JUDGE_TITLE}", ""]
    for i, note in enumerate(judge_notes(summary)):
        lines += [f"> **{note}**" if i == 0 and summary.judge is not None and summary.judge.simulated else note, ""]
    for t in judge_tables(summary):
        lines += [f"### {t.title}", ""]
        if t.note:
            lines += [t.note, ""]
        if t.rows:
            lines += ["| " + " | ".join(t.headers) + " |", "|" + "---|" * len(t.headers)]
            lines += ["| " + " | ".join(_md_cell(x).replace("<", "\\<") for x in row) + " |" for row in t.rows] + [""]
    return lines


FIGURE_CAPTIONS = {
    "headline": "Rates by condition (95% intervals; open dots: each fine-tune)",
    "effects": "Effects with their 95% intervals and marks",
    "positions": "The first letter at each position, by condition",
}


def figure_caption(name: str, summary: Summary) -> str:
    caption = FIGURE_CAPTIONS.get(name, name)
    return caption if summary.fine_tunes > 1 else caption.replace("; open dots: each fine-tune", "")


def render_md(summary: Summary, records: Iterable[ResponseRecord] | Shown, figures: list[str] | None = None) -> str:
    shown = shown_of(summary, records)
    lines = []
    if summary.simulated:
        lines += [f"> **{BANNER}**", ""]
    lines += [f"# Report: {summary.scenario} ({summary.word}){', SIMULATED' if summary.simulated else ''}", ""]
    if summary.headline:
        lines += ["## Headline", ""] + [f"- {sentence}" for sentence in summary.headline] + [""]
    for name in figures or []:  # the files beside report.md
        lines += [f"![{figure_caption(name, summary)}]({name}.png)", ""]
    lines += ["| field | value |", "|---|---|"]
    lines += [f"| {k} | {_md_cell(v)} |" for k, v in header_rows(summary)] + [""]
    for t in effect_tables(summary) + tables(summary):
        lines += [f"## {t.title}", ""]
        if t.note:
            lines += [t.note, ""]
        lines += ["| " + " | ".join(t.headers) + " |", "|" + "---|" * len(t.headers)]
        lines += ["| " + " | ".join(_md_cell(x) for x in row) + " |" for row in t.rows] + [""]
    if summary.judge:
        lines += _judge_md(summary)
    lines += [
        "## Transcripts",
        "",
        f"The first {TRANSCRIPTS_MD} answers per condition and probe; each unit's first letter in bold.",
        "",
    ]
    for r, s in transcripts(summary, shown, TRANSCRIPTS_MD):
        lines += [f"### {r.condition} / {r.probe} / sample {r.sample}", "", transcript_info(r, s), ""]
        # "\<" keeps model-written HTML literal in markdown viewers that would render it.
        marked = mark_letters(r.text or "", summary.unit, "**", "**", lambda t: t.replace("<", "\\<"))
        # Two trailing spaces: a hard line break, so the answer keeps its lines.
        lines += ["> " + line + "  " if line.strip() else ">" for line in marked.splitlines() or [""]] + [""]
    errors = stats.counts(shown.errors.elements())
    if errors:
        lines += ["## Failed samples", "", "| error | count |", "|---|---|"]
        lines += [f"| {_md_cell(e)} | {n} |" for e, n in errors.items()] + [""]
    return "\n".join(lines).rstrip("\n") + "\n"
