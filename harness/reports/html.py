"""report.html: one self-contained page (inline CSS and JS, charts as base64 PNG, model
text escaped), and the page pieces sweep_report.html shares."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable

from harness.analysis.summary import Shown
from harness.domain import scoring
from harness.reports.effect_tables import effect_tables
from harness.reports.judge_tables import JUDGE_TITLE, judge_notes, judge_tables
from harness.reports.tables import BANNER, header_rows, tables
from harness.reports.transcripts import TRANSCRIPTS_HTML, mark_letters, shown_of, transcript_info, transcripts
from harness.store.records import ResponseRecord
from harness.store.summary import Summary

# The look shared by report.html and sweep_report.html.
BASE_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1150px;padding:0 16px 40px;color:#222}
.banner{position:sticky;top:0;z-index:9;background:#b30000;color:#fff;font-size:20px;font-weight:700;
 text-align:center;padding:12px;border:4px solid #ffdd00;margin:0 -16px 12px}
table{border-collapse:collapse;margin:6px 0 18px;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f3f7} .note{color:#555;font-size:13px} img{max-width:100%}
"""

_CSS = (
    BASE_CSS
    + """
.tr{border:1px solid #ddd;border-radius:4px;margin:8px 0;padding:6px 10px}
.tr .meta{color:#555;font-size:12px} .tr pre{white-space:pre-wrap;margin:4px 0;font:13px/1.4 ui-monospace,monospace}
mark{background:#ffd54f;font-weight:700} .filters select{margin-right:12px}
.warn{background:#fff3cd;border:2px solid #b30000;padding:8px;font-weight:700}
#judge{scroll-margin-top:80px}
.headline{background:#f4f8fc;border-left:5px solid #08306b;padding:2px 14px;margin:6px 0 8px}
.headline ul{margin:4px 0;padding-left:18px} .headline h2{margin:6px 0 2px;font-size:18px}
.fig-headline img{max-height:340px} .fig-effects img{max-height:420px} figure{margin:8px 0}
"""
)

_JS = """
const sels=[...document.querySelectorAll('.filters select')];
function applyFilters(){let shown=0;
 document.querySelectorAll('.tr').forEach(d=>{const ok=sels.every(s=>!s.value||d.dataset[s.name]===s.value);
  d.hidden=!ok;if(ok)shown++;});
 document.getElementById('shown').textContent=shown;}
sels.forEach(s=>s.addEventListener('change',applyFilters));applyFilters();
"""


def html_page_start(title: str, css: str, simulated: bool) -> list[str]:
    """The head of a self-contained page, its SIMULATED banner when simulated, and its title."""
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{css}</style></head><body>"
    ]
    if simulated:
        parts.append(f"<div class='banner' role='alert'>{escape(BANNER)}</div>")
    parts.append(f"<h1>{escape(title)}</h1>")
    return parts


def html_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(x)}</td>" for x in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _select(name: str, values: list[str]) -> str:
    opts = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)
    return f'<label>{name} <select name="{name}"><option value="">all</option>{opts}</select></label>'


def _judge_html(summary: Summary, plots) -> list[str]:
    j = summary.judge
    assert j is not None
    parts = [f"<h2 id='judge'>{escape(JUDGE_TITLE)}</h2>"]
    for i, note in enumerate(judge_notes(summary)):
        warn = i == 0 and j.simulated
        parts.append(f"<p class='{'warn' if warn else 'note'}'>{escape(note)}</p>")
    for t in judge_tables(summary):
        parts.append(f"<h3>{escape(t.title)}</h3>")
        if t.note:
            parts.append(f"<p class='note'>{escape(t.note)}</p>")
        if t.rows:
            parts.append(html_table(t.headers, t.rows))
    if j.n:
        uri = "data:image/png;base64," + base64.b64encode(plots.confusion_chart(j.confusion, list(j.grades))).decode()
        caption = f"Rule-based grade vs judge ({j.model}{', SIMULATED' if j.simulated else ''})"
        parts.append(
            f"<figure><img alt='{escape(caption)}' src='{uri}'><figcaption class='note'>"
            f"{escape(caption)}</figcaption></figure>"
        )
    return parts


def figure_html(png: bytes, caption: str, css_class: str = "") -> str:
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (
        f"<figure class='{css_class}'><img alt='{escape(caption)}' src='{uri}'>"
        f"<figcaption class='note'>{escape(caption)}</figcaption></figure>"
    )


def render_html(
    summary: Summary, records: Iterable[ResponseRecord] | Shown, figures: dict[str, bytes] | None = None
) -> str:
    """One self-contained page: inline CSS and JS, charts as base64 PNG, model text escaped.
    The headline and its figure come first, so the first screen answers the question."""
    from harness.reports import plots  # matplotlib is slow to import; only reports need it
    from harness.reports.markdown import FIGURE_CAPTIONS, figure_caption

    figures = figures or {}
    sim = summary.simulated
    title = f"Report: {summary.scenario} ({summary.word}){', SIMULATED' if sim else ''}"
    parts = html_page_start(title, _CSS, sim)
    if summary.headline:
        parts.append(
            "<section class='headline'><h2>Headline</h2><ul>"
            + "".join(f"<li>{escape(s)}</li>" for s in summary.headline if not (sim and s.startswith("SIMULATED")))
            + "</ul></section>"
        )
    for name in ("headline", "effects"):
        if name in figures:
            parts.append(figure_html(figures[name], figure_caption(name, summary), f"fig-{name}"))
    parts.append(html_table(["field", "value"], [list(row) for row in header_rows(summary)]))
    for t in effect_tables(summary) + tables(summary):
        parts.append(f"<h2>{escape(t.title)}</h2>")
        if t.note:
            parts.append(f"<p class='note'>{escape(t.note)}</p>")
        parts.append(html_table(t.headers, t.rows))
    if summary.judge:
        parts += _judge_html(summary, plots)
    cells = summary.cells
    conds = list(dict.fromkeys(c.condition for c in cells))
    charts = [(FIGURE_CAPTIONS["positions"], figures["positions"])] if "positions" in figures else []
    if any(c.kind == "describe" for c in cells):
        charts.append(
            (
                "Articulation grades (shares of answers, no intervals: see the describe table for them)",
                plots.grades_chart(cells),
            )
        )
    if charts:
        parts.append("<h2>Charts</h2>")
    for caption, png in charts:
        parts.append(figure_html(png, caption))
    shown = transcripts(summary, shown_of(summary, records), TRANSCRIPTS_HTML)
    probes = list(dict.fromkeys(c.probe for c in cells))
    parts.append(
        f"<h2>Transcripts</h2><p class='note'>Up to {TRANSCRIPTS_HTML} answers per condition and "
        "probe; each unit's first letter highlighted. Showing <span id='shown'></span>.</p>"
        "<div class='filters'>"
        + _select("condition", conds)
        + _select("probe", probes)
        + _select("grade", list(scoring.GRADES))
        + "</div>"
    )
    for r, s in shown:
        info = f"{r.condition} · {r.probe} ({r.kind}) · sample {r.sample} · " + transcript_info(r, s)
        body = mark_letters(r.text or "", summary.unit, "<mark>", "</mark>", escape)
        parts.append(
            f"<div class='tr' data-condition='{escape(r.condition)}' data-probe='{escape(r.probe)}'"
            f" data-grade='{escape(s['grade'])}'><div class='meta'>{escape(info)}</div>"
            f"<pre>{body}</pre></div>"
        )
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"


def escape(s: str) -> str:
    return html.escape(str(s), quote=True)
