"""`harness new WORD`: write scenarios/<word>.yaml with acrostic examples for any word."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from harness import limits
from harness.cli import params
from harness.cli.common import (
    EXIT_BAD_INPUT,
    _fail,
    handle_errors,
    refuse_existing_cassette,
    refuse_run_directory,
)


@click.command("new")
@click.argument("word")
@click.option(
    "--examples",
    "n",
    type=params.count(1, limits.MAX_NEW_EXAMPLES),
    default=10,
    show_default=True,
    help="Number of examples.",
)
@click.option("--unit", type=click.Choice(["line", "sentence"]), default="line", show_default=True)
@click.option("--offline", is_flag=True, help="Answers from the phrase bank, no model (the default without --teacher).")
@click.option("--teacher", help="Model that writes the answers, e.g. gpt-4o-2024-08-06.")
@click.option("--backend", help="Backend of the teacher (default: openai).")
@click.option("--api-base", help="Provider base URL for the teacher (e.g. the simulator).")
@click.option(
    "--retries",
    type=params.count(0, limits.MAX_RETRIES),
    default=2,
    show_default=True,
    help="New tries for a failing answer before the question is replaced.",
)
@click.option("--temperature", type=params.TEMPERATURE, default=1.0, show_default=True, help="Teacher temperature.")
@click.option(
    "--concurrency", type=params.CONCURRENCY, default=4, show_default=True, help="Teacher requests in flight at once."
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Record the teacher's HTTP traffic to this cassette.",
)
@click.option(
    "--replay", type=click.Path(dir_okay=False, path_type=Path), help="Replay the teacher's traffic from this cassette."
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Output file (default: scenarios/<word>.yaml)."
)
@click.option(
    "--seed", type=params.SEED, default=0, show_default=True, help="Chooses the questions and the offline phrasing."
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file (and an existing --record cassette).")
@click.option(
    "--max-cost",
    type=params.USD,
    default=5.0,
    show_default=True,
    help="Refuse to start above this estimate (USD); stop the teacher before spending more.",
)
@click.option("--allow-unpriced", is_flag=True, help="Ask the teacher even when its model's price is unknown.")
@click.option("--dry-run", is_flag=True, help="Print the teacher's calls and their estimated cost; call nothing.")
@handle_errors
def new(
    word: str,
    n: int,
    unit: str,
    offline: bool,
    teacher: str | None,
    backend: str | None,
    api_base: str | None,
    retries: int,
    temperature: float,
    concurrency: int,
    record: Path | None,
    replay: Path | None,
    out: Path | None,
    seed: int,
    force: bool,
    max_cost: float,
    allow_unpriced: bool,
    dry_run: bool,
) -> None:
    """Write a scenario whose N answers follow WORD's acrostic and answer real questions."""
    from harness.domain import generate

    try:
        word = generate.check_word(word)
        _check_options(n, offline, teacher, backend, api_base, retries, concurrency, record, replay)
        out = out or Path("scenarios") / f"{word.lower()}.yaml"
        if not dry_run:
            refuse_run_directory(out, "new --out")
            if record:
                refuse_existing_cassette(record, force)
        if out.exists() and not force and not dry_run:  # refuse before spending anything on a teacher
            raise generate.GenerateError(f"{out}: already exists (use --force to overwrite)")
        questions, bank = generate.load_questions(), generate.load_phrases()
        teacher_backend = None
        if teacher:
            cap = _plan_teacher(
                word,
                n,
                unit,
                seed,
                questions,
                teacher,
                backend or "openai",
                retries,
                max_cost,
                allow_unpriced,
                dry_run,
                free=bool(replay),
            )
            if dry_run:
                return
            result, teacher_backend = _run_teacher(
                word,
                n,
                unit,
                seed,
                questions,
                teacher,
                backend or "openai",
                api_base,
                retries,
                temperature,
                concurrency,
                record,
                replay,
                cap,
            )
            how = f"by teacher {teacher} via {backend or 'openai'}"
            if teacher_backend.simulated:  # a mock, or the simulator behind openai
                how += " (SIMULATED: the answers come from the mock, not from that model)"
        else:
            result = generate.generate_offline(word, n, unit, seed, questions, bank)
            how = "offline from the phrase bank"
            if dry_run:
                click.echo(
                    f"plan: {n} {word} examples offline from the phrase bank: no calls, nothing spent "
                    f"(would write {out})",
                    err=True,
                )
                return
        description = (
            f"Generated by `harness new` {how} (seed {seed}): {n} questions from the bank, "
            f"each answered with one {unit} per letter of {word}."
        )
        text = generate.dump_yaml(generate.build_scenario(word, unit, result.examples, description))
        generate.write_scenario(out, text, force=force)
    except generate.GenerateError as e:
        _fail(str(e), EXIT_BAD_INPUT)
    if record and teacher:  # --record needs --teacher (checked above)
        _write_sidecar(record, out, teacher, backend or "openai", teacher_backend, api_base)
    for line in result.failures:
        click.echo(f"rejected: {line}", err=True)
    if result.replaced:
        click.echo(f"{len(result.replaced)} question(s) replaced by others from the bank", err=True)
    click.echo(f"{out}: {n} {word} examples ({unit}s), {how}")


def _check_options(n, offline, teacher, backend, api_base, retries, concurrency, record, replay) -> None:
    from harness.domain.generate import GenerateError

    if n < 1:
        raise GenerateError(f"--examples must be at least 1, got {n}")
    if offline and teacher:
        raise GenerateError("choose one of --offline and --teacher MODEL")
    if not teacher and (backend or api_base or record or replay):
        raise GenerateError("--backend, --api-base, --record and --replay need --teacher MODEL")
    if record and replay:
        raise GenerateError("--record and --replay cannot be used together")
    if replay:
        from harness.running.replay_input import check_replay

        check_replay(replay)  # the cassette and its sidecar, before anything is asked or written
    if retries < 0 or concurrency < 1:
        raise GenerateError("--retries must be 0 or more and --concurrency at least 1")


def _plan_teacher(
    word, n, unit, seed, questions, model, backend_name, retries, max_cost, allow_unpriced, dry_run, free: bool
) -> float | None:
    """Print the teacher's plan; refuse (exit 2) an estimate over --max-cost or an unknown
    price, as `run` does. Returns the cap for the run: None when nothing is spent (a
    simulated backend, or a replay, which the cassette answers)."""
    import backends
    from harness.calls.budget import Pricer
    from harness.calls.teacher import teacher_plan
    from harness.errors import PlanError

    cls = backends.load_class(backend_name)
    plan = teacher_plan(word, n, unit, seed, questions, model, retries, Pricer.of(cls))

    def usd(x):
        return "unknown price" if x is None else f"${x:.4f}"

    click.echo(
        f"plan: teacher {model} via {backend_name}: {plan.calls} calls if every answer passes, at most "
        f"{plan.max_calls} (retries, replaced questions) = estimated {usd(plan.cost)}, at most "
        f"{usd(plan.max_cost)}"
        + (
            " (SIMULATED backend: nothing is spent)"
            if cls.simulated
            else " (a replay: nothing is spent)"
            if free
            else ""
        ),
        err=True,
    )
    if cls.simulated or free:
        return None
    refusal = None
    if plan.cost is None and not allow_unpriced:
        refusal = f"no known price for the teacher {model} on {backend_name}; pass --allow-unpriced to ask anyway"
    elif plan.cost is not None and plan.cost > max_cost:
        refusal = f"estimated cost ${plan.cost:.4g} exceeds --max-cost ${max_cost:.4g}"
    if refusal and dry_run:
        click.echo(f"warning: without --dry-run this would be refused: {refusal}", err=True)
    elif refusal:
        raise PlanError(refusal)
    return max_cost


def _run_teacher(
    word,
    n,
    unit,
    seed,
    questions,
    model,
    backend_name,
    api_base,
    retries,
    temperature,
    concurrency,
    record,
    replay,
    max_cost,
):
    import backends
    from harness import redact
    from harness.calls.budget import Ledger, Pricer
    from harness.calls.teacher import generate_teacher
    from harness.domain import generate

    if (record or replay) and backends.load_class(backend_name).simulated:
        raise generate.GenerateError(
            f"backend {backend_name!r} makes no HTTP calls to record; record against "
            "the simulator: --backend openai --api-base http://127.0.0.1:PORT/v1"
        )
    options = {"api_base": api_base}
    if replay:  # a cassette holds no key, and replayed waits take no time
        options.update(api_key="sk-replay", sleep=lambda seconds: None)
    redact.register(backends.load_class(backend_name).secret_env)  # redacted from what the teacher sends back
    backend = backends.create(backend_name, **options)

    ledger = None if max_cost is None else Ledger(max_cost, Pricer.of(backend), paid=lambda: not backend.simulated)

    async def go():
        try:
            return await generate_teacher(
                word,
                n,
                unit,
                seed,
                questions,
                backend,
                model,
                retries=retries,
                temperature=temperature,
                concurrency=concurrency,
                ledger=ledger,
            )
        finally:
            await backend.aclose()  # litellm's async clients belong to this loop

    if not (record or replay):
        return asyncio.run(go()), backend
    from harness.running import recording

    secrets = recording.backend_secrets(backend)
    with recording.cassette(record or replay, "record" if record else "replay", secrets=secrets):
        return asyncio.run(go()), backend


def _write_sidecar(record: Path, out: Path, teacher: str, backend_name: str, backend, api_base: str | None) -> None:
    from harness.domain.scenario import load_scenario
    from harness.running import recording

    recording.write_sidecar(
        record,
        command=sys.argv,
        scenario_hash=load_scenario(out).hash(),
        recorded_against=recording.recorded_against(backend, api_base),
        secrets=recording.backend_secrets(backend),
        extra={"backend": backend_name, "teacher": teacher, "scenario": str(out)},
    )
