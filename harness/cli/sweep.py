"""`harness sweep`: many generated scenarios (words x example counts x seeds x base models
x hyperparameters) run with bounded parallelism, resumably, into one sweep report."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli import params
from harness.cli.common import EXIT_FAILED, _fail, check_out_path, handle_errors


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
    from harness.sweeps import runner as sweep_run

    if out_dir is not None:
        check_out_path(out_dir)
    try:
        sweep_run.command(
            target,
            out_dir=out_dir,
            dry_run=dry_run,
            max_cost=max_cost,
            allow_unpriced=allow_unpriced,
            backend=backend,
            api_base=api_base,
            poll_interval=poll_interval,
        )
    except (sweep_run.Interrupted, KeyboardInterrupt):
        _fail("interrupted; run the same command again (or `harness sweep DIR`) to resume", EXIT_FAILED)
