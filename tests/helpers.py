"""What many tests share: the repository root and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner, Result

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def invoke(
    *args, command: click.Command | None = None, input: str | None = None, catch_exceptions: bool = True
) -> Result:
    """Run `harness ARGS...` (or another click command) in-process; arguments may be paths."""
    if command is None:
        from harness.cli.main import main as command
    return CliRunner().invoke(command, [str(a) for a in args], input=input, catch_exceptions=catch_exceptions)
