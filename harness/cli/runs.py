"""Commands that drive or read runs: run, resume, status, cancel, report, compare,
backends, simulate. Kept apart from cli.py so each file stays small."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.common import EXIT_BAD_INPUT, _fail, handle_errors


def _conditions(ctx, param, value: str | None) -> list[str] | None:
    """--conditions as a list; an empty value, an unknown or a repeated name is refused
    (an empty one would silently mean the scenario's default)."""
    if value is None:
        return None
    from harness.domain.scenario import CONDITIONS  # here, not at the top: pydantic would slow `harness --help`
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise click.BadParameter(f"is empty; give one or more of {', '.join(CONDITIONS)}, comma-separated")
    bad = [n for n in names if n not in CONDITIONS]
    if bad:
        raise click.BadParameter(f"unknown condition(s) {', '.join(repr(n) for n in bad)}; "
                                 f"choose from {', '.join(CONDITIONS)}")
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
        click.option("--backend", default="mock", show_default=True, help="A registered backend (see `harness backends`)."),
        click.option("--samples", type=click.IntRange(min=1), help="Samples per probe and condition (default: the scenario's)."),
        click.option("--temperature", type=click.FloatRange(0, 2), help="Sampling temperature (default: the scenario's)."),
        click.option("--seed", type=int, help="Run seed: per-sample seeds and option shuffles derive from it."),
        click.option("--conditions", callback=_conditions, help="Comma-separated: fine_tuned,base,in_context (default: the scenario's)."),
        click.option("--model", help="Probe this existing fine-tuned model (ft:...) instead of training one."),
        click.option("--base-model", help="Use this base model instead of the scenario's fine_tune.base_model."),
        click.option("--api-base", help="Provider base URL (default: OPENAI_BASE_URL or the provider's)."),
        click.option("--max-cost", type=click.FloatRange(min=0), default=25.0, show_default=True,
                     help="Refuse to start above this estimate (USD); stop probing before spending more."),
        click.option("--allow-unpriced", is_flag=True, help="Run even when a model's price is unknown."),
        click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True,
                     help="Probe requests in flight at once."),
        click.option("--rpm", type=click.FloatRange(min=0.1), help="Client-side limit on requests per minute."),
        click.option("--tpm", type=click.FloatRange(min=1),
                     help="Client-side limit on tokens per minute (each probe counted at prompt + max_tokens)."),
        click.option("--poll-interval", type=click.FloatRange(min=0),
                     help="Seconds between job status polls (default: 0 on mock, 10 otherwise)."),
        click.option("--judge", callback=_judge, help="Also grade describe answers with this model (LLM judge)."),
    ]
    for d in reversed(decorators):
        f = d(f)
    return f


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@run_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Run directory (default: runs/<scenario>/<run-id>).")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path), help="Record all HTTP traffic to this cassette.")
@click.option("--replay", type=click.Path(dir_okay=False, path_type=Path), help="Replay HTTP traffic from this cassette, network blocked.")
@click.option("--dry-run", is_flag=True, help="Print the plan and its estimated cost; call nothing.")
@handle_errors
def run(scenario: Path, out_dir: Path | None, record: Path | None, replay: Path | None, dry_run: bool, **opts) -> None:
    """Run an experiment end to end: fine-tune, probe every condition, score, report."""
    from harness.running import session as runner
    from harness.running.options import RunOptions
    if record and replay:
        _fail("--record and --replay cannot be used together", EXIT_BAD_INPUT)
    if out_dir and not dry_run:
        _check_can_create(out_dir)
    options = RunOptions(**opts)
    runner.start(scenario, options, out_dir=out_dir, record=record, replay=replay, dry_run=dry_run,
                 argv=sys.argv)


def _check_can_create(out_dir: Path) -> None:
    """Refuse an --out folder that cannot be created, before the plan is printed or a
    backend opened: probe its nearest existing parent with a temporary folder, removed at
    once (permission bits alone mislead, e.g. for root or in /proc)."""
    import tempfile
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
@click.option("--poll-interval", type=click.FloatRange(min=0), help="Seconds between job status polls.")
@click.option("--max-cost", type=click.FloatRange(min=0),
              help="New spending cap (USD) for the whole run, spend so far included (default: the run's own).")
@handle_errors
def resume(run_dir: Path, api_base: str | None, poll_interval: float | None, max_cost: float | None) -> None:
    """Continue an interrupted run: no second upload, no second job, no sample asked twice."""
    from harness.running import session as runner
    runner.resume(run_dir, api_base=api_base, poll_interval=poll_interval, max_cost=max_cost)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@handle_errors
def status(run_dir: Path) -> None:
    """Steps, job status, samples done of total, and spend so far."""
    from harness.running import session as runner
    runner.print_status(run_dir)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--api-base", help="Provider base URL, if it changed since the run started.")
@handle_errors
def cancel(run_dir: Path, api_base: str | None) -> None:
    """Cancel the run's fine-tuning job at the provider and mark the run cancelled."""
    from harness.running import session as runner
    runner.cancel(run_dir, api_base=api_base)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@handle_errors
def report(run_dir: Path) -> None:
    """Re-score and re-render a run's reports from its files; calls no model."""
    from harness.running import session as runner
    runner.rerender(run_dir)


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the table as markdown here.")
@handle_errors
def compare(run_dirs: tuple[Path, ...], out: Path | None) -> None:
    """Compare runs side by side, such as HELLO vs HELOL, with differences and bootstrap intervals."""
    from harness.reports import compare as comparing
    try:
        result = comparing.compare(list(run_dirs))
    except comparing.CompareError as e:
        _fail(str(e), EXIT_BAD_INPUT)
    text = comparing.render_compare(result)
    if out:  # written first, so a bad --out is one error line, not a table and then an error
        out.write_text(text + "\n", encoding="utf-8")
    click.echo(text)


@click.command("backends")
def list_backends() -> None:
    """List the registered backends and what each can do."""
    import backends
    from backends.base import ConfigError
    for name, target in backends.registered().items():
        try:
            cls = backends.load_class(name)
            caps = ", ".join(sorted(getattr(cls, "capabilities", ()))) or "-"
            kind = " (simulated)" if getattr(cls, "simulated", False) else ""
            click.echo(f"{name:12} {caps:18} {target}{kind}")
        except (ImportError, AttributeError, ConfigError) as e:
            click.echo(f"{name:12} {'unavailable':18} {target} ({e})")


def fault_options(f):
    """One flag per simulator fault, generated from the fault table so they never drift."""
    from dataclasses import fields

    from backends.simulator.faults import FAULT_HELP, Faults
    for field in reversed(fields(Faults)):
        flag = "--" + field.name.replace("_", "-")
        if field.type in (bool, "bool"):
            f = click.option(flag, is_flag=True, default=None, help=FAULT_HELP[field.name])(f)
        else:
            kind = {"int": int, "float": float}.get(str(field.type), str)
            f = click.option(flag, type=kind, default=None, help=FAULT_HELP[field.name])(f)
    return f


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback only, unless --allow-remote.")
@click.option("--port", type=int, default=8765, show_default=True, help="0 picks a free port (printed).")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep the provider's files and jobs in this JSON file across restarts.")
@click.option("--allow-remote", is_flag=True, help="Allow a non-loopback --host (not recommended).")
@fault_options
@handle_errors
def simulate(host: str, port: int, state_path: Path | None, allow_remote: bool, **faults) -> None:
    """Serve the mock provider over OpenAI's REST API (SIMULATED), with optional faults.
    Every fault can also be set as HARNESS_SIM_<NAME> in the environment."""
    from backends.simulator import server as simulator
    simulator.serve(host=host, port=port, faults=simulator.Faults.from_env(**faults),
                    state_path=state_path, allow_remote=allow_remote)


def register(group: click.Group) -> None:
    for cmd in (run, resume, status, cancel, report, compare, list_backends, simulate):
        group.add_command(cmd)
