"""`harness new --teacher MODEL`: ask a model to write the acrostic answers, validate each one,
retry a failing question with new seeds, and replace questions that keep failing."""
from __future__ import annotations

from backends.base import ChatRequest
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
from harness.running.concurrency import run_bounded


async def _ask(backend, model: str, qa: QA, word: str, unit: str, seed: int, retries: int,
               temperature: float) -> tuple[str | None, list[str]]:
    failures: list[str] = []
    for attempt in range(retries + 1):
        request = ChatRequest(model=model, messages=teacher_messages(qa.q, word, unit), temperature=temperature,
                              seed=request_seed(seed, qa.q, attempt), max_tokens=60 * len(word) + 100)
        completion = await backend.complete(request)
        text = normalise(completion.text or "", unit)
        reason = "cut off at max_tokens" if completion.finish_reason == "length" else check_answer(text, word, unit)
        if reason is None:
            return text, failures
        failures.append(f"{qa.q} (attempt {attempt + 1}): {reason}")
    return None, failures


async def generate_teacher(word: str, n: int, unit: str, seed: int, questions, backend, model: str,
                           retries: int = 2, temperature: float = 1.0, concurrency: int = 4) -> Generated:
    """Ask the teacher for each question; retry a failing one with new seeds, then move on to
    the next question in the seeded order. Rounds keep the result independent of timing."""
    pool = candidates(questions, word, seed)
    if n > len(pool):
        raise GenerateError(f"asked for {n} examples but the question bank has {len(pool)} usable questions")
    out, cursor = Generated([]), 0
    kept: list[dict[str, str]] = []
    give_up = max(5, n)  # a teacher that rarely complies must not be asked the whole bank
    while len(kept) < n and cursor < len(pool) and len(out.replaced) < give_up:
        batch = pool[cursor: cursor + n - len(kept)]
        cursor += len(batch)
        results: dict[str, tuple[str | None, list[str]]] = {}

        async def ask(qa: QA, results: dict = results) -> None:
            results[qa.q] = await _ask(backend, model, qa, word, unit, seed, retries, temperature)

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
        raise RunError(f"the teacher gave valid answers for only {len(kept)} of {n} questions "
                       f"({len(out.failures)} answers rejected, {why}); nothing written; first rejections: "
                       + "; ".join(out.failures[:3]))
    return out
