"""`harness new --teacher MODEL`: ask a model to write the acrostic answers, validate each one,
retry a failing question with new seeds, and replace questions that keep failing. What it
may cost is planned before the first call (`teacher_plan`) and capped while it runs (the
same Ledger as a run's: a call starts only if its reservation fits under --max-cost)."""

from __future__ import annotations

from dataclasses import dataclass

from backends.base import ChatRequest
from harness.calls import boundary
from harness.calls.budget import Ledger, Pricer
from harness.calls.concurrency import run_bounded
from harness.domain import tokens
from harness.domain.generate import (
    QA,
    Generated,
    GenerateError,
    candidates,
    check_answer,
    normalise,
    request_seed,
    teacher_messages,
)
from harness.errors import RunError


def max_tokens_for(word: str) -> int:
    return 60 * len(word) + 100


def give_up_after(n: int) -> int:
    """How many questions may fail for good before the teacher is given up on: one that
    rarely complies must not be asked the whole bank."""
    return max(5, n)


@dataclass
class TeacherPlan:
    calls: int  # if every answer passes at its first try
    max_calls: int  # every question retried, and the most questions replaced
    cost: float | None  # of `calls`; None: the backend cannot price the model
    max_cost: float | None


def teacher_plan(
    word: str, n: int, unit: str, seed: int, questions, model: str, retries: int, pricer: Pricer
) -> TeacherPlan:
    """The teacher's calls and their estimated cost (prompts counted, answers at max_tokens)."""
    pool = candidates(questions, word, seed)
    if n > len(pool):
        raise GenerateError(f"asked for {n} examples but the question bank has {len(pool)} usable questions")
    asked = pool[: min(len(pool), n + give_up_after(n))]
    prompts = tokens.count_tokens([{"messages": teacher_messages(qa.q, word, unit)} for qa in asked], model)
    completion = max_tokens_for(word)
    first = pricer.inference(sum(prompts[:n]), completion * n, model)
    most = pricer.inference(sum(prompts) * (retries + 1), completion * len(asked) * (retries + 1), model)
    return TeacherPlan(n, len(asked) * (retries + 1), first, most)


async def _ask(
    backend,
    model: str,
    qa: QA,
    word: str,
    unit: str,
    seed: int,
    retries: int,
    temperature: float,
    ledger: Ledger | None,
) -> tuple[str | None, list[str]]:
    failures: list[str] = []
    for attempt in range(retries + 1):
        request = ChatRequest(
            model=model,
            messages=teacher_messages(qa.q, word, unit),
            temperature=temperature,
            seed=request_seed(seed, qa.q, attempt),
            max_tokens=max_tokens_for(word),
        )
        ticket = ledger.reserve(request) if ledger is not None else None
        if ledger is not None and ticket is None:
            raise RunError(f"the teacher stopped: {ledger.refused}; nothing written (raise --max-cost)")
        answer = await boundary.ask(backend, request, ledger, ticket)  # a BackendError ends the teacher
        text = normalise(answer.text, unit)
        reason = "cut off at max_tokens" if answer.finish_reason == "length" else check_answer(text, word, unit)
        if reason is None:
            return text, failures
        failures.append(f"{qa.q} (attempt {attempt + 1}): {reason}")
    return None, failures


async def generate_teacher(
    word: str,
    n: int,
    unit: str,
    seed: int,
    questions,
    backend,
    model: str,
    retries: int = 2,
    temperature: float = 1.0,
    concurrency: int = 4,
    ledger: Ledger | None = None,
) -> Generated:
    """Ask the teacher for each question; retry a failing one with new seeds, then move on to
    the next question in the seeded order. Rounds keep the result independent of timing.
    `ledger` caps the spend: once a call would pass it, the teacher stops and nothing is written."""
    pool = candidates(questions, word, seed)
    if n > len(pool):
        raise GenerateError(f"asked for {n} examples but the question bank has {len(pool)} usable questions")
    out, cursor = Generated([]), 0
    kept: list[dict[str, str]] = []
    give_up = give_up_after(n)
    while len(kept) < n and cursor < len(pool) and len(out.replaced) < give_up:
        batch = pool[cursor : cursor + n - len(kept)]
        cursor += len(batch)
        results: dict[str, tuple[str | None, list[str]]] = {}

        async def ask(qa: QA, results: dict = results) -> None:
            results[qa.q] = await _ask(backend, model, qa, word, unit, seed, retries, temperature, ledger)

        await run_bounded(batch, ask, concurrency=concurrency)
        for qa in batch:  # in the seeded order, whatever order the answers came in
            answer, failures = results[qa.q]
            out.failures += failures
            if answer is None:
                out.replaced.append(qa.q)
            else:
                kept.append({"question": qa.q, "answer": answer})
    out.examples = kept
    if len(kept) < n:
        why = "bank exhausted" if cursor >= len(pool) else f"gave up after {len(out.replaced)} questions failed"
        raise RunError(
            f"the teacher gave valid answers for only {len(kept)} of {n} questions "
            f"({len(out.failures)} answers rejected, {why}); nothing written; first rejections: "
            + "; ".join(out.failures[:3])
        )
    return out
