"""One cell of a sweep: a normal run directory driven by the run Pipeline, started or
resumed, quiet or chatty as the backend deserves, stoppable when the sweep is interrupted."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from backends.base import BackendError, CassetteMiss, ConfigError, Job, JobEvent
from harness.errors import PlanError, RunError, StoreError
from harness.reports.write import render_from_files
from harness.running import session
from harness.running.lifecycle import Run, create_run, new_run_id
from harness.running.options import settings_for
from harness.running.pipeline import Pipeline
from harness.running.plan import Plan, check_plan
from harness.running.reading import spent_in
from harness.running.ui import RetryNotice, RunUI
from harness.store.records import ResponseRecord
from harness.store.run_dir import RunStore
from harness.store.run_files import RunOptions, RunStatus
from harness.store.summary import Summary
from harness.sweeps.spec import GeneratedCell

if TYPE_CHECKING:
    from harness.sweeps.runner import SweepBudget
from harness.sweeps.state import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    SweepState,
    cell_dir,
    write_text,
)

# pyplot keeps global state and is not thread-safe: one cell renders its report at a time.
PLOT_LOCK = threading.Lock()
# litellm keeps process-wide async state (its logging worker, cached clients) bound to one
# event loop; two cells probing at once (two threads, two loops) break it. So on a provider
# backend jobs train in parallel but cells probe one at a time, each with the sweep's whole
# concurrency and rate limit. The in-process mock probes in parallel.
PROBE_LOCK = threading.Lock()


class Interrupted(Exception):
    """Ctrl-C during a sweep: running cells stopped where they were, all resumable."""


class _Stop(Exception):
    """Raised inside a cell's pipeline when the sweep is interrupted."""


@dataclass
class Context:
    """What every cell of one invocation shares."""

    backend: str
    simulated: bool
    api_base: str | None
    poll_interval: float | None  # None: the backend's own (0 on the mock, 0.2 s on the simulator, 10 s otherwise)
    allow_unpriced: bool
    concurrency: int  # probe requests in flight per probing cell
    rpm: float | None  # per probing cell
    budget: SweepBudget  # what each cell may spend, given what the others spent
    plans: dict[str, Plan]  # cell id -> its plan (priced once, in prepare)
    stop: threading.Event
    say: Callable[[str], None] = lambda text: None  # a progress line for the person watching


class CellUI(RunUI):
    """The pipeline's UI for a cell: quiet on a simulated backend (cells finish in a
    second); job status changes shown on a real one (jobs take minutes to hours)."""

    def __init__(self, cell_id: str, ctx: Context):
        self.cell_id, self.ctx = cell_id, ctx
        self._status: dict[str, str] = {}
        self._retry = RetryNotice(lambda text: ctx.say(f"{self.cell_id}: {text}"))

    def retry(self, message: str) -> None:
        self._retry(message)

    def step(self, name: str, message: str) -> None:
        if not self.ctx.simulated and name == "train":
            self.ctx.say(f"{self.cell_id}: {message}")

    def warn(self, message: str) -> None:
        self.ctx.say(f"warning: {self.cell_id}: {message}")

    def job(self, job: Job, events: list[JobEvent], label: str = "") -> None:
        if job.status != self._status.get(job.id):
            self._status[job.id] = job.status
            if not self.ctx.simulated:
                self.ctx.say(f"{self.cell_id}: job {job.id}{f' ({label})' if label else ''} {job.status}")

    def progress_start(self, total: int, done: int) -> None:
        self._check()

    def advance(self, record: ResponseRecord) -> None:
        self._check()  # the record is already on disk: stopping here loses nothing

    def progress_stop(self) -> None:
        pass

    def _check(self) -> None:
        if self.ctx.stop.is_set():
            raise _Stop()


class _CellPipeline(Pipeline):
    def probe(self) -> None:
        if self.backend.simulated:
            return super().probe()
        with PROBE_LOCK:
            return super().probe()

    def report(self) -> Summary:
        with PLOT_LOCK:
            return super().report()


def _execute(run: Run, backend, cell_id: str, ctx: Context) -> Summary:
    def sleep(seconds: float) -> None:
        if ctx.stop.wait(seconds):  # an interrupt ends the wait for the next poll at once
            raise _Stop()

    return _CellPipeline(run, backend, CellUI(cell_id, ctx), sleep=sleep).execute()


def _start(store: RunStore, g: GeneratedCell, scenario_path: Path, ctx: Context, cap: float) -> Summary:
    options = RunOptions(
        backend=ctx.backend,
        api_base=ctx.api_base,
        max_cost=cap,
        allow_unpriced=ctx.allow_unpriced,
        concurrency=ctx.concurrency,
        rpm=ctx.rpm,
    )
    options.poll_interval = ctx.poll_interval  # None: the backend's own, asked at each poll
    check_plan(ctx.plans[g.cell.id], options, ctx.simulated)
    backend = session.open_backend(options.backend, store.dir, g.scenario, options)
    run = create_run(
        store,
        scenario_path,
        g.scenario,
        list(g.scenario.examples or []),
        options,
        settings_for(g.scenario, options),
        ctx.simulated,
        run_id=new_run_id(g.scenario),
    )
    return _execute(run, backend, g.cell.id, ctx)


def _resume(store: RunStore, cell_id: str, ctx: Context, cap: float) -> Summary:
    """session.resume without its printing: the same files, the same checks."""
    state = store.read_state()
    if state.status == RunStatus.SUCCEEDED:  # only the report is missing: no model is called
        with PLOT_LOCK:
            return render_from_files(store)
    if state.status == RunStatus.CANCELLED:
        raise StoreError(f"{store.dir}: the run was cancelled; delete it to run the cell again")
    run, backend = session.reopen_for_sweep(store, ctx.api_base, ctx.poll_interval, None if ctx.simulated else cap)
    return _execute(run, backend, cell_id, ctx)


def _spent(store: RunStore, ctx: Context, cap: float) -> float:
    """What a cell spent, for the sweep's budget: its cap when its files cannot say."""
    if ctx.simulated or not store.exists():
        return 0.0
    try:
        return spent_in(store.dir)
    except StoreError:
        return cap


@dataclass
class Outcome:
    cell_id: str
    status: str
    error: str | None = None
    summary: Summary | None = None


def run_cell(g: GeneratedCell, sweep_dir: Path, state: SweepState, ctx: Context) -> Outcome:
    cid = g.cell.id
    directory = cell_dir(sweep_dir, cid)
    scenario_path = directory / "scenario.yaml"
    store = RunStore(directory / "run")
    state.update(cid, status=RUNNING, error=None)
    cap = ctx.budget.cap_for(cid)
    try:
        if not store.exists():  # (re)write the scenario only while no run depends on it
            write_text(scenario_path, g.text)
        with store.locked():
            summary = _resume(store, cid, ctx, cap) if store.exists() else _start(store, g, scenario_path, ctx, cap)
    except _Stop:
        state.update(cid, status=RUNNING, error="interrupted")
        return Outcome(cid, RUNNING, "interrupted")
    except (RunError, PlanError, BackendError, CassetteMiss, ConfigError, StoreError) as e:
        state.update(cid, status=FAILED, error=str(e))
        return Outcome(cid, FAILED, str(e))
    finally:
        ctx.budget.finished(cid, _spent(store, ctx, cap))
    state.update(cid, status=SUCCEEDED, error=None)
    return Outcome(cid, SUCCEEDED, summary=summary)
