"""A run's reports, made from its files (or from the same objects in memory while it runs):
summary.json, report.md and report.html, each written atomically. No model is called."""

from __future__ import annotations

import json
from collections.abc import Iterable

from harness.analysis.summary import Digest, RunInfo, Shown
from harness.reports.figures import Drawn
from harness.reports.html import render_html
from harness.reports.markdown import render_md
from harness.reports.transcripts import shown_of
from harness.store.records import CrossRecord, EventRecord, JudgeVerdict, LogprobRecord, ResponseRecord
from harness.store.run_dir import SUMMARY, RunStore
from harness.store.run_files import Manifest, State
from harness.store.summary import Compute, Summary


def run_info(manifest: Manifest, state: State, events: list[EventRecord] | None = None) -> RunInfo:
    s = manifest.settings
    trained: dict[tuple[str, int], str | None] = {
        (c, r): state.model_of(c, r) for c in s.conditions if c in ("fine_tuned", "sham") for r in range(s.replicates)
    }
    models: dict[str, str | None] = {}
    for c in s.conditions:
        if c not in ("fine_tuned", "sham"):
            models[c] = s.base_model
        elif s.replicates == 1:
            models[c] = trained[(c, 0)]
        else:
            models.update({f"{c}/{r}": trained[(c, r)] for r in range(s.replicates)})
    info = RunInfo(
        backend=manifest.options.backend,
        simulated=manifest.simulated or state.simulated,
        models=models,
        samples=s.samples,
        temperature=s.temperature,
        seed=s.seed,
        scenario_hash=manifest.scenario_hash,
        conditions=list(s.conditions),
        judge_model=manifest.options.judge,
        replicates=s.replicates,
        trained_models=trained,
        cross_model=s.base_model,
        logprobs_skipped=state.steps.get("logprobs") == "skipped",
    )
    info.model_details = dict(state.model_info)
    stamps = [ev.created_at for ev in events or []]
    info.compute = Compute(
        fine_tuning_seconds=job_seconds(state, events or []),
        fine_tuning_span_seconds=float(max(stamps) - min(stamps)) if stamps else None,
        probing_seconds=state.probe_seconds,
    )
    if state.status.ended_early:  # the report of a run that ended early says so
        info.run_status = state.status.value + (f": {state.error}" if state.error else "")
    return info


def job_seconds(state: State, events: list[EventRecord]) -> dict[str, float]:
    """Each job's time from its first event to its last, by job key ("fine_tuned:0"), as the
    provider stamped them (whole seconds at OpenAI; a run made before replicates has one
    job and events without a job id)."""
    keys = {j.job_id: j.key for j in state.jobs if j.job_id}
    times: dict[str, list[int]] = {}
    for ev in events:
        key = keys.get(ev.job_id or "") or (state.jobs[0].key if len(state.jobs) == 1 else None)
        if key:
            times.setdefault(key, []).append(ev.created_at)
    return {key: float(max(t) - min(t)) for key, t in times.items()}


def summary_json(summary: Summary) -> str:
    return json.dumps(summary.to_json(), indent=2, ensure_ascii=False) + "\n"


def draw_figures(summary: Summary) -> dict[str, Drawn]:
    """The run's figures by file stem (headline, effects, positions), as the report shows them."""
    from harness.analysis.summary import primary_condition
    from harness.reports import figures

    a = primary_condition([m.condition for m in summary.metrics])
    drawn = {
        "headline": figures.headline_figure(summary),
        "effects": figures.effects_figure(summary, a) if a else None,
        "positions": figures.position_figure(summary),
    }
    return {name: d for name, d in drawn.items() if d is not None}


def write_reports(store: RunStore, summary: Summary, records: Iterable[ResponseRecord] | Shown) -> None:
    """summary.json, each figure as PNG and SVG, report.md (which links them) and report.html."""
    shown = shown_of(summary, records)
    store.write_bytes(SUMMARY, summary_json(summary))
    drawn = draw_figures(summary)
    for name, d in drawn.items():
        store.write_bytes(f"{name}.png", d.png)
        store.write_bytes(f"{name}.svg", d.svg)
    store.write_bytes("report.md", render_md(summary, shown, list(drawn)))
    store.write_bytes("report.html", render_html(summary, shown, {k: d.png for k, d in drawn.items()}))


def render_run(
    store: RunStore,
    manifest: Manifest,
    state: State,
    answers: Iterable[ResponseRecord],
    verdicts: list[JudgeVerdict],
    cross: list[CrossRecord] | None = None,
    logprobs: list[LogprobRecord] | None = None,
) -> Summary:
    """Score, summarize and write the reports of one run. `answers` are the run's records in
    canonical order (store.answers(): streamed, never all held): each is scored once."""
    info = run_info(manifest, state, store.events())
    digest = Digest(manifest.scenario, info.conditions, verdicts, cross, info.judge_model, info.cross_model)
    for r in answers:
        digest.add(r)
    info.token_counts = digest.token_counts(sum(j.tokens_note is not None for j in state.jobs))
    summary, _ = digest.summarize(info, logprobs)
    write_reports(store, summary, digest.shown)
    return summary


def render_from_files(store: RunStore) -> Summary:
    """`harness report`: the same reports from the run directory alone."""
    manifest, state = store.read_manifest(), store.read_state()
    return render_run(
        store,
        manifest,
        state,
        store.answers(),
        store.verdicts()[0],
        store.cross_predictions()[0],
        store.logprobs()[0],
    )
