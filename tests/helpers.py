"""What many tests share: the repository root, a CLI runner and a response record."""

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


def response(cond, probe, kind, sample, text, options=None, status="ok", error=None):
    """A ResponseRecord with the fields tests do not care about filled in (seed = sample)."""
    from harness.store.records import ResponseRecord

    return ResponseRecord(
        condition=cond,
        probe=probe,
        kind=kind,
        sample=sample,
        seed=sample,
        model="m",
        prompt="p",
        options=options,
        status=status,
        error=error if status == "ok" else (error or "boom"),
        text=text if status == "ok" else None,
    )
