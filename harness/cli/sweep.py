"""`harness sweep`: many generated scenarios (words x example counts x seeds x base models
x hyperparameters) run with bounded parallelism, resumably, into one sweep report."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli import params
from harness.cli.common import EXIT_FAILED, _fail, check_out_path, handle_errors, refuse_run_directory


@click.command("sweep")
@click.argument("target", metavar="SWEEP", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Sweep directory (default: runs/sweeps/<name>).",
)
@click.option("--dry-run", is_flag=True, help="Print the matrix and the estimated total cost; call and write nothing.")
@click.option(
    "--max-cost",
    type=params.USD,
    default=25.0,
    show_default=True,
    help="Refuse to start when the whole sweep's estimate exceeds this (USD).",
)
@click.option("--allow-unpriced", is_flag=True, help="Run even when a model's price is unknown.")
@click.option("--backend", help="Override the sweep file's backend.")
@click.option("--api-base", help="Provider base URL (default: OPENAI_BASE_URL or the provider's).")
@click.option(
    "--poll-interval",
    type=params.POLL_INTERVAL,
    help="Seconds between job status polls (default: 0 on mock, 10 otherwise).",
)
@handle_errors
def sweep(
    target: Path,
    out_dir: Path | None,
    dry_run: bool,
    max_cost: float,
    allow_unpriced: bool,
    backend: str | None,
    api_base: str | None,
    poll_interval: float | None,
) -> None:
    """Run a sweep file: every cell's scenario is generated offline into
    DIR/cells/<cell>/scenario.yaml and run into DIR/cells/<cell>/run/; then
    DIR/sweep_report.md, sweep_report.html, sweep_summary.json and plots/ are written.

    Resuming: run the same command again, or pass the sweep directory as SWEEP.
    Finished cells are skipped; unfinished runs resume where they stopped."""
    from harness.sweeps.cell import Interrupted

    if out_dir is not None:
        check_out_path(out_dir)
        refuse_run_directory(out_dir.parent, "sweep --out")
    try:
        run_sweep_command(
            target,
            out_dir=out_dir,
            dry_run=dry_run,
            max_cost=max_cost,
            allow_unpriced=allow_unpriced,
            backend=backend,
            api_base=api_base,
            poll_interval=poll_interval,
        )
    except (Interrupted, KeyboardInterrupt):
        _fail("interrupted; run the same command again (or `harness sweep DIR`) to resume", EXIT_FAILED)


def run_sweep_command(
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
    from harness.cli import console, views
    from harness.errors import PlanError, RunError, StoreError
    from harness.sweeps import report as sweep_report
    from harness.sweeps import state as sweeping
    from harness.sweeps.runner import prepare, run_sweep
    from harness.sweeps.spec import load_sweep
    from harness.sweeps.state import SUCCEEDED, SWEEP_COPY, SweepState, cell_dir, check_directory

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
        views.print_sweep_matrix(p, statuses)
        views.print_sweep_estimate(p, console.out)
        return None
    views.print_sweep_estimate(p)
    final, _ = run_sweep(
        p,
        out_dir,
        api_base=api_base,
        max_cost=max_cost,
        allow_unpriced=allow_unpriced,
        poll_interval=poll_interval,
        say=console.err.print,
    )
    summary = sweep_report.write(out_dir, final.doc)
    views.print_sweep_results(summary, out_dir)
    failed = [c for c in summary["cells"] if c["status"] != SUCCEEDED]
    if failed:
        raise RunError(
            f"{len(failed)} of {len(summary['cells'])} cell(s) did not finish (first: {failed[0]['id']}: "
            f"{failed[0]['error']}). Re-running the command resumes them; a cell whose fine-tuning "
            f"job failed fails again until its {sweeping.CELLS}/<cell>/run directory is deleted"
        )
    return summary
