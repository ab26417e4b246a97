"""From response records to summary.json, report.md and report.html. No model calls:
everything is recomputed from the records and the scenario, so re-reporting is free.
The tables both reports share are in report_tables; the page itself in report_html."""
from __future__ import annotations

import json
from pathlib import Path

from harness.domain import judge
from harness.domain import scoring
from harness.reports import stats
from harness.reports.html import render_html
from harness.reports.tables import (BANNER, JUDGE_TITLE, TRANSCRIPTS_MD, canonical_records, header_rows,
                                   judge_notes, judge_tables, mark_letters, score_record, tables,
                                   transcript_info, transcripts)
from harness.domain.scenario import CONDITIONS
from harness.store.run_dir import MANIFEST, read_jsonl, write_atomic

# Simulated by name even when the metadata lacks the flag; other simulated runs carry the flag.
SIMULATED_BACKENDS = {"mock"}


# --- summary.json ---------------------------------------------------------------------

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
    if meta.get("run_status"):
        summary["run_status"] = meta["run_status"]
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


# --- report.md ------------------------------------------------------------------------

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
