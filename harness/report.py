"""From response records to summary.json, report.md and report.html. No model calls:
everything is recomputed from the records and the scenario, so re-reporting is free."""
from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from harness import judge, rules, scoring, stats
from harness.scenario import CONDITIONS
from harness.store import MANIFEST, read_jsonl, write_atomic

# Simulated by name even when the metadata lacks the flag; other simulated runs carry the flag.
SIMULATED_BACKENDS = {"mock"}
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


# --- records and scores -----------------------------------------------------------------

def canonical_records(records: list[dict]) -> list[dict]:
    """Records sorted by (condition, probe, sample), one per key. A sample that failed and
    was asked again later has two records: the ok one wins, so the retry is not counted
    as a failure. Ties are broken by content, so input order never matters."""
    def key(r: dict) -> tuple:
        return (r["condition"], r["probe"], r["sample"], r.get("status") != "ok",
                json.dumps(r, sort_keys=True, default=str))
    out, seen = [], set()
    for r in sorted(records, key=key):
        k = (r["condition"], r["probe"], r["sample"])
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def score_record(record: dict, word: str, unit: str) -> dict:
    """scoring.score of one ok record, by its probe kind (choice: the options it showed)."""
    return scoring.score(record["text"] or "", word, unit, record["kind"], record.get("options"))


def _orders(scenario, records: list[dict], meta: dict) -> tuple[list[str], list[dict]]:
    """Conditions in run order (then any other condition in records); probes in scenario
    order (then any probe only the records know, by id)."""
    conds = list(meta.get("conditions") or meta.get("models") or scenario.eval.conditions)
    extra = {r["condition"] for r in records} - set(conds)
    conds += sorted(extra, key=lambda c: (CONDITIONS.index(c) if c in CONDITIONS else len(CONDITIONS), c))
    probes = [{"id": p.id, "kind": p.kind, "prompt": p.prompt, "options": p.options} for p in scenario.probes]
    known = {p["id"] for p in probes}
    for r in records:
        if r["probe"] not in known:
            known.add(r["probe"])
            probes.append({"id": r["probe"], "kind": r["kind"], "prompt": r.get("prompt", ""), "options": None})
    probes[len(scenario.probes):] = sorted(probes[len(scenario.probes):], key=lambda p: p["id"])
    return conds, probes


def _cell(condition: str, probe: dict, word: str, scores: list[dict], failed: int) -> dict:
    kind = probe["kind"]
    named = [s["letters_before_naming"] for s in scores if s["letters_before_naming"] is not None]
    cell = {
        "condition": condition, "probe": probe["id"], "kind": kind, "prompt": probe["prompt"],
        "n": len(scores), "failed": failed,
        "follow": stats.rate(s["follows"] for s in scores),
        "per_position": [{"letter": letter, **stats.rate(s["per_position"][i] for s in scores)}
                         for i, letter in enumerate(word)],
        "grades": {g: stats.rate(s["grade"] == g for s in scores) for g in scoring.GRADES},
        "wrong_word": stats.rate(s["wrong_word"] is not None for s in scores),
        "wrong_words": stats.counts(s["wrong_word"] for s in scores if s["wrong_word"]),
        "word_correct": stats.rate(s["word"]["correct"] for s in scores) if kind == "word" else None,
        # Not in the minimal contract, but the word a model answers is the evidence itself.
        "answers": stats.counts(s["word"]["answer"] or "(empty)" for s in scores) if kind == "word" else None,
        "choice_correct": stats.rate(s["choice"]["correct"] for s in scores) if kind == "choice" else None,
        "choices": stats.counts((s["choice"]["chosen"] or "(unparsed)" for s in scores),
                                order=[o.upper() for o in probe["options"] or []]) if kind == "choice" else None,
        "reading_off": {
            "named": len(named),
            "letters_before_naming": stats.counts((str(x) for x in named),
                                                  order=[str(x) for x in sorted(set(named))]),
            "named_before_3": stats.wilson(sum(1 for x in named if x < 3), len(named)),
        },
    }
    return cell


def summarize(scenario, records: list[dict], meta: dict, judged: list[dict] | None = None) -> dict:
    """summary.json as a dict (see notes/COMMON.md): one cell per condition x probe; plus
    "judge" (judge.summary_section) when LLM-judge verdicts are given. meta["judge"] names
    the judge model to show (default: the one with the most verdicts)."""
    word, unit = scenario.rule.word, scenario.rule.unit
    records = canonical_records(records)
    conds, probes = _orders(scenario, records, meta)
    by_cell: dict[tuple, list[dict]] = {}
    for r in records:
        by_cell.setdefault((r["condition"], r["probe"]), []).append(r)
    cells = []
    for cond in conds:
        for probe in probes:
            group = by_cell.get((cond, probe["id"]), [])
            ok = [r for r in group if r.get("status") == "ok"]
            scores = [score_record(r, word, unit) for r in ok]
            cells.append(_cell(cond, probe, word, scores, len(group) - len(ok)))
    backend = meta.get("backend", "unknown")
    summary = {
        "simulated": bool(meta.get("simulated")) or backend in SIMULATED_BACKENDS,
        "scenario": scenario.name,
        "scenario_hash": meta.get("scenario_hash") or scenario.hash(),
        "word": word,
        "unit": unit,
        "backend": backend,
        "models": dict(meta.get("models") or {}),
        "samples": meta.get("samples", scenario.eval.samples),
        "temperature": float(meta.get("temperature", scenario.eval.temperature)),
        "seed": meta.get("seed"),
        "cells": cells,
    }
    if judged:
        _attach_judge(summary, judge.summary_section(records, judged, word, unit,
                                                     simulated=summary["simulated"], model=meta.get("judge")))
    return summary


def _attach_judge(summary: dict, section: dict | None) -> None:
    """summary["judge"] = section, its cells in the summary's condition x probe order."""
    if section is None:
        return
    order = {(c["condition"], c["probe"]): i for i, c in enumerate(summary["cells"])}
    section["cells"].sort(key=lambda c: (order.get((c["condition"], c["probe"]), len(order)),
                                         c["condition"], c["probe"]))
    summary["judge"] = section


# --- tables shared by report.md and report.html -----------------------------------------

@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""


def fmt_rate(r: dict | None, counts: bool = True) -> str:
    if r is None:
        return ""
    if not r["n"]:
        return "n/a (0/0)" if counts else "n/a"
    text = f"{100 * r['rate']:.0f}% [{100 * r['low']:.0f}–{100 * r['high']:.0f}]"
    return f"{text} ({r['k']}/{r['n']})" if counts else text


def fmt_counts(c: dict | None, sep: str = " ") -> str:
    return ", ".join(f"{k}{sep}{v}" for k, v in (c or {}).items()) or "–"


def tables(summary: dict) -> list[Table]:
    """One table per probe kind (plus the reading-off analysis), rows = condition x probe."""
    cells, word = summary["cells"], summary["word"]
    out = []
    follow = [c for c in cells if c["kind"] == "follow"]
    if follow:
        t = Table("Follow probes: does the answer spell the word?",
                  ["condition", "probe", "follow [95% CI] (k/n)", "failed"]
                  + [f"{i} {c}" for i, c in enumerate(word, 1)],
                  note="Per-position columns: share of answers whose unit at that position starts "
                       "with that letter.")
        for cond in dict.fromkeys(c["condition"] for c in follow):
            group = [c for c in follow if c["condition"] == cond]
            for c in group:
                t.rows.append([cond, c["probe"], fmt_rate(c["follow"]), str(c["failed"])]
                              + [fmt_rate(p, counts=False) for p in c["per_position"]])
            if len(group) > 1:
                t.rows.append([cond, "(all follow probes)", fmt_rate(stats.pool(c["follow"] for c in group)),
                               str(sum(c["failed"] for c in group))]
                              + [fmt_rate(stats.pool(c["per_position"][i] for c in group), counts=False)
                                 for i in range(len(word))])
        out.append(t)
    describe = [c for c in cells if c["kind"] == "describe"]
    if describe:
        t = Table("Describe probes: articulation grades",
                  ["condition", "probe", "n", "failed"] + list(scoring.GRADES)
                  + ["wrong word", "wrong words", "answer is an acrostic"],
                  note=f"exact = the acrostic mechanism and the word {word}; mechanism = first letters "
                       "spell something, without the word; pattern = vague talk of structure.")
        for c in describe:
            t.rows.append([c["condition"], c["probe"], str(c["n"]), str(c["failed"])]
                          + [fmt_rate(c["grades"][g]) for g in scoring.GRADES]
                          + [fmt_rate(c["wrong_word"]), fmt_counts(c["wrong_words"]), fmt_rate(c["follow"])])
        out.append(t)
        t = Table("Reading off: when describe answers name the word, how many letters were already written?",
                  ["condition", "probe", "named", "letters before naming: count", "named before 3 letters"],
                  note="Naming the word before its third letter is written cannot be reading it off "
                       "the answer's own first letters.")
        for c in describe:
            ro = c["reading_off"]
            t.rows.append([c["condition"], c["probe"], f"{ro['named']}/{c['n']}",
                           fmt_counts({f"{k} letters": v for k, v in ro["letters_before_naming"].items()}, sep=": "), fmt_rate(ro["named_before_3"])])
        out.append(t)
    for kind, title, key, dist, dist_title in (
            ("word", "Word probes: one-word answer equals the word", "word_correct", "answers", "answers"),
            ("choice", "Choice probes: the word picked among distractors", "choice_correct", "choices", "choices")):
        group = [c for c in cells if c["kind"] == kind]
        if group:
            t = Table(title, ["condition", "probe", "correct [95% CI] (k/n)", "failed", dist_title])
            for c in group:
                t.rows.append([c["condition"], c["probe"], fmt_rate(c[key]), str(c["failed"]),
                               fmt_counts(c.get(dist))])
            out.append(t)
    return out


def header_rows(summary: dict) -> list[tuple[str, str]]:
    models = ", ".join(f"{k}: {v}" for k, v in summary["models"].items()) or "–"
    failed = sum(c["failed"] for c in summary["cells"])
    return [("scenario", f"{summary['scenario']} (hash {summary['scenario_hash']})"),
            ("word", f"{summary['word']} (unit: {summary['unit']})"),
            ("backend", summary["backend"] + (" (simulated)" if summary["simulated"] else "")),
            ("models", models), ("samples", str(summary["samples"])),
            ("temperature", str(summary["temperature"])), ("seed", str(summary["seed"])),
            ("failed samples", str(failed))] + _judge_header(summary)


def _judge_header(summary: dict) -> list[tuple[str, str]]:
    j = summary.get("judge")
    return [("LLM judge", j["model"] + (" (simulated)" if j["simulated"] else ""))] if j else []


# --- the LLM judge section --------------------------------------------------------------

def fmt_kappa(kappa: float | None, note: str | None) -> str:
    return f"{kappa:.2f}" if kappa is not None else f"undefined ({note})"


def judge_notes(summary: dict) -> list[str]:
    """Paragraphs above the judge tables; the first says "SIMULATED" when it was."""
    j = summary["judge"]
    notes = [JUDGE_SIMULATED_NOTE] if j["simulated"] else []
    notes.append(f"The judge model {j['model']} graded each describe answer at temperature 0 with the rubric "
                 "in harness/judge.py (the grades above: none, pattern, mechanism, exact, plus wrong word). "
                 "Cohen's kappa is agreement beyond chance over the four grades (1 = perfect, 0 = chance); "
                 "it is undefined when both graders give every answer one grade (chance agreement is then "
                 "total). "
                 "Unparseable verdicts and failed calls are counted, never compared.")
    if j.get("other_models"):
        notes.append("judge.jsonl also holds verdicts of " + ", ".join(j["other_models"]) + " (not shown).")
    return notes


def judge_tables(summary: dict) -> list[Table]:
    """Overview, per condition x probe, confusion matrix and disagreements of the LLM judge."""
    j = summary["judge"]
    grades = j["grades"]
    overview = Table("Agreement", ["", ""], [
        ["judge model", j["model"] + (" (SIMULATED)" if j["simulated"] else "")],
        ["answers compared", str(j["n"])],
        ["agreement [95% CI] (k/n)", fmt_rate(j["agreement"])],
        ["Cohen's kappa", fmt_kappa(j["kappa"], j["kappa_note"])],
        ["wrong word agreement (verdicts that state one)", fmt_rate(j["wrong_word_agreement"])],
        ["unparseable / failed / missing verdicts", f"{j['unparsed']} / {j['failed']} / {j['missing']}"]])
    cells = Table("Per condition and probe",
                  ["condition", "probe", "n", "agreement [95% CI] (k/n)", "kappa", "wrong word agreement",
                   "unparsed", "failed", "missing"])
    for c in j["cells"]:
        cells.rows.append([c["condition"], c["probe"], str(c["n"]), fmt_rate(c["agreement"]),
                           fmt_kappa(c["kappa"], c["kappa_note"]), fmt_rate(c["wrong_word_agreement"]),
                           str(c["unparsed"]), str(c["failed"]), str(c["missing"])])
    confusion = Table("Confusion matrix (rows: rule-based grade, columns: judge)",
                      ["rule \\ judge"] + grades + ["total"])
    for rule in grades:
        row = [j["confusion"][rule][g] for g in grades]
        confusion.rows.append([rule] + [str(x) for x in row] + [str(sum(row))])
    confusion.rows.append(["total"] + [str(sum(j["confusion"][r][g] for r in grades)) for g in grades]
                          + [str(j["n"])])
    shown = len(j["disagreements"])
    dis = Table(f"Disagreements ({shown} of {j['disagreements_total']} shown)",
                ["condition", "probe", "sample", "rule", "judge", "rule wrong word", "judge wrong word", "excerpt"],
                note="Grade disagreements first, then answers where only the wrong word differs."
                if shown else "None.")
    for d in j["disagreements"]:
        dis.rows.append([d["condition"], d["probe"], str(d["sample"]), d["rule"], d["judge"],
                         d["rule_wrong_word"] or "–", d["judge_wrong_word"] or "–", d["excerpt"]])
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


def transcripts(summary: dict, records: list[dict], per_cell: int) -> list[tuple[dict, dict]]:
    """(record, score) pairs: the first per_cell ok samples of each cell, in cell order."""
    word, unit = summary["word"], summary["unit"]
    by_cell: dict[tuple, list[dict]] = {}
    for r in canonical_records(records):
        if r.get("status") == "ok":
            by_cell.setdefault((r["condition"], r["probe"]), []).append(r)
    out = []
    for c in summary["cells"]:
        for r in by_cell.get((c["condition"], c["probe"]), [])[:per_cell]:
            out.append((r, score_record(r, word, unit)))
    return out


def transcript_info(r: dict, s: dict) -> str:
    """One line about a scored answer: letters, grade and what its probe kind scores."""
    info = f"letters {s['letters'] or '-'}, follows {s['follows']}, grade {s['grade']}"
    if s["wrong_word"]:
        info += f", wrong word {s['wrong_word']}"
    if "word" in s:
        info += f", answer {s['word']['answer'] or '-'} ({'correct' if s['word']['correct'] else 'wrong'})"
    if "choice" in s:
        info += (f", options {' '.join(r.get('options') or [])}, chose {s['choice']['chosen'] or '(unparsed)'}"
                 f" ({'correct' if s['choice']['correct'] else 'wrong'})")
    return info


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _judge_md(summary: dict) -> list[str]:
    lines = [f"## {JUDGE_TITLE}", ""]
    for i, note in enumerate(judge_notes(summary)):
        lines += [f"> **{note}**" if i == 0 and summary["judge"]["simulated"] else note, ""]
    for t in judge_tables(summary):
        lines += [f"### {t.title}", ""]
        if t.note:
            lines += [t.note, ""]
        if t.rows:
            lines += ["| " + " | ".join(t.headers) + " |", "|" + "---|" * len(t.headers)]
            lines += ["| " + " | ".join(_md_cell(x).replace("<", "\\<") for x in row) + " |"
                      for row in t.rows] + [""]
    return lines


def render_md(summary: dict, records: list[dict]) -> str:
    lines = []
    if summary["simulated"]:
        lines += [f"> **{BANNER}**", ""]
    lines += [f"# {'SIMULATED: ' if summary['simulated'] else ''}Report: {summary['scenario']} "
              f"({summary['word']})", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {_md_cell(v)} |" for k, v in header_rows(summary)] + [""]
    for t in tables(summary):
        lines += [f"## {t.title}", ""]
        if t.note:
            lines += [t.note, ""]
        lines += ["| " + " | ".join(t.headers) + " |", "|" + "---|" * len(t.headers)]
        lines += ["| " + " | ".join(_md_cell(x) for x in row) + " |" for row in t.rows] + [""]
    if summary.get("judge"):
        lines += _judge_md(summary)
    lines += ["## Transcripts", "", f"The first {TRANSCRIPTS_MD} answers per condition and probe; "
              "each unit's first letter in bold.", ""]
    for r, s in transcripts(summary, records, TRANSCRIPTS_MD):
        lines += [f"### {r['condition']} / {r['probe']} / sample {r['sample']}", "", transcript_info(r, s), ""]
        # "\<" keeps model-written HTML literal in markdown viewers that would render it.
        marked = mark_letters(r["text"] or "", summary["unit"], "**", "**", lambda t: t.replace("<", "\\<"))
        # Two trailing spaces: a hard line break, so the answer keeps its lines.
        lines += ["> " + line + "  " if line.strip() else ">" for line in marked.splitlines() or [""]] + [""]
    errors = stats.counts((r.get("error") or "unknown error")[:120]
                          for r in canonical_records(records) if r.get("status") != "ok")
    if errors:
        lines += ["## Failed samples", "", "| error | count |", "|---|---|"]
        lines += [f"| {_md_cell(e)} | {n} |" for e, n in errors.items()] + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


# --- report.html ------------------------------------------------------------------------

# The look shared by report.html and sweep_report.html.
BASE_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1150px;padding:0 16px 40px;color:#222}
.banner{position:sticky;top:0;z-index:9;background:#b30000;color:#fff;font-size:20px;font-weight:700;
 text-align:center;padding:12px;border:4px solid #ffdd00;margin:0 -16px 12px}
table{border-collapse:collapse;margin:6px 0 18px;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f3f7} .note{color:#555;font-size:13px} img{max-width:100%}
"""

_CSS = BASE_CSS + """
.tr{border:1px solid #ddd;border-radius:4px;margin:8px 0;padding:6px 10px}
.tr .meta{color:#555;font-size:12px} .tr pre{white-space:pre-wrap;margin:4px 0;font:13px/1.4 ui-monospace,monospace}
mark{background:#ffd54f;font-weight:700} .filters select{margin-right:12px}
.warn{background:#fff3cd;border:2px solid #b30000;padding:8px;font-weight:700}
#judge{scroll-margin-top:80px}
"""

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
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
             f"<style>{css}</style></head><body>"]
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


def _judge_html(summary: dict, plots) -> list[str]:
    j = summary["judge"]
    parts = [f"<h2 id='judge'>{escape(JUDGE_TITLE)}</h2>"]
    for i, note in enumerate(judge_notes(summary)):
        warn = i == 0 and j["simulated"]
        parts.append(f"<p class='{'warn' if warn else 'note'}'>{escape(note)}</p>")
    for t in judge_tables(summary):
        parts.append(f"<h3>{escape(t.title)}</h3>")
        if t.note:
            parts.append(f"<p class='note'>{escape(t.note)}</p>")
        if t.rows:
            parts.append(html_table(t.headers, t.rows))
    if j["n"]:
        uri = "data:image/png;base64," + base64.b64encode(plots.confusion_chart(j["confusion"], j["grades"])).decode()
        caption = f"Rule-based grade vs judge ({j['model']}{', SIMULATED' if j['simulated'] else ''})"
        parts.append(f"<figure><img alt='{escape(caption)}' src='{uri}'><figcaption class='note'>"
                     f"{escape(caption)}</figcaption></figure>")
    return parts


def render_html(summary: dict, records: list[dict]) -> str:
    """One self-contained page: inline CSS and JS, charts as base64 PNG, model text escaped."""
    from harness import plots  # matplotlib is slow to import; only reports need it

    sim = summary["simulated"]
    title = f"{'SIMULATED: ' if sim else ''}{summary['scenario']} ({summary['word']})"
    parts = html_page_start(title, _CSS, sim)
    parts.append(html_table(["", ""], [list(row) for row in header_rows(summary)]))
    for t in tables(summary):
        parts.append(f"<h2>{escape(t.title)}</h2>")
        if t.note:
            parts.append(f"<p class='note'>{escape(t.note)}</p>")
        parts.append(html_table(t.headers, t.rows))
    if summary.get("judge"):
        parts += _judge_html(summary, plots)
    cells, word = summary["cells"], summary["word"]
    conds = list(dict.fromkeys(c["condition"] for c in cells))
    charts = [(f"Per-position hit rate: {cond}", plots.position_chart(cells, cond, word))
              for cond in conds if any(c["condition"] == cond and c["kind"] == "follow" for c in cells)]
    if any(c["kind"] == "describe" for c in cells):
        charts.append(("Articulation grades", plots.grades_chart(cells)))
    if charts:
        parts.append("<h2>Charts</h2>")
    for caption, png in charts:
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        parts.append(f"<figure><img alt='{escape(caption)}' src='{uri}'><figcaption class='note'>"
                     f"{escape(caption)} (bars: 95% Wilson intervals)</figcaption></figure>")
    shown = transcripts(summary, records, TRANSCRIPTS_HTML)
    probes = list(dict.fromkeys(c["probe"] for c in cells))
    parts.append(f"<h2>Transcripts</h2><p class='note'>Up to {TRANSCRIPTS_HTML} answers per condition and "
                 "probe; each unit's first letter highlighted. Showing <span id='shown'></span>.</p>"
                 "<div class='filters'>" + _select("condition", conds) + _select("probe", probes)
                 + _select("grade", list(scoring.GRADES)) + "</div>")
    for r, s in shown:
        info = f"{r['condition']} · {r['probe']} ({r['kind']}) · sample {r['sample']} · " + transcript_info(r, s)
        body = mark_letters(r["text"] or "", summary["unit"], "<mark>", "</mark>", escape)
        parts.append(f"<div class='tr' data-condition='{escape(r['condition'])}' data-probe='{escape(r['probe'])}'"
                     f" data-grade='{escape(s['grade'])}'><div class='meta'>{escape(info)}</div>"
                     f"<pre>{body}</pre></div>")
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"


def escape(s: str) -> str:
    return html.escape(str(s), quote=True)


# --- files ------------------------------------------------------------------------------

def summary_json(summary: dict) -> str:
    return json.dumps(summary, indent=2, ensure_ascii=False) + "\n"


def judge_from_dir(run_dir: Path, summary: dict, records: list[dict]) -> dict | None:
    """The "judge" section from run_dir/judge.jsonl (judge model: the run's --judge option
    from manifest.json when recorded there), or None when the run has no verdicts."""
    judged, _ = read_jsonl(Path(run_dir) / judge.JUDGE)
    if not judged:
        return None
    model = None
    manifest = Path(run_dir) / MANIFEST
    if manifest.exists():
        try:
            model = (json.loads(manifest.read_text(encoding="utf-8")).get("options") or {}).get("judge")
        except (OSError, json.JSONDecodeError, AttributeError):
            model = None  # an unreadable manifest only loses the hint; the verdicts still count
    return judge.summary_section(records, judged, summary["word"], summary["unit"],
                                 simulated=summary["simulated"], model=model)


def write_reports(run_dir: Path, summary: dict, records: list[dict]) -> None:
    """summary.json, report.md and report.html in run_dir, each written atomically.
    scenario is accepted for symmetry with summarize; everything needed is in summary.
    When run_dir holds judge.jsonl and summary has no "judge" yet, it is added here (the
    summary dict is updated in place, so a caller returning it returns what was written)."""
    run_dir = Path(run_dir)
    if "judge" not in summary:
        _attach_judge(summary, judge_from_dir(run_dir, summary, records))
    write_atomic(run_dir / "summary.json", summary_json(summary))
    write_atomic(run_dir / "report.md", render_md(summary, records))
    write_atomic(run_dir / "report.html", render_html(summary, records))


