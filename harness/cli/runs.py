"""Commands that drive a run: run, resume, status, cancel."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from harness.cli import params
from harness.cli.common import (
    EXIT_BAD_INPUT,
    _fail,
    check_out_path,
    handle_errors,
    refuse_existing_cassette,
    refuse_run_directory,
)


def _conditions(ctx, param, value: str | None) -> list[str] | None:
    """--conditions as a list; an empty value, an unknown or a repeated name is refused
    (an empty one would silently mean the scenario's default)."""
    if value is None:
        return None
    from harness.domain.scenario import (  # here, not at the top: pydantic would slow `harness --help`
        CONDITION_ALIASES,
        CONDITIONS,
    )

    names = [CONDITION_ALIASES.get(v.strip(), v.strip()) for v in value.split(",") if v.strip()]
    if not names:
        raise click.BadParameter(f"is empty; give one or more of {', '.join(CONDITIONS)}, comma-separated")
    bad = [n for n in names if n not in CONDITIONS]
    if bad:
        raise click.BadParameter(
            f"unknown condition(s) {', '.join(repr(n) for n in bad)}; choose from {', '.join(CONDITIONS)}"
        )
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise click.BadParameter(f"each condition once, repeated: {', '.join(dup)}")
    return names


def _judge(ctx, param, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("is empty; give the judge model's name, or leave --judge out")
    return value


def run_options(f):
    """The options of `run`. `resume` does not take them: a resumed run keeps the options
    saved in its manifest, and `resume` declares its own few (such as --api-base)."""
    decorators = [
        click.option(
            "--backend", default="mock", show_default=True, help="A registered backend (see `harness backends`)."
        ),
        click.option(
            "--samples", type=params.SAMPLES, help="Samples per probe and condition (default: the scenario's)."
        ),
        click.option("--temperature", type=params.TEMPERATURE, help="Sampling temperature (default: the scenario's)."),
        click.option("--seed", type=params.SEED, help="Run seed: per-sample seeds and option shuffles derive from it."),
        click.option(
            "--conditions",
            callback=_conditions,
            help="Comma-separated: fine_tuned,base,in_context,sham (default: the scenario's).",
        ),
        click.option("--model", help="Probe this existing fine-tuned model (ft:...) instead of training one."),
        click.option("--base-model", help="Use this base model instead of the scenario's fine_tune.base_model."),
        click.option("--api-base", help="Provider base URL (default: OPENAI_BASE_URL or the provider's)."),
        click.option(
            "--max-cost",
            type=params.USD,
            default=25.0,
            show_default=True,
            help="Refuse to start above this estimate (USD); stop probing before spending more.",
        ),
        click.option("--allow-unpriced", is_flag=True, help="Run even when a model's price is unknown."),
        click.option(
            "--concurrency",
            type=params.CONCURRENCY,
            default=8,
            show_default=True,
            help="Probe requests in flight at once.",
        ),
        click.option(
            "--rpm", type=params.FiniteFloat(0.1, 1_000_000), help="Client-side limit on requests per minute."
        ),
        click.option(
            "--tpm",
            type=params.FiniteFloat(1, 1e12),
            help="Client-side limit on tokens per minute (each probe counted at prompt + max_tokens).",
        ),
        click.option(
            "--poll-interval",
            type=params.POLL_INTERVAL,
            help="Seconds between job status polls (default: 0 on mock, 10 otherwise).",
        ),
        click.option("--judge", callback=_judge, help="Also grade describe answers with this model (LLM judge)."),
        click.option(
            "--replicates",
            type=params.REPLICATES,
            help="Fine-tuning jobs per trained condition, each with its own seed (default: the "
            "scenario's fine_tune.replicates, else 1).",
        ),
    ]
    for d in reversed(decorators):
        f = d(f)
    return f


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@run_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run directory (default: runs/<scenario>/<run-id>).",
)
@click.option(
    "--record", type=click.Path(dir_okay=False, path_type=Path), help="Record all HTTP traffic to this cassette."
)
@click.option(
    "--replay",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Replay HTTP traffic from this cassette, network blocked.",
)
@click.option("--force", is_flag=True, help="Record over an existing --record cassette and its sidecar.")
@click.option("--dry-run", is_flag=True, help="Print the plan and its estimated cost; call nothing.")
@handle_errors
def run(
    scenario: Path,
    out_dir: Path | None,
    record: Path | None,
    replay: Path | None,
    force: bool,
    dry_run: bool,
    **opts,
) -> None:
    """Run an experiment end to end: fine-tune, probe every condition, score, report."""
    from harness.cli import console, views
    from harness.running import session
    from harness.store.run_files import RunOptions

    if record and replay:
        _fail("--record and --replay cannot be used together", EXIT_BAD_INPUT)
    if out_dir and not dry_run:
        refuse_run_directory(out_dir.parent, "--out")  # a run inside another run's directory
        _check_can_create(out_dir)
    if record and not dry_run:
        refuse_existing_cassette(record, force)
    prepared = session.prepare(scenario, RunOptions(**opts), record=record, replay=replay)
    views.print_warnings(prepared)
    if dry_run:
        views.print_plan(prepared, prepared.simulated)
        refusal = prepared.refusal()
        if refusal:  # the plan is the answer; say what the real run would do with it
            console.err.print(f"warning: without --dry-run this run would be refused: {refusal}", style="yellow")
        return
    with _summary_on_early_end():
        started = session.start(
            prepared,
            console.RunUI(),
            out_dir=out_dir,
            record=record,
            replay=replay,
            argv=sys.argv,
            show_plan=views.print_plan,
        )
    views.print_summary(started.summary, started.run_dir)


@contextlib.contextmanager
def _summary_on_early_end() -> Iterator[None]:
    """A run that ended with failed samples has its reports written: show them before the
    error (printed by handle_errors) ends the command."""
    from harness.cli import views
    from harness.running.pipeline import RunEnded

    try:
        yield
    except RunEnded as e:
        if e.summary is not None and e.run_dir is not None:
            # The error that follows says how the run ended: the summary need not repeat it.
            views.print_summary(e.summary, e.run_dir, resumable=e.status == "incomplete", show_run_status=False)
        raise


def _check_can_create(out_dir: Path) -> None:
    """Refuse an --out folder that cannot be created, before the plan is printed or a
    backend opened: probe its nearest existing parent with a temporary folder, removed at
    once (permission bits alone mislead, e.g. for root or in /proc)."""
    import tempfile

    check_out_path(out_dir)
    parent = out_dir
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        _fail(f"{out_dir}: cannot create: {parent} is not a directory", EXIT_BAD_INPUT)
    try:
        tempfile.TemporaryDirectory(dir=parent, prefix=".harness-probe-").cleanup()
    except OSError as e:
        _fail(f"{out_dir}: cannot create: {e.strerror or e}", EXIT_BAD_INPUT)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--api-base", help="Provider base URL, if it changed since the run started.")
@click.option("--poll-interval", type=params.POLL_INTERVAL, help="Seconds between job status polls.")
@click.option(
    "--max-cost",
    type=params.USD,
    help="New spending cap (USD) for the whole run, spend so far included (default: the run's own).",
)
@handle_errors
def resume(run_dir: Path, api_base: str | None, poll_interval: float | None, max_cost: float | None) -> None:
    """Continue an interrupted run: no second upload, no second job, no sample asked twice."""
    from harness.cli import console, views
    from harness.running import session

    with _summary_on_early_end():
        summary = session.resume(
            run_dir, console.RunUI(), api_base=api_base, poll_interval=poll_interval, max_cost=max_cost
        )
    views.print_summary(summary, run_dir)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@handle_errors
def status(run_dir: Path) -> None:
    """Steps, job status, samples done of total, and spend so far."""
    from harness.cli import views
    from harness.running import reading

    views.print_status(reading.status(run_dir))


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--api-base", help="Provider base URL, if it changed since the run started.")
@handle_errors
def cancel(run_dir: Path, api_base: str | None) -> None:
    """Cancel the run's fine-tuning jobs at the provider and mark the run cancelled."""
    from harness.running import session

    done = session.cancel(run_dir, api_base=api_base)
    jobs = "; ".join(f"job {j.id}: {j.status}" for j in done.jobs)
    if not done.wrote:
        click.echo(
            f"{run_dir}: {jobs}; the running process will stop when it sees the job cancelled "
            "(this command wrote nothing)"
        )
        return
    click.echo(f"{run_dir}: cancelled ({jobs or 'no fine-tuning job to cancel'})")


def register(group: click.Group) -> None:
    for cmd in (run, resume, status, cancel):
        group.add_command(cmd)
