"""`harness grader-check`: how well the articulation grader (or an LLM judge) agrees with the
hand-labelled gold set. Prints accuracy per split, grade and category, the confusion matrix,
weighted kappa and wrong-word accuracy; exit 0 (2 for a bad gold file or bad options)."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli import params
from harness.cli.common import EXIT_BAD_INPUT, _fail, handle_errors

DEFAULT_GOLD = Path("tests") / "gold" / "articulation.jsonl"


def _default_gold() -> Path:
    """The gold set of the checkout this package runs from, else ./tests/gold/articulation.jsonl."""
    import harness

    beside = Path(harness.__file__).resolve().parents[1] / DEFAULT_GOLD
    return beside if beside.exists() else DEFAULT_GOLD


@click.command("grader-check")
@click.option(
    "--gold",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Labelled answers, JSONL (default: tests/gold/articulation.jsonl of this checkout).",
)
@click.option(
    "--split",
    type=click.Choice(["all", "tune", "held"]),
    default="all",
    show_default=True,
    help="Which part of the gold set to grade.",
)
@click.option("--judge", "judge_model", help="Grade with this LLM judge model instead of the rule-based grader.")
@click.option("--backend", help="The backend that serves --judge (see `harness backends`).")
@click.option("--api-base", help="Provider base URL for --judge.")
@click.option(
    "--concurrency", type=params.CONCURRENCY, default=4, show_default=True, help="Judge requests in flight at once."
)
@click.option("--errors", "show_errors", is_flag=True, help="Also list every answer graded differently from its label.")
@handle_errors
def grader_check(
    gold: Path | None,
    split: str,
    judge_model: str | None,
    backend: str | None,
    api_base: str | None,
    concurrency: int,
    show_errors: bool,
) -> None:
    """Measure the articulation grader, or an LLM judge, against the labelled gold set."""
    from harness.analysis import grader
    from harness.domain.scoring import SCORER_VERSION

    if judge_model is not None and not judge_model.strip():
        _fail("--judge is empty; give the judge model's name, or leave --judge out", EXIT_BAD_INPUT)
    if judge_model is not None and not backend:
        _fail("--judge needs --backend (e.g. --backend openai, or --backend mock to try it offline)", EXIT_BAD_INPUT)
    if judge_model is None and (backend or api_base):
        _fail(f"{'--backend' if backend else '--api-base'} is only used with --judge", EXIT_BAD_INPUT)
    path = gold or _default_gold()
    if not path.exists():
        _fail(f"{path}: gold file not found; pass --gold FILE", EXIT_BAD_INPUT)
    try:
        items = grader.select(grader.load_gold(path), split)
    except grader.GoldError as e:
        _fail(str(e), EXIT_BAD_INPUT)
    if not items:
        _fail(f"{path}: no answers in split {split!r}", EXIT_BAD_INPUT)
    if judge_model is None or backend is None:
        predictions = grader.rule_predictions(items)
        title = f"rule-based grader (scorer version {SCORER_VERSION})"
    else:
        from harness.calls.grading import judge_gold

        predictions, simulated = judge_gold(backend, judge_model, items, api_base=api_base, concurrency=concurrency)
        title = f"LLM judge {judge_model} via {backend}"
        if simulated:
            title = (
                "SIMULATED: the backend is simulated; its judge replies with the rule-based grade, "
                "so these figures measure the rules, not a judge model.\n" + title
            )
    title += f"\ngold: {path} ({len(items)} answers, split {split})"
    click.echo(grader.render(grader.evaluate(items, predictions), title, show_errors=show_errors))
