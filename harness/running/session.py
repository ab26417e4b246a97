"""Glue between the CLI and the pipeline: choose the run directory, build the backend,
wrap the run in a cassette when recording or replaying, print plans, status and summaries."""
from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Iterator

from rich.markup import escape

import backends
from backends.base import TERMINAL_STATES, ConfigError
from harness.cli import console
from harness.errors import PlanError, RunError
from harness.running.options import RunOptions, settings_for
from harness.running.plan import check_plan, make_plan
from harness.reports.tables import BANNER
from harness.running.pipeline import (JUDGE, Pipeline, RunEnded, create_run, load_run, new_run_id, read_state, render,
                         spent_of, unpriced_of)
from harness.domain.scenario import Scenario, load_scenario
from harness.store.run_dir import RESPONSES, STATE, RunStore, StoreError



def open_backend(name: str, run_dir: Path, scenario: Scenario, options: RunOptions, replay: bool = False):
    """Build the backend for a run. The mock keeps its provider state inside the run
    directory, so a resumed run finds the same files and jobs."""
    kwargs = {"api_base": options.api_base,
              "state_path": run_dir / "mock-provider.json",
              "slip_rate": scenario.mock.slip_rate,
              "state_rule_rate": scenario.mock.state_rule_rate,
              # a backend that can check its model before anything is created (local) takes it
              "base_model": settings_for(scenario, options).base_model}
    if replay:
        kwargs["api_key"] = "sk-replay"  # a cassette holds no key; any will do
        kwargs["sleep"] = lambda seconds: None
    return backends.create(name, **kwargs)


def poll_interval(options: RunOptions, replay: bool) -> float:
    if replay:
        return 0.0
    if options.poll_interval is not None:
        return options.poll_interval
    return backends.load_class(options.backend).poll_interval


@contextlib.contextmanager
def _cassette(record: Path | None, replay: Path | None, backend_cls) -> Iterator[None]:
    if not record and not replay:
        yield
        return
    from harness.running import recording
    path = record or replay
    secrets = recording.backend_secrets(backend_cls)
    with recording.cassette(path, "record" if record else "replay", secrets=secrets):
        yield


def start(scenario_path: Path, options: RunOptions, *, out_dir: Path | None, record: Path | None,
          replay: Path | None, dry_run: bool, argv: list[str]) -> None:
    scenario = load_scenario(scenario_path)
    cls = backends.load_class(options.backend)
    simulated = bool(getattr(cls, "simulated", False))
    settings = settings_for(scenario, options)
    if settings.train and "fine_tune" not in getattr(cls, "capabilities", ()):
        raise ConfigError(f"backend {options.backend!r} cannot fine-tune; pass --model ft:... "
                          "or --conditions base,in_context")
    if (record or replay) and simulated:
        raise ConfigError(f"--record/--replay capture HTTP traffic; backend {options.backend!r} makes none "
                          "(use --backend openai with `harness simulate`)")
    if replay and not replay.exists():
        raise ConfigError(f"{replay}: cassette not found")
    plan = make_plan(scenario, scenario_path.parent, options)
    minimum = max(1, getattr(cls, "min_training_examples", 1))
    if settings.train and plan.examples < minimum:  # the provider would refuse the upload
        raise ConfigError(f"{scenario_path}: examples: backend {options.backend!r} needs at least {minimum} "
                          f"training examples to fine-tune, the scenario has {plan.examples}")
    for warning in plan.warnings:
        console.err.print(f"[yellow]warning: {warning}[/yellow]")
    if dry_run:
        _print_plan(plan, settings, simulated)
        try:
            check_plan(plan, options, simulated)
        except PlanError as e:  # the plan is the answer; say what the real run would do with it
            console.err.print(f"[yellow]warning: without --dry-run this run would be refused: {escape(str(e))}[/yellow]")
        return
    check_plan(plan, options, simulated)
    recorded_run_id = None
    if replay:
        sidecar = _replay_sidecar(replay)
        recorded_run_id = sidecar.get("run_id")
        simulated = simulated or bool(sidecar.get("simulated"))
    # The default directory is named by the run id. A replay keeps the recorded run id (its
    # requests carry it) but gets a directory of its own, so the same cassette can be
    # replayed again without --out.
    run_id = recorded_run_id or new_run_id(scenario)
    run_dir = out_dir or Path("runs") / scenario.name / (new_run_id(scenario) if replay else run_id)
    if run_dir.exists() and any(run_dir.iterdir()) and not RunStore(run_dir).interrupted_at_creation():
        raise StoreError(f"{run_dir}: already exists and is not empty; choose another --out "
                         "or `harness resume` it")
    options.poll_interval = poll_interval(options, bool(replay))
    # The backend is built (and a missing key refused) before the run directory exists.
    backend = open_backend(options.backend, run_dir, scenario, options, replay=bool(replay))
    _print_plan(plan, settings, simulated)
    store = RunStore(run_dir)
    with store.locked():
        create_run(store, scenario_path, scenario, options, simulated, run_id=run_id)
        console.err.print(f"run directory: {run_dir}")
        with _cassette(record, replay, cls):
            summary = _execute(store, backend, run_dir)
    if record:
        from harness.running import recording
        answered = len([r for r in store.records(RESPONSES)[0] if r.get("status") == "ok"])
        answered += len([r for r in store.records(JUDGE)[0] if r.get("status") == "ok"])
        try:
            recording.check_complete(record, answered)
        except recording.RecordingIncomplete as e:
            raise RunError(str(e)) from None
        recording.write_sidecar(record, command=argv, scenario_hash=scenario.hash(),
                                recorded_against=recording.recorded_against(backend, options.api_base),
                                extra={"run_id": run_id, "backend": options.backend},
                                secrets=recording.backend_secrets(cls))
    _print_summary(summary, run_dir)


def _replay_sidecar(replay: Path) -> dict:
    """The sidecar of a cassette to replay ({} when it has none); ConfigError when it is
    not one, never a traceback."""
    import yaml

    from harness.running import recording
    try:
        sidecar = recording.read_sidecar(replay) or {}
    except (ValueError, yaml.YAMLError, OSError) as e:
        raise ConfigError(f"{recording.sidecar_path(replay)}: not a cassette sidecar: {e}") from None
    run_id = sidecar.get("run_id")
    if run_id is not None and not isinstance(run_id, str):
        raise ConfigError(f"{recording.sidecar_path(replay)}: not a cassette sidecar: run_id is not a string")
    return sidecar


def _execute(store: RunStore, backend, run_dir: Path) -> dict:
    """Run the pipeline; a run that ended with failed samples has its reports written:
    show them before the error ends the command."""
    pipeline = Pipeline(store, backend, console.RunUI(), sleep=lambda s: time.sleep(s) if s else None)
    try:
        return pipeline.execute()
    except RunEnded as e:
        if e.summary is not None:
            # The error that follows says how the run ended: the summary need not repeat it.
            _print_summary(e.summary, run_dir, resumable=e.status == "incomplete", show_run_status=False)
        raise


def reopen(store: RunStore, *, api_base: str | None = None, poll_interval: float | None = None,
           max_cost: float | None = None):
    """Get a run ready to continue (the caller holds its lock): refuse a cancelled run,
    apply changed provider options (and a new spending cap), build its backend, mark it
    running. Returns the backend."""
    scenario, options, manifest = load_run(store)
    state = read_state(store)
    if state.get("status") == "cancelled":
        raise StoreError(f"{store.dir}: the run was cancelled; start a new one")
    changes = {k: v for k, v in {"api_base": api_base, "poll_interval": poll_interval,
                                 "max_cost": max_cost}.items()
               if v is not None and v != getattr(options, k)}
    if changes:
        options = dataclasses.replace(options, **changes)
        manifest["options"] = dataclasses.asdict(options)
        store.write_json("manifest.json", manifest)
    backend = open_backend(options.backend, store.dir, scenario, options)
    state.update(status="running", error=None)
    store.write_json(STATE, state)
    return backend


def resume(run_dir: Path, *, api_base: str | None, poll_interval: float | None,
           max_cost: float | None = None) -> None:
    store = RunStore(run_dir)
    load_run(store)  # a clear error for a folder that is not a run, before taking the lock
    with store.locked():
        backend = reopen(store, api_base=api_base, poll_interval=poll_interval, max_cost=max_cost)
        summary = _execute(store, backend, run_dir)
    _print_summary(summary, run_dir)


def cancel(run_dir: Path, *, api_base: str | None) -> None:
    """Cancel the run's fine-tuning job and mark the run cancelled. A finished run is
    refused. A run another process is driving is not written to: its job is cancelled at
    the provider, and that process stops when its next poll sees it."""
    store = RunStore(run_dir)
    scenario, options, _ = load_run(store)
    if api_base:
        options = dataclasses.replace(options, api_base=api_base)
    try:
        store.lock()
    except StoreError:
        state = read_state(store)
        if not _job_running(state):
            raise StoreError(f"{run_dir}: another harness process is running it and its fine-tuning is "
                             "over, so there is no job to cancel; interrupt that process (Ctrl-C) instead") from None
        job = open_backend(options.backend, run_dir, scenario, options).cancel_job(state["job_id"])
        console.out.print(f"{run_dir}: job {job.id}: {job.status}; the running process will stop when it "
                          "sees the job cancelled (this command wrote nothing)")
        return
    try:
        state = read_state(store)
        status = state.get("status")
        if status == "succeeded" or (status == "failed" and not _job_running(state)):
            raise StoreError(f"{run_dir}: the run already ended {status}; there is nothing to cancel")
        message = "no fine-tuning job to cancel"
        if _job_running(state):
            job = open_backend(options.backend, run_dir, scenario, options).cancel_job(state["job_id"])
            message = f"job {job.id}: {job.status}"
            state["job_status"] = job.status
        state.update(status="cancelled", error="cancelled by user")
        store.write_json(STATE, state)
    finally:
        store.unlock()
    console.out.print(f"{run_dir}: cancelled ({message})")


def _job_running(state: dict) -> bool:
    """Whether the run has a fine-tuning job that may still be going at the provider."""
    return bool(state.get("job_id")) and not state.get("fine_tuned_model") \
        and state.get("job_status") not in TERMINAL_STATES


def rerender(run_dir: Path) -> None:
    store = RunStore(run_dir)
    summary = render(store)
    _print_summary(summary, run_dir)


def _status_word(store: RunStore, state: dict) -> str:
    """The state's status, except that a "running" run no process holds was interrupted
    (killed, or its machine slept and restarted)."""
    status = state.get("status")
    if status == "running" and not store.in_use():
        return f"interrupted (no harness process is running it; `harness resume {store.dir}` continues it)"
    return str(status)


def print_status(run_dir: Path) -> None:
    store = RunStore(run_dir)
    scenario, options, manifest = load_run(store)
    state = read_state(store)
    s = settings_for(scenario, options)
    records, dropped = store.records(RESPONSES)
    done = {(r["condition"], r["probe"], r["sample"]) for r in records if r.get("status") == "ok"}
    failed = {(r["condition"], r["probe"], r["sample"]) for r in records if r.get("status") != "ok"} - done
    total = len(s.conditions) * len(scenario.probes) * s.samples
    judged, _ = store.records(JUDGE)
    simulated = bool(manifest.get("simulated") or state.get("simulated"))
    spent = 0.0 if simulated else spent_of(state, records, judged)
    unknown = [] if simulated else unpriced_of(records, judged)
    if not simulated and state.get("fine_tuned_model") and state.get("job_id") and state.get("training_cost") is None:
        unknown.insert(0, f"training {s.base_model}")
    lines = [
        f"run        {manifest['run_id']} ({scenario.name}, word {scenario.rule.word}, backend {options.backend}"
        + (", SIMULATED" if simulated else "") + ")",
        f"status     {_status_word(store, state)}" + (f": {state['error']}" if state.get("error") else ""),
        "steps      " + (", ".join(f"{k} {v}" for k, v in state.get("steps", {}).items()) or "none yet"),
        f"job        {state.get('job_id') or '-'} ({state.get('job_status') or '-'})",
        f"model      {state.get('fine_tuned_model') or '-'}",
        f"samples    {len(done)} of {total} done, {len(failed)} failed" + (f", {dropped} torn line(s)" if dropped else ""),
        f"spend      ${spent:.4f} " + ("(simulated: nothing is spent)" if simulated
                                     else "(estimate from the price table)")
        + (f" (some prices unknown: {', '.join(unknown)} counted as $0)" if unknown else ""),
    ]
    console.out.print("\n".join(lines))


def _print_plan(plan, settings, simulated: bool) -> None:
    def usd(x):
        return "unknown price" if x is None else f"${x:.2f}"
    lines = [f"plan: {plan.examples} examples, {plan.training_tokens} tokens per epoch x {plan.epochs} epochs"
             + (f" = training {usd(plan.training_cost)}" if settings.train else " (no training)"),
             f"      {plan.probe_calls} probe calls ({', '.join(settings.conditions)}; "
             f"{settings.samples} samples at T={settings.temperature}) = inference {usd(plan.inference_cost)}",
             f"      estimated total {usd(plan.total)}"
             + (" (SIMULATED backend: nothing is spent)" if simulated else "")]
    console.err.print("\n".join(lines))


def _print_summary(summary: dict, run_dir: Path, resumable: bool = True, show_run_status: bool = True) -> None:
    if summary.get("simulated"):
        console.out.print(f"[bold red]{BANNER}[/bold red]")
    console.out.print(console.summary_table(summary))
    if show_run_status and summary.get("run_status"):  # provider text: never read as markup
        console.out.print(f"[bold red]run {escape(summary['run_status'])}[/bold red]")
    failed = sum(cell["failed"] for cell in summary["cells"])
    if failed:
        again = f"`harness resume {run_dir}` asks them again" if resumable else "see the error below"
        console.out.print(f"[yellow]{failed} sample(s) failed and are not scored; {again}.[/yellow]")
    console.out.print(f"report: {run_dir / 'report.md'}  (also report.html, summary.json)")

