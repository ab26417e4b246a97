"""Commands about providers: list the registered backends, serve the simulator."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli import params
from harness.cli.common import handle_errors


@click.command("backends")
def list_backends() -> None:
    """List the registered backends and what each can do."""
    import backends
    from backends.base import ConfigError

    for name, target in backends.registered().items():
        try:
            cls = backends.load_class(name)
            caps = ", ".join(sorted(cls.capabilities)) or "-"
            kind = " (simulated)" if cls.simulated else ""
            click.echo(f"{name:12} {caps:26} {target}{kind}")
        except (ImportError, AttributeError, ConfigError) as e:
            click.echo(f"{name:12} {'unavailable':26} {target} ({e})")


def fault_options(f):
    """One flag per simulator fault, generated from the fault table so they never drift."""
    from dataclasses import fields

    from backends.simulator.faults import FAULT_HELP, Faults

    for field in reversed(fields(Faults)):
        flag = "--" + field.name.replace("_", "-")
        if field.type in (bool, "bool"):
            f = click.option(flag, is_flag=True, default=None, help=FAULT_HELP[field.name])(f)
        else:
            kind = {"int": params.count(0, 10**9), "float": params.FiniteFloat(0, 86_400)}.get(str(field.type))
            f = click.option(flag, type=kind or str, default=None, help=FAULT_HELP[field.name])(f)
    return f


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback only, unless --allow-remote.")
@click.option("--port", type=params.PORT, default=8765, show_default=True, help="0 picks a free port (printed).")
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the provider's files and jobs in this JSON file across restarts.",
)
@click.option("--allow-remote", is_flag=True, help="Allow a non-loopback --host (not recommended).")
@fault_options
@handle_errors
def simulate(host: str, port: int, state_path: Path | None, allow_remote: bool, **faults) -> None:
    """Serve the mock provider over OpenAI's REST API (SIMULATED), with optional faults.
    Every fault can also be set as HARNESS_SIM_<NAME> in the environment."""
    from backends.simulator import server as simulator

    simulator.serve(
        host=host,
        port=port,
        faults=simulator.Faults.from_env(**faults),
        state_path=state_path,
        allow_remote=allow_remote,
    )


def register(group: click.Group) -> None:
    for cmd in (list_backends, simulate):
        group.add_command(cmd)
