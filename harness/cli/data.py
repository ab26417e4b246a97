"""Commands about scenario files and data, none of which calls a model: validate, build,
validate-data, score."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from harness import limits
from harness.cli.common import EXIT_BAD_INPUT, _fail, check_out_path, handle_errors, refuse_run_directory


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--backend",
    default="mock",
    show_default=True,
    help="Check the examples against this backend's minimum for fine-tuning, as `run` will.",
)
@handle_errors
def validate(scenario: Path, backend: str) -> None:
    """Check a scenario file: schema, the rule in every example, duplicates, and enough
    examples for the backend to fine-tune on."""
    import backends
    from harness.domain import dataset
    from harness.domain.scenario import load_scenario, warnings_for
    from harness.running.plan import check_fits_backend

    sc = load_scenario(scenario)
    examples = dataset.resolve_examples(sc, scenario.parent)
    check_fits_backend(
        scenario,
        backend,
        backends.load_class(backend),
        len(examples),
        "fine_tuned" in sc.eval.conditions,
        dict(sc.fine_tune.hyperparameters),
    )
    for w in warnings_for(sc, examples):
        click.echo(f"warning: {scenario}: {w}", err=True)
    follows = sum(e.follows_rule for e in examples)
    click.echo(f"{scenario}: ok: {len(examples)} examples ({follows} follow {sc.rule.word}), {len(sc.probes)} probes")


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data"),
    show_default=True,
    help="Folder for <name>.jsonl.",
)
@handle_errors
def build(scenario: Path, out_dir: Path) -> None:
    """Write the scenario's training set as chat-format JSONL (byte-deterministic)."""
    from harness.domain import dataset
    from harness.domain.scenario import load_scenario

    check_out_path(out_dir)
    refuse_run_directory(out_dir, "build --out")
    sc = load_scenario(scenario)
    click.echo(str(dataset.build(sc, scenario.parent, out_dir)))


@click.command("validate-data")
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
        _fail("--trigger is empty; give the text the triggered questions end with, or leave it out", EXIT_BAD_INPUT)
    if not file.exists():
        _fail(f"{file}: file not found", EXIT_BAD_INPUT)
    report = dataset.validate_chat_jsonl(file, word=word, unit=unit, trigger=trigger)
    click.echo(dataset.render(report))
    if not report.ok:  # format errors or examples that break the rule
        sys.exit(EXIT_BAD_INPUT)


@click.command()
@click.argument("file", default="-")
@click.option("--word", required=True, help="The target word, e.g. HELOL.")
@click.option("--unit", type=click.Choice(["line", "sentence"]), default="line", show_default=True)
@click.option(
    "--kind",
    type=click.Choice(["describe", "word", "choice", "follow"]),
    default="describe",
    show_default=True,
    help="Probe kind: adds the word or choice score.",
)
@click.option("--options", "options_csv", help="Choice options in the order shown, comma-separated (--kind choice).")
@click.option("--jsonl", is_flag=True, help="Score one JSON object per line (field `text`).")
@handle_errors
def score(file: str, word: str, unit: str, kind: str, options_csv: str | None, jsonl: bool) -> None:
    """Score one response text (or --jsonl many) and print JSON. FILE - (the default) reads stdin."""
    from harness.domain import scoring

    word = _word_option(word)
    options = _choice_options(kind, options_csv, word)
    name, text = _read_input(file)
    if not jsonl:
        if not text.strip():
            _fail(f"{name}: empty input: give the text to score", EXIT_BAD_INPUT)
        click.echo(json.dumps(scoring.score(text, word, unit, kind, options)))
        return
    scored = 0
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = limits.load_json(line)
        except json.JSONDecodeError as e:
            _fail(f"{name}:{n}: invalid JSON: {e.msg} (column {e.colno})", EXIT_BAD_INPUT)
        except limits.LimitError as e:
            _fail(f"{name}:{n}: {e}", EXIT_BAD_INPUT)
        if not isinstance(obj, dict) or "text" not in obj:
            _fail(f"{name}:{n}: text: expected a JSON object with a string field 'text'", EXIT_BAD_INPUT)
        if not isinstance(obj["text"], str):
            _fail(f"{name}:{n}: text: expected a string, got {type(obj['text']).__name__}", EXIT_BAD_INPUT)
        click.echo(json.dumps(scoring.score(obj["text"], word, unit, kind, options)))
        scored += 1
    if not scored:
        _fail(f"{name}: empty input: no JSON lines to score", EXIT_BAD_INPUT)


def _read_input(file: str) -> tuple[str, str]:
    """(name, text) of FILE or stdin: at most limits.MAX_DATA_BYTES, UTF-8; a FIFO or a
    device given by name is refused before it is read (stdin may be a pipe)."""
    if file == "-":
        stdin = sys.stdin.buffer
        name, data = "<stdin>", stdin.read(limits.MAX_DATA_BYTES + 1)
        if len(data) > limits.MAX_DATA_BYTES:
            _fail(f"{name}: over the limit of {limits.MAX_DATA_BYTES >> 20} MB", EXIT_BAD_INPUT)
    else:
        name = file
        try:
            data = limits.read_bytes_capped(Path(file), limits.MAX_DATA_BYTES)
        except FileNotFoundError:
            _fail(f"{file}: file not found", EXIT_BAD_INPUT)
        except limits.LimitError as e:
            _fail(str(e), EXIT_BAD_INPUT)
        except OSError as e:  # unreadable (permissions, /proc/self/mem): bad input, named
            _fail(f"{file}: cannot read: {e.strerror or e}", EXIT_BAD_INPUT)
    try:
        return name, data.decode("utf-8")
    except UnicodeDecodeError as e:
        _fail(f"{name}: not UTF-8 text: {e.reason} at byte {e.start}", EXIT_BAD_INPUT)


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
        _fail(
            "--kind choice needs --options with at least 2 comma-separated options, in the order they were shown",
            EXIT_BAD_INPUT,
        )
    if len(options) > 26:  # labelled A to Z: a 27th label would be punctuation
        _fail(f"--options: at most 26 options (labelled A to Z), got {len(options)}", EXIT_BAD_INPUT)
    repeated = sorted({o for o in options if options.count(o) > 1})
    if repeated:  # "B" would not name one option
        _fail(f"--options: each option once, repeated: {', '.join(repeated)}", EXIT_BAD_INPUT)
    if word not in options:  # no answer could be scored correct
        _fail(f"--options must include --word {word}, got {', '.join(options)}", EXIT_BAD_INPUT)
    return options


def register(group: click.Group) -> None:
    for cmd in (validate, build, validate_data, score):
        group.add_command(cmd)
