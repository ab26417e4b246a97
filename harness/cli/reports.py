"""Commands that read finished runs: report (re-score and re-render) and compare."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.common import EXIT_BAD_INPUT, _fail, handle_errors, refuse_run_directory


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@handle_errors
def report(run_dir: Path) -> None:
    """Re-score and re-render a run's reports from its files; calls no model."""
    from harness.cli import views
    from harness.running import reading

    done = reading.rerender(run_dir)
    views.print_summary(done.summary, run_dir)
    views.print_rescoring(done)


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the tables as markdown here, and the effects figure beside it (.png, .svg).",
)
@handle_errors
def compare(run_dirs: tuple[Path, ...], out: Path | None) -> None:
    """Compare runs side by side, such as HELLO vs HELOL: each run's effects as its report
    gives them, and their differences. A scenario's folder (runs/helol) means its newest run."""
    from harness.reports import compare as comparing

    if out:
        refuse_run_directory(out, "compare --out")
    try:
        result = comparing.compare(list(run_dirs))
    except comparing.CompareError as e:
        _fail(str(e), EXIT_BAD_INPUT)
    for given, run in zip(run_dirs, result["runs"]):
        if Path(run["dir"]) != given:
            click.echo(f"{given}: comparing its newest run, {run['dir']}", err=True)
    figure = None
    if out:  # written first, so a bad --out is one error line, not a table and then an error
        drawn = comparing.effects_figure(result)
        text = comparing.render_compare(result, out.with_suffix(".png").name if drawn else None)
        out.write_text(text + "\n", encoding="utf-8")
        if drawn:
            out.with_suffix(".png").write_bytes(drawn.png)
            out.with_suffix(".svg").write_bytes(drawn.svg)
            figure = out.with_suffix(".png")
    click.echo(comparing.render_compare(result))
    if figure:
        click.echo(f"figure: {figure} (also .svg)", err=True)


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file (default: stdout).")
@handle_errors
def export(run_dirs: tuple[Path, ...], fmt: str, out: Path | None) -> None:
    """Every sample of the runs as one row (run, model, replicate, condition, probe, seed,
    text and every score): tidy data for pandas or R. Calls no model."""
    from harness.reports import export as exporting
    from harness.store.files import atomic_output

    if out is not None:
        refuse_run_directory(out, "export --out")
    if fmt == "parquet" and out is None:
        _fail("--format parquet is binary: give --out FILE", EXIT_BAD_INPUT)
    try:
        rows = exporting.collect(list(run_dirs))  # every run checked before anything is written
        if out is None:
            exporting.write_rows(rows, fmt, sys.stdout.buffer)
            return
        with atomic_output(out) as f:  # an error midway leaves no half file
            n = exporting.write_rows(rows, fmt, f)
    except exporting.ExportError as e:
        _fail(str(e), EXIT_BAD_INPUT)
    click.echo(f"{out}: {n} rows ({fmt})", err=True)


def register(group: click.Group) -> None:
    for cmd in (report, compare, export):
        group.add_command(cmd)
