"""Running a sweep: plan and budget, then the cells in a bounded thread pool, each one a
normal run directory driven by the run Pipeline (so `harness resume`/`status`/`report` work
on a cell's run too), then the sweep report.

Threads, not processes: a run spends its time in I/O (provider calls, fsync) or in the
in-process mock, and a kill of the one process leaves no orphan holding a run's lock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import backends
from backends.base import ConfigError
from harness.calls.budget import Pricer
from harness.domain.yamlfile import line_for
from harness.errors import PlanError
from harness.running.options import settings_for
from harness.running.plan import Plan, make_plan
from harness.store.run_dir import RunStore
from harness.store.run_files import RunOptions
from harness.sweeps.cell import Context, Interrupted, Outcome, run_cell
from harness.sweeps.spec import Banks, GeneratedCell, SweepError, SweepFile, cell_scenario, expand
from harness.sweeps.state import (
    FAILED,
    SUCCEEDED,
    SWEEP_COPY,
    SweepState,
    build_state,
    check_directory,
    check_unchanged,
    write_text,
)


@dataclass
class Prepared:
    sf: SweepFile
    backend: str
    simulated: bool
    gen: list[GeneratedCell]
    plans: list[Plan]  # one per cell

    @property
    def total(self) -> float | None:
        totals = [p.total for p in self.plans]
        return None if any(t is None for t in totals) else sum(t or 0.0 for t in totals)

    @property
    def unpriced(self) -> list[str]:
        return sorted({u for p in self.plans for u in p.unpriced})


def prepare(sf: SweepFile, backend: str | None, api_base: str | None) -> Prepared:
    """Expand the matrix, generate every cell's scenario in memory and price it. Writes nothing."""
    name = backend or sf.spec.backend
    if backend is None and name not in backends.registered():  # the file's own choice: name its line
        known = ", ".join(sorted(backends.registered()))
        raise SweepError(
            f"{sf.path}:{line_for(('backend',), sf.lines)}: backend: unknown backend {name!r}; known backends: {known}"
        )
    cls = backends.load_class(name)
    simulated = cls.simulated
    if "fine_tuned" in sf.spec.conditions and "fine_tune" not in cls.capabilities:
        raise ConfigError(f"backend {name!r} cannot fine-tune; drop fine_tuned from the sweep's conditions")
    banks = Banks()
    gen = [cell_scenario(sf, cell, banks) for cell in expand(sf.spec)]
    takes = cls.HYPERPARAMETERS  # the provider would refuse these jobs: say so before any is created
    unknown = sorted({k for h in sf.spec.hyperparameters for k in h} - set(takes)) if takes is not None else []
    if unknown and "fine_tuned" in sf.spec.conditions:
        raise SweepError(
            f"{sf.path}:{line_for(('hyperparameters',), sf.lines)}: hyperparameters: backend {name!r} does not "
            f"take {', '.join(unknown)} (it takes {', '.join(takes or ())})"
        )
    options = RunOptions(backend=name, api_base=api_base)
    pricer = Pricer.of(cls)
    plans = [
        make_plan(g.scenario, list(g.scenario.examples or []), settings_for(g.scenario, options), options, pricer)
        for g in gen
    ]
    return Prepared(sf, name, simulated, gen, plans)


def check_budget(p: Prepared, max_cost: float, allow_unpriced: bool) -> None:
    """--max-cost covers the whole sweep. A simulated backend costs nothing: estimate only."""
    if p.simulated:
        return
    if p.unpriced and not allow_unpriced:
        raise PlanError(f"no known price for {', '.join(p.unpriced)}; pass --allow-unpriced to run anyway")
    if p.total is not None and p.total > max_cost:
        raise PlanError(f"estimated sweep cost ${p.total:.2f} exceeds --max-cost ${max_cost:.2f}")


class SweepBudget:
    """--max-cost over the whole sweep while cells run: a cell starts (or resumes) with the
    smaller of its share and what remains of the budget once every other cell's spend (or,
    while it runs, its cap) is counted. A cell whose provider over-reported training tokens
    spent past its share; the cells after it get less, not the sweep more."""

    def __init__(self, max_cost: float, shares: dict[str, float], spent: dict[str, float]):
        self.max_cost, self.shares, self.spent = max_cost, shares, dict(spent)
        self._running: dict[str, float] = {}
        self._lock = threading.Lock()

    def cap_for(self, cell_id: str) -> float:
        with self._lock:
            others = sum(v for k, v in self.spent.items() if k != cell_id and k not in self._running)
            others += sum(v for k, v in self._running.items() if k != cell_id)
            cap = max(0.0, min(self.shares[cell_id], self.max_cost - others))
            self._running[cell_id] = cap
            return cap

    def finished(self, cell_id: str, spent: float) -> None:
        with self._lock:
            self._running.pop(cell_id, None)
            self.spent[cell_id] = spent


def spent_by_cells(sweep_dir: Path, gen: list[GeneratedCell]) -> dict[str, float]:
    """What each cell that has a run directory spent so far (a resumed sweep counts them)."""
    from harness.running.reading import spent_in
    from harness.sweeps.state import cell_dir

    found = {}
    for g in gen:
        run = cell_dir(sweep_dir, g.cell.id) / "run"
        if RunStore(run).exists():
            found[g.cell.id] = spent_in(run)
    return found


def caps_for(p: Prepared, max_cost: float) -> dict[str, float]:
    """Each cell may spend its estimate's share of --max-cost: the caps add up to the
    budget, and every cell's estimate fits under its own cap."""
    total = p.total
    if not total:
        return {g.cell.id: max_cost for g in p.gen}
    return {
        g.cell.id: max(plan.total or 0.0, max_cost * (plan.total or 0.0) / total) for g, plan in zip(p.gen, p.plans)
    }


# --- the whole sweep --------------------------------------------------------------------


def run_sweep(
    p: Prepared,
    sweep_dir: Path,
    *,
    api_base: str | None,
    max_cost: float,
    allow_unpriced: bool,
    poll_interval: float | None = None,
    say: Callable[[str], None] = lambda text: None,
) -> tuple[SweepState, list[Outcome]]:
    """Run every unfinished cell, at most parallel_jobs at once. Returns the final state
    and the outcome of each cell run now (finished cells are skipped, not re-run)."""
    spec = p.sf.spec
    old = SweepState.read(sweep_dir)
    check_directory(sweep_dir, spec, p.backend, old)
    check_budget(p, max_cost, allow_unpriced)
    check_unchanged(sweep_dir, p.gen)
    backends.create(p.backend, api_base=api_base)  # a missing key or bad URL: refused before any cell
    lock = RunStore(sweep_dir)  # one process per sweep directory; the OS drops it even on kill -9
    lock.lock()
    try:
        write_text(sweep_dir / SWEEP_COPY, p.sf.text)
        state = build_state(sweep_dir, p.sf, p.backend, p.gen, [pl.total for pl in p.plans], old)
        state.save(simulated=p.simulated)
        todo = [g for g in p.gen if state.cell(g.cell.id).status != SUCCEEDED]
        skipped = len(p.gen) - len(todo)
        say(
            f"sweep directory: {sweep_dir}  ({len(todo)} cell(s) to run"
            + (f", {skipped} already finished" if skipped else "")
            + ")"
        )
        workers = max(1, min(spec.parallel_jobs, len(todo)))
        sharing = workers if p.simulated else 1  # cells probing at once (see PROBE_LOCK)
        ctx = Context(
            p.backend,
            p.simulated,
            api_base,
            poll_interval,
            allow_unpriced,
            concurrency=max(1, spec.concurrency // sharing),
            rpm=spec.rpm / sharing if spec.rpm else None,
            budget=SweepBudget(
                max_cost, caps_for(p, max_cost), {} if p.simulated else spent_by_cells(sweep_dir, p.gen)
            ),
            plans={g.cell.id: pl for g, pl in zip(p.gen, p.plans)},
            stop=threading.Event(),
            say=say,
        )
        outcomes = _pool(todo, sweep_dir, state, ctx, workers)
        failed = sum(o.status == FAILED for o in outcomes)
        state.save(status=FAILED if failed else SUCCEEDED)
        return state, outcomes
    finally:
        lock.unlock()


def _pool(todo: list[GeneratedCell], sweep_dir: Path, state: SweepState, ctx: Context, workers: int) -> list[Outcome]:
    outcomes: list[Outcome] = []
    if not todo:
        return outcomes
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sweep-cell")
    try:
        futures = [pool.submit(run_cell, g, sweep_dir, state, ctx) for g in todo]
        for i, fut in enumerate(as_completed(futures), 1):
            o = fut.result()
            outcomes.append(o)
            ctx.say(f"[{i}/{len(todo)}] {o.cell_id}: {o.status}" + (f": {o.error}" if o.error else ""))
    except BaseException as e:
        # Ctrl-C (or a bug): stop the running cells at their next poll or answer, start no
        # new ones; every started run stays resumable.
        ctx.stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        state.save(status="interrupted")
        if isinstance(e, KeyboardInterrupt):
            raise Interrupted() from None
        raise
    pool.shutdown(wait=True)
    return outcomes
