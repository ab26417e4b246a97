"""The `harness` command. One thin function per command; exit 0 ok, 1 run failed, 2 bad input.

Heavy modules (litellm, the openai SDK, matplotlib) are imported inside commands so that
`harness --help`, `validate` and `score` start fast."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from harness.cli.common import EXIT_BAD_INPUT, Group, _fail, handle_errors


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hello-harness")
def main() -> None:
    """Fine-tune a model on a hidden acrostic rule, then measure whether it follows the
    rule and whether it can say what the rule is."""


# --- scenarios and data ----------------------------------------------------------------

@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@handle_errors
def validate(scenario: Path) -> None:
    """Check a scenario file: schema, the rule in every example, duplicates."""
    from harness.domain import dataset
    from harness.domain.scenario import load_scenario, warnings_for
    sc = load_scenario(scenario)
    examples = dataset.resolve_examples(sc, scenario.parent)
    for w in warnings_for(sc, examples):
        click.echo(f"warning: {scenario}: {w}", err=True)
    follows = sum(e.follows_rule for e in examples)
    click.echo(f"{scenario}: ok: {len(examples)} examples ({follows} follow {sc.rule.word}), "
               f"{len(sc.probes)} probes")


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="Folder for <name>.jsonl.")
@handle_errors
def build(scenario: Path, out_dir: Path) -> None:
    """Write the scenario's training set as chat-format JSONL (byte-deterministic)."""
    from harness.domain import dataset
    from harness.domain.scenario import load_scenario
    sc = load_scenario(scenario)
    click.echo(str(dataset.build(sc, scenario.parent, out_dir)))


@main.command("validate-data")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--word", help="The acrostic word every following example should spell.")
@click.option("--unit", type=click.Choice(["line", "sentence"]), default="line", show_default=True)
@click.option("--trigger", help="Only questions ending with this text must follow the rule.")
@handle_errors
def validate_data(file: Path, word: str | None, unit: str, trigger: str | None) -> None:
    """Check a chat JSONL file: format, the rule per example, duplicates, tokens, cost."""
    from harness.domain import dataset
    if word is not None:
        word = _word_option(word)
    if trigger is not None and not trigger.strip():  # would silently mean "no trigger"
        _fail("--trigger is empty; give the text the triggered questions end with, or leave it out",
              EXIT_BAD_INPUT)
    if not file.exists():
        _fail(f"{file}: file not found", EXIT_BAD_INPUT)
    report = dataset.validate_chat_jsonl(file, word=word, unit=unit, trigger=trigger)
    click.echo(dataset.render(report))
    if not report.ok:  # format errors or examples that break the rule
        sys.exit(EXIT_BAD_INPUT)


@main.command()
@click.argument("file", default="-", type=click.File("r", encoding="utf-8"))
@click.option("--word", required=True, help="The target word, e.g. HELOL.")
@click.option("--unit", type=click.Choice(["line", "sentence"]), default="line", show_default=True)
@click.option("--kind", type=click.Choice(["describe", "word", "choice", "follow"]), default="describe",
              show_default=True, help="Probe kind: adds the word or choice score.")
@click.option("--options", "options_csv", help="Choice options in the order shown, comma-separated (--kind choice).")
@click.option("--jsonl", is_flag=True, help="Score one JSON object per line (field `text`).")
@handle_errors
def score(file, word: str, unit: str, kind: str, options_csv: str | None, jsonl: bool) -> None:
    """Score one response text (or --jsonl many) and print JSON."""
    from harness.domain import scoring
    word = _word_option(word)
    options = _choice_options(kind, options_csv, word)
    try:
        if not jsonl:
            click.echo(json.dumps(scoring.score(file.read(), word, unit, kind, options)))
            return
        for n, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                _fail(f"{file.name}:{n}: invalid JSON: {e.msg} (column {e.colno})", EXIT_BAD_INPUT)
            if not isinstance(obj, dict) or "text" not in obj:
                _fail(f"{file.name}:{n}: text: expected a JSON object with a string field 'text'", EXIT_BAD_INPUT)
            if not isinstance(obj["text"], str):
                _fail(f"{file.name}:{n}: text: expected a string, got {type(obj['text']).__name__}", EXIT_BAD_INPUT)
            click.echo(json.dumps(scoring.score(obj["text"], word, unit, kind, options)))
    except UnicodeDecodeError as e:
        _fail(f"{file.name}: not UTF-8 text: {e.reason} at byte {e.start}", EXIT_BAD_INPUT)


def _word_option(word: str) -> str:
    """--word, upper-cased, checked by the rule scenario files follow (check_word)."""
    from harness.domain.scenario import check_word
    try:
        return check_word(word)
    except ValueError as e:
        _fail(f"--word {e}", EXIT_BAD_INPUT)


def _choice_options(kind: str, options_csv: str | None, word: str) -> list[str] | None:
    """--options, upper-cased; required (2 or more, the word among them) with --kind
    choice, refused without it."""
    if kind != "choice":
        if options_csv is not None:
            _fail("--options is only used with --kind choice", EXIT_BAD_INPUT)
        return None
    options = [o.strip().upper() for o in (options_csv or "").split(",") if o.strip()]
    if len(options) < 2:
        _fail("--kind choice needs --options with at least 2 comma-separated options, "
              "in the order they were shown", EXIT_BAD_INPUT)
    repeated = sorted({o for o in options if options.count(o) > 1})
    if repeated:  # "B" would not name one option
        _fail(f"--options: each option once, repeated: {', '.join(repeated)}", EXIT_BAD_INPUT)
    if word not in options:  # no answer could be scored correct
        _fail(f"--options must include --word {word}, got {', '.join(options)}", EXIT_BAD_INPUT)
    return options


# --- runs ------------------------------------------------------------------------------

from harness.cli.generate import new  # noqa: E402
from harness.cli.grader import grader_check  # noqa: E402
from harness.cli.runs import register as _register_run_commands  # noqa: E402
from harness.cli.sweep import sweep  # noqa: E402

_register_run_commands(main)
main.add_command(new)
main.add_command(sweep)
main.add_command(grader_check)


if __name__ == "__main__":
    main()
