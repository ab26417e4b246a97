"""Sessions: start a run, resume it, cancel it, say where it stands, re-render its reports.
Everything here decides and acts; nothing prints (the caller's RunUI and the CLI's views do).

The plan and settings are computed once, in `prepare`, and passed down; a run created here
is handed to the pipeline as the objects it was written from."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import backends
from backends.base import Backend, BackendError, ConfigError, Job
from harness import redact
from harness.calls import boundary
from harness.calls.budget import Pricer
from harness.calls.logprobs import has_scored_probes
from harness.calls.probing import tasks_for
from harness.domain import dataset
from harness.domain.judge import text_hash
from harness.domain.scenario import Example, Scenario, load_scenario
from harness.errors import PlanError, RunError, RunInterrupted, StoreError
from harness.running import replay_input, stopping
from harness.running.lifecycle import Run, create_run, new_run_id, open_run
from harness.running.options import settings_for
from harness.running.pipeline import Pipeline, cross_check_applies
from harness.running.plan import Plan, check_fits_backend, check_plan, make_plan
from harness.running.training import JOB_KEY, RUN_ID_KEY
from harness.running.ui import RunUI
from harness.store.records import latest_verdicts
from harness.store.run_dir import RunStore
from harness.store.run_files import RunOptions, RunStatus, Settings, TrainingJob
from harness.store.summary import Summary


def open_backend(name: str, run_dir: Path, scenario: Scenario, options: RunOptions, replay: bool = False) -> Backend:
    """Build the backend for a run. The mock keeps its provider state inside the run
    directory, so a resumed run finds the same files and jobs."""
    kwargs: dict[str, object] = {
        "api_base": options.api_base,
        "state_path": run_dir / "mock-provider.json",
        "slip_rate": scenario.mock.slip_rate,
        "state_rule_rate": scenario.mock.state_rule_rate,
        "replicate_sd": scenario.mock.replicate_sd,
        # a backend that can check its model before anything is created (local) takes it
        "base_model": settings_for(scenario, options).base_model,
    }
    if replay:
        kwargs["api_key"] = "sk-replay"  # a cassette holds no key; any will do
        kwargs["sleep"] = lambda seconds: None
    redact.register(backends.load_class(name).secret_env)  # redacted from what comes back, and from logs
    return backends.create(name, **kwargs)


def poll_interval(options: RunOptions, replay: bool) -> float | None:
    """0 in replay; else the user's --poll-interval, or None: the pipeline then asks the
    backend at each poll (an openai backend that finds itself talking to the simulator
    polls every 0.2 s instead of 10)."""
    return 0.0 if replay else options.poll_interval


@contextlib.contextmanager
def _cassette(record: Path | None, replay: Path | None, backend_cls: type[Backend]) -> Iterator[None]:
    path = record or replay
    if path is None:
        yield
        return
    from harness.running import recording

    with recording.cassette(path, "record" if record else "replay", secrets=recording.backend_secrets(backend_cls)):
        yield


# --- starting -------------------------------------------------------------------------


@dataclass
class Prepared:
    """A run that may start: its scenario, examples, settings and priced plan."""

    scenario_path: Path
    scenario: Scenario
    examples: list[Example]
    options: RunOptions
    settings: Settings
    plan: Plan
    backend_cls: type[Backend]
    simulated: bool
    replay_sidecar: dict | None = None  # the checked sidecar of the cassette to replay

    def refusal(self) -> str | None:
        """Why the run would be refused (over --max-cost, unpriced), or None."""
        try:
            check_plan(self.plan, self.options, self.simulated)
        except PlanError as e:
            return str(e)
        return None


def prepare(
    scenario_path: Path, options: RunOptions, *, record: Path | None = None, replay: Path | None = None
) -> Prepared:
    """Read and check everything a run needs before anything is created or called."""
    scenario = load_scenario(scenario_path)
    cls = backends.load_class(options.backend)
    settings = settings_for(scenario, options)
    if options.model and (settings.replicates > 1 or "sham" in settings.conditions):
        raise ConfigError(
            "--model probes one existing fine-tuned model: it cannot be combined with replicates "
            "or the sham condition (the run trains those itself)"
        )
    if settings.train and "fine_tune" not in cls.capabilities:
        raise ConfigError(
            f"backend {options.backend!r} cannot fine-tune; pass --model ft:... or --conditions base,in_context"
        )
    if (record or replay) and cls.simulated:
        raise ConfigError(
            f"--record/--replay capture HTTP traffic; backend {options.backend!r} makes none "
            "(use --backend openai with `harness simulate`)"
        )
    sidecar = replay_input.check_replay(replay) if replay else None  # before anything is created
    examples = dataset.resolve_examples(scenario, scenario_path.parent)
    plan = make_plan(scenario, examples, settings, options, Pricer.of(cls))
    check_fits_backend(
        scenario_path, options.backend, cls, plan.examples, settings.train, dict(scenario.fine_tune.hyperparameters)
    )
    return Prepared(scenario_path, scenario, examples, options, settings, plan, cls, cls.simulated, sidecar)


@dataclass
class Started:
    run_dir: Path
    summary: Summary
    backend: Backend
    run_id: str


def start(
    p: Prepared,
    ui: RunUI,
    *,
    out_dir: Path | None,
    record: Path | None,
    replay: Path | None,
    argv: list[str],
    show_plan: Callable[[Prepared, bool], None],
) -> Started:
    """Create the run directory and drive the run to its end. `show_plan(p, simulated)` is
    called once the backend is built (a missing key refused), before anything is created."""
    check_plan(p.plan, p.options, p.simulated)
    simulated = p.simulated
    recorded_run_id = None
    if replay:
        sidecar = p.replay_sidecar if p.replay_sidecar is not None else replay_input.check_replay(replay)
        recorded_run_id = sidecar.get("run_id")
        simulated = simulated or bool(sidecar.get("simulated"))
    # The default directory is named by the run id. A replay keeps the recorded run id (its
    # requests carry it) but gets a directory of its own, so the same cassette can be
    # replayed again without --out.
    run_id = recorded_run_id or new_run_id(p.scenario)
    run_dir = out_dir or Path("runs") / p.scenario.name / (new_run_id(p.scenario) if replay else run_id)
    if run_dir.exists() and any(run_dir.iterdir()) and not RunStore(run_dir).interrupted_at_creation():
        raise StoreError(f"{run_dir}: already exists and is not empty; choose another --out or `harness resume` it")
    options = p.options.model_copy(update={"poll_interval": poll_interval(p.options, bool(replay))})
    # The backend is built (and a missing key refused) before the run directory exists.
    backend = open_backend(options.backend, run_dir, p.scenario, options, replay=bool(replay))
    show_plan(p, simulated)
    store = RunStore(run_dir)
    with store.locked(), _interruptible(run_dir):
        run = create_run(store, p.scenario_path, p.scenario, p.examples, options, p.settings, simulated, run_id)
        ui.notice(f"run directory: {run_dir}")
        with _cassette(record, replay, p.backend_cls):
            summary = Pipeline(run, backend, ui, sleep=_sleep).execute()
    if record:
        _finish_recording(record, run, backend, argv)
    return Started(run_dir, summary, backend, run_id)


@contextlib.contextmanager
def _interruptible(run_dir: Path) -> Iterator[None]:
    """Ctrl-C says which directory `harness resume` continues (not a placeholder)."""
    try:
        yield
    except RunInterrupted:
        raise
    except KeyboardInterrupt:
        raise RunInterrupted(run_dir) from None


def _sleep(seconds: float) -> None:
    if seconds:
        import time

        time.sleep(seconds)


def _finish_recording(record: Path, run: Run, backend: Backend, argv: list[str]) -> None:
    """Refuse a recording that missed calls, then write its sidecar."""
    from harness.running import recording

    answered = run.store.answers().ok_records + sum(v.ok for v in run.store.verdicts()[0])
    try:
        recording.check_complete(record, answered)
    except recording.RecordingIncomplete as e:
        raise RunError(str(e)) from None
    recording.write_sidecar(
        record,
        command=argv,
        scenario_hash=run.manifest.scenario_hash,
        recorded_against=recording.recorded_against(backend, run.options.api_base),
        extra={"run_id": run.state.run_id, "backend": run.options.backend},
        secrets=recording.backend_secrets(backend),
    )


# --- resuming, cancelling ----------------------------------------------------------------


def _reopen(
    store: RunStore, *, api_base: str | None = None, poll_interval: float | None = None, max_cost: float | None = None
) -> tuple[Run, Backend]:
    """Get a run ready to continue (the caller holds its lock): refuse a cancelled run,
    apply changed provider options (and a new spending cap), build its backend, mark it
    running."""
    run = open_run(store)
    if run.state.status == RunStatus.CANCELLED:
        raise StoreError(f"{store.dir}: the run was cancelled; start a new one")
    changes = {
        k: v
        for k, v in {"api_base": api_base, "poll_interval": poll_interval, "max_cost": max_cost}.items()
        if v is not None and v != getattr(run.options, k)
    }
    if changes:
        run.manifest.options = run.options.model_copy(update=changes)
        store.write_manifest(run.manifest)
    # A run with nothing left to ask only re-renders its reports: no provider, so no key.
    backend = (
        Backend() if _nothing_left(run) else open_backend(run.options.backend, store.dir, run.scenario, run.options)
    )
    run.state.status, run.state.error = RunStatus.RUNNING, None
    run.save()
    return run, backend


def _nothing_left(run: Run) -> bool:
    """Whether a resume would make no provider call: trained (or nothing to train), every
    sample answered, and every describe answer judged when the run has a judge."""
    s, state = run.settings, run.state
    if not all(state.model_of(t, r) for t in s.trainings for r in range(s.replicates)):
        return False
    wanted = {t.key for t in tasks_for(run.scenario, list(s.conditions), s.samples, s.seed, s.replicates_of)}
    answers = run.store.answers()
    if len(wanted - answers.ok_keys()) > 0:
        return False
    if cross_check_applies(run.scenario, s) and state.steps.get("cross_check") != "done":
        return False
    if has_scored_probes(list(run.scenario.probes)) and state.steps.get("logprobs") not in ("done", "skipped"):
        return False
    judge = run.options.judge
    if judge is None:
        return True
    verdicts = latest_verdicts(run.store.verdicts()[0], judge)
    return all(
        a.key in verdicts and verdicts[a.key].ok and verdicts[a.key].text_sha256 in (None, text_hash(a.text))
        for a in answers
        if a.ok and a.kind == "describe" and a.key in wanted
    )


def resume(
    run_dir: Path,
    ui: RunUI,
    *,
    api_base: str | None,
    poll_interval: float | None,
    max_cost: float | None = None,
    sleep: Callable[[float], None] = _sleep,
) -> Summary:
    store = RunStore(run_dir)
    open_run(store)  # a clear error for a folder that is not a run, before taking the lock
    with store.locked(), _interruptible(run_dir):
        run, backend = _reopen(store, api_base=api_base, poll_interval=poll_interval, max_cost=max_cost)
        return Pipeline(run, backend, ui, sleep=sleep).execute()


def reopen_for_sweep(
    store: RunStore, api_base: str | None, poll_interval: float | None, max_cost: float | None = None
) -> tuple[Run, Backend]:
    """A sweep cell's run, ready to continue (the sweep holds its lock), capped at what
    remains of the sweep's budget for it."""
    return _reopen(store, api_base=api_base, poll_interval=poll_interval, max_cost=max_cost)


def _running_jobs(run: Run) -> list[TrainingJob]:
    """The run's fine-tuning jobs that may still be going at the provider: those with an id,
    and those being created when the process stopped (they may exist, their id unsaved)."""
    return stopping.active(run.state.jobs)


def _cancel_jobs(run: Run, options: RunOptions) -> list[Job]:
    """Cancel every running job of the run; one being created is looked up by its metadata
    first (never left running unseen), and is none when its create never landed."""
    backend = open_backend(options.backend, run.store.dir, run.scenario, options)
    running = _running_jobs(run)
    unsaved = {}
    if any(not j.job_id for j in running):
        made = boundary.checked(functools.partial(backend.find_jobs, {RUN_ID_KEY: run.state.run_id}), boundary.jobs)
        unsaved = {found.metadata.get(JOB_KEY, "fine_tuned:0"): found for found in made}
    cancelled = []
    for job in running:
        if not job.job_id:
            found = unsaved.get(job.key)
            if found is None:  # refused or never sent: nothing to cancel
                continue
            job.job_id, job.creating = found.id, False
        assert job.job_id is not None
        try:
            found = boundary.checked(functools.partial(backend.cancel_job, job.job_id), boundary.job)
        except BackendError as refused:
            # A job that ended since the run last looked cannot be cancelled (OpenAI refuses
            # it): what it became is kept, and the other jobs are still cancelled.
            found = boundary.checked(functools.partial(backend.get_job, job.job_id), boundary.job)
            if not found.done:
                raise refused from None
        job.job_status = found.status
        cancelled.append(found)
    return cancelled


@dataclass
class Cancelled:
    jobs: list[Job]
    wrote: bool  # False when another process drives the run (only the provider's jobs were cancelled)


def cancel(run_dir: Path, *, api_base: str | None) -> Cancelled:
    """Cancel the run's fine-tuning job and mark the run cancelled. A finished run is
    refused. A run another process is driving is not written to: its job is cancelled at
    the provider, and that process stops when its next poll sees it."""
    store = RunStore(run_dir)
    run = open_run(store)
    options = run.options.model_copy(update={"api_base": api_base}) if api_base else run.options
    try:
        store.lock()
    except StoreError:
        jobs = _cancel_jobs(run, options) if _running_jobs(run) else []
        if not jobs:
            raise StoreError(
                f"{run_dir}: another harness process is running it and none of its fine-tuning jobs is "
                "running (its fine-tuning is over, or it waits for a free slot), so there is no job to "
                "cancel; interrupt that process (Ctrl-C) instead"
            ) from None
        return Cancelled(jobs, wrote=False)
    try:
        run = open_run(store)  # as it is now that we hold the lock
        status = run.state.status
        if status == RunStatus.SUCCEEDED or (status == RunStatus.FAILED and not _running_jobs(run)):
            raise StoreError(f"{run_dir}: the run already ended {status.value}; there is nothing to cancel")
        jobs = _cancel_jobs(run, options) if _running_jobs(run) else []
        run.state.status, run.state.error = RunStatus.CANCELLED, "cancelled by user"
        run.save()
    finally:
        store.unlock()
    return Cancelled(jobs, wrote=True)
