"""The `harness` command. One thin module per command group; exit 0 ok, 1 run failed, 2 bad input.

Heavy modules (litellm, the openai SDK, matplotlib, pydantic) are imported inside commands so
that `harness --help`, `validate` and `score` start fast."""

from __future__ import annotations

import click

from harness.cli import data, generate, grader, providers, reports, runs, sweep
from harness.cli.common import Group


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hello-harness")
def main() -> None:
    """Fine-tune a model on a hidden acrostic rule, then measure whether it follows the
    rule and whether it can say what the rule is."""


for _module in (data, runs, reports, providers):
    _module.register(main)
main.add_command(generate.new)
main.add_command(sweep.sweep)
main.add_command(grader.grader_check)


if __name__ == "__main__":
    main()
