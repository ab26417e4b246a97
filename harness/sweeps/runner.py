"""Running a sweep: plan and budget, then the cells in a bounded thread pool, each one a
normal run directory driven by the run Pipeline (so `harness resume`/`status`/`report` work
on a cell's run too), then the sweep report.

Threads, not processes: a run spends its time in I/O (provider calls, fsync) or in the
in-process mock, and a kill of the one process leaves no orphan holding a run's lock."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

import backends
from backends.base import ConfigError
from harness.cli import console
from harness.domain.yamlfile import line_for
from harness.errors import PlanError, RunError, StoreError
from harness.reports.tables import BANNER
from harness.running.budget import Pricer
from harness.running.options import settings_for
from harness.running.plan import Plan, make_plan
from harness.store.run_dir import RunStore
from harness.store.run_files import RunOptions
from harness.sweeps.cell import Context, Interrupted, Outcome, run_cell, say
from harness.sweeps.spec import Banks, GeneratedCell, SweepError, SweepFile, cell_scenario, expand, load_sweep
from harness.sweeps.state import (
    FAILED,
    SUCCEEDED,
    SWEEP_COPY,
    SweepState,
    build_state,
    cell_dir,
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


def usd(x: float | None) -> str:
    return "unknown price" if x is None else f"${x:.2f}"


def print_matrix(p: Prepared, statuses: Mapping[str, str]) -> None:
    spec = p.sf.spec
    table = Table(
        title=console.styled(
            f"sweep {spec.name}: {len(p.gen)} cells on {p.backend}", (" SIMULATED" if p.simulated else "", "bold red")
        )
    )
    cols = ["cell", "word", "examples", "seed"]
    cols += ["base model"] if len(spec.base_models) > 1 else []
    cols += ["hyperparameters"] if len(spec.hyperparameters) > 1 else []
    cols += ["tokens", "calls", "estimate"] + (["status"] if statuses else [])
    for col in cols:
        table.add_column(col, no_wrap=col in ("cell", "estimate", "status"))
    for g, plan in zip(p.gen, p.plans):
        c = g.cell
        row = [c.id, c.word, str(c.examples), str(c.seed)]
        row += [c.base_model] if len(spec.base_models) > 1 else []
        row += [str(c.hyperparameters or "default")] if len(spec.hyperparameters) > 1 else []
        row += [str(plan.training_tokens), str(plan.probe_calls), usd(plan.total)]
        row += [statuses.get(c.id, "pending")] if statuses else []
        table.add_row(*row)
    console.out.print(table)


def print_estimate(p: Prepared, out=console.err) -> None:
    line = f"estimated total {usd(p.total)} for {len(p.gen)} cells"
    if p.unpriced:
        line += f" (no known price for {', '.join(p.unpriced)})"
    if p.simulated:
        line += " (SIMULATED backend: nothing is spent)"
    out.print(line)


def check_budget(p: Prepared, max_cost: float, allow_unpriced: bool) -> None:
    """--max-cost covers the whole sweep. A simulated backend costs nothing: estimate only."""
    if p.simulated:
        return
    if p.unpriced and not allow_unpriced:
        raise PlanError(f"no known price for {', '.join(p.unpriced)}; pass --allow-unpriced to run anyway")
    if p.total is not None and p.total > max_cost:
        raise PlanError(f"estimated sweep cost ${p.total:.2f} exceeds --max-cost ${max_cost:.2f}")


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
            caps=caps_for(p, max_cost),
            plans={g.cell.id: pl for g, pl in zip(p.gen, p.plans)},
            stop=threading.Event(),
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
            say(f"[{i}/{len(todo)}] {o.cell_id}: {o.status}" + (f": {o.error}" if o.error else ""))
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


# --- the command ------------------------------------------------------------------------


def command(
    target: Path,
    *,
    out_dir: Path | None,
    dry_run: bool,
    max_cost: float,
    allow_unpriced: bool,
    backend: str | None,
    api_base: str | None,
    poll_interval: float | None = None,
) -> dict | None:
    """`harness sweep`: TARGET is a sweep file, or a sweep directory to resume. Returns the
    sweep summary (None on --dry-run); raises RunError when a cell failed."""
    from harness.sweeps import report as sweep_report
    from harness.sweeps import state as sweeping

    state = None
    if target.is_dir():
        if out_dir is not None and out_dir.resolve() != target.resolve():
            raise PlanError(f"{target} is a sweep directory: it is its own --out")
        out_dir = target
        state = SweepState.read(target)
        if state is None:
            raise StoreError(f"{target}: not a sweep directory (no {sweeping.SWEEP_STATE})")
        sf = load_sweep(target / SWEEP_COPY)
        backend = backend or state.doc.backend
    else:
        sf = load_sweep(target)
    out_dir = out_dir or Path("runs") / "sweeps" / sf.spec.name
    p = prepare(sf, backend, api_base)
    if dry_run:  # reads an existing sweep's progress, writes nothing
        existing = SweepState.read(out_dir) if out_dir.is_dir() else None
        check_directory(out_dir, sf.spec, p.backend, existing)
        statuses = (
            {g.cell.id: sweeping.run_status(cell_dir(out_dir, g.cell.id) / "run")[0] for g in p.gen} if existing else {}
        )
        print_matrix(p, statuses)
        print_estimate(p, console.out)
        return None
    print_estimate(p)
    final, _ = run_sweep(
        p, out_dir, api_base=api_base, max_cost=max_cost, allow_unpriced=allow_unpriced, poll_interval=poll_interval
    )
    summary = sweep_report.write(out_dir, final.doc)
    print_results(summary, out_dir)
    failed = [c for c in summary["cells"] if c["status"] != SUCCEEDED]
    if failed:
        raise RunError(
            f"{len(failed)} of {len(summary['cells'])} cell(s) did not finish (first: {failed[0]['id']}: "
            f"{failed[0]['error']}). Re-running the command resumes them; a cell whose fine-tuning "
            f"job failed fails again until its {sweeping.CELLS}/<cell>/run directory is deleted"
        )
    return summary


def print_results(summary: dict, out_dir: Path) -> None:
    from harness.sweeps.report import fmt

    if summary["simulated"]:
        console.out.print(BANNER, style="bold red")
    cond = "fine_tuned" if "fine_tuned" in summary["conditions"] else summary["conditions"][0]
    table = Table(
        title=console.styled(
            f"sweep {summary['sweep']} ({cond})", (" SIMULATED" if summary["simulated"] else "", "bold red")
        ),
        caption="pooled rates with 95% Wilson intervals (k/n); mechanism+ = mechanism or exact",
    )
    for col in ("cell", "follow", "exact", "mechanism+", "status"):
        table.add_column(col)
    for c in summary["cells"]:
        m = (c["metrics"] or {}).get(cond)
        rates = [fmt(m["follow"]), fmt(m["grades"]["exact"]), fmt(m["mechanism_or_better"])] if m else ["-"] * 3
        table.add_row(c["id"], *rates, c["status"])
    console.out.print(table)
    console.out.print(f"report: {out_dir / 'sweep_report.md'}  (also sweep_report.html, sweep_summary.json, plots/)")
