"""The `harness` command line: one module per command or command group."""

from harness.cli.main import main

__all__ = ["main"]
