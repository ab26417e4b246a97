"""Tidy data: every sample of one or more runs as a row, with its run, model, replicate,
condition, probe, seed, text and every score, for pandas or R. No model is called.

CSV and JSONL need nothing more; Parquet needs pyarrow (`pip install "hello-harness[parquet]"`)."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from harness.analysis.metrics import METRICS, Tally
from harness.analysis.summary import score_record
from harness.errors import StoreError
from harness.store.run_dir import RunStore, newest_run
from harness.store.run_files import Manifest, State
from harness.store.stream import Responses

FORMATS = ("csv", "jsonl", "parquet")
METRIC_COLUMNS = [f"metric_{name}" for name in METRICS]


def positions_text(hits: list[bool]) -> str:
    """Per-position hits as "1-0-1-1-0": a string that pandas and R keep as text ("01101"
    would be read as the number 1101)."""
    return "-".join("1" if hit else "0" for hit in hits)


def metric_flags(kind: str, style: str, truncated: bool, score: dict) -> dict[str, int | None]:
    """Each metric's 0/1 for one scored answer, by the metric's own definition (the same
    Tally the reports count with)."""
    tally = Tally(kind, style)
    tally.add(score, truncated)
    out: dict[str, int | None] = {}
    for name, d in METRICS.items():
        k, n = d.count(tally)
        counts = tally.kind == d.kind and (d.style is None or tally.style == d.style) and n
        out[f"metric_{name}"] = k if counts else None
    return out


COLUMNS = [
    "run",
    "run_dir",
    "scenario",
    "word",
    "unit",
    "backend",
    "simulated",
    "model",
    "replicate",
    "condition",
    "probe",
    "kind",
    "style",
    "paraphrase",
    "sample",
    "seed",
    "status",
    "error",
    "text",
    "finish_reason",
    "truncated",
    "prompt_tokens",
    "completion_tokens",
    "options",
    "letters",
    "follows",
    "prefix",
    "edit_distance",
    "per_position",
    "grade",
    "wrong_word",
    "named_at_unit",
    "letters_before_naming",
    "word_answer",
    "word_correct",
    "choice",
    "choice_correct",
    # One column per metric of the reports (harness/analysis/metrics.py): 1 or 0 when the
    # answer counts toward that metric, empty when it does not. Sums and counts of these per
    # run and condition are the k and n of the report's rates.
    *METRIC_COLUMNS,
]


class ExportError(Exception):
    """Nothing to export, or a format that cannot be written here. CLI exit 2."""


def rows(run_dir: Path) -> Iterator[dict[str, Any]]:
    """One dict per (condition, replicate, probe, sample) of a run, in key order. The run's
    files are checked before the first row (a bad line is an error before any output); the
    rows are then streamed, one record at a time."""
    store = RunStore(run_dir)
    manifest, state = store.read_manifest(), store.read_state()
    answers = store.answers()
    return _rows(run_dir, manifest, state, answers)


def _rows(run_dir: Path, manifest: Manifest, state: State, answers: Responses) -> Iterator[dict[str, Any]]:
    scenario = manifest.scenario
    word, unit = scenario.rule.word, scenario.rule.unit
    styles = {p.id: p.style for p in scenario.probes}
    simulated = manifest.simulated or state.simulated or manifest.options.backend == "mock"
    for r in answers:
        row: dict[str, Any] = {
            "run": manifest.run_id,
            "run_dir": str(run_dir),
            "scenario": scenario.name,
            "word": word,
            "unit": unit,
            "backend": manifest.options.backend,
            "simulated": simulated,
            "model": r.model,
            "replicate": r.replicate,
            "condition": r.condition,
            "probe": r.probe,
            "kind": r.kind,
            "style": styles.get(r.probe, "free") if r.kind == "describe" else None,
            "paraphrase": r.paraphrase,
            "sample": r.sample,
            "seed": r.seed,
            "status": r.status,
            "error": r.error,
            "text": r.text,
            "finish_reason": r.finish_reason,
            "truncated": r.truncated,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "options": " ".join(r.options) if r.options else None,
        }
        row.update(dict.fromkeys(COLUMNS[COLUMNS.index("letters") :]))
        if r.ok:
            s = score_record(r, word, unit)
            row.update(
                letters=s["letters"],
                follows=s["follows"],
                prefix=s["prefix"],
                edit_distance=s["edit_distance"],
                per_position=positions_text(s["per_position"]),
                grade=s["grade"],
                wrong_word=s["wrong_word"],
                named_at_unit=s["named_at_unit"],
                letters_before_naming=s["letters_before_naming"],
            )
            if "word" in s:
                row.update(word_answer=s["word"]["answer"] or None, word_correct=s["word"]["correct"])
            if "choice" in s:
                row.update(choice=s["choice"]["chosen"], choice_correct=s["choice"]["correct"])
            row.update(metric_flags(r.kind, row["style"] or "free", r.truncated, s))
        yield row


def collect(run_dirs: list[Path]) -> Iterator[dict[str, Any]]:
    """The rows of every run, streamed; every run is checked first, and a run without rows
    is an ExportError before anything is written."""
    for d in run_dirs:
        if not d.is_dir():
            raise StoreError(f"{d}: not a run directory" if d.exists() else f"{d}: no such directory")
    found = [rows(newest_run(d)) for d in run_dirs]  # a scenario's folder: its newest run
    out = itertools.chain.from_iterable(found)
    first = next(out, None)
    if first is None:
        raise ExportError("no samples to export (have the runs been probed?)")
    return itertools.chain([first], out)


def write_rows(data: Iterable[dict[str, Any]], fmt: str, out: BinaryIO) -> int:
    """Write the rows to `out` as they come (Parquet, which is columnar, gathers them first);
    how many there were."""
    n = 0
    if fmt == "parquet":
        table = list(data)
        out.write(to_bytes(table, fmt))
        return len(table)
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for row in data:
        if writer is not None:
            writer.writerow(row)
        else:
            text.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    text.flush()
    text.detach()
    return n


def to_bytes(data: list[dict[str, Any]], fmt: str) -> bytes:
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in data).encode("utf-8")
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(data)
        return buf.getvalue().encode("utf-8")
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ExportError(
                '--format parquet needs pyarrow: pip install "hello-harness[parquet]" (or export --format csv)'
            ) from None
        table = pa.Table.from_pylist(data)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        return sink.getvalue().to_pybytes()
    raise ExportError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
