"""Grades gold-set answers with an LLM judge through a backend, so `harness grader-check
--judge` can measure a judge model against hand labels before anyone trusts it. Requests are
the run judge's own (harness.domain.judge: rubric, temperature 0, fixed seed), asked with
bounded concurrency; a failed call is recorded as failed, never guessed."""

from __future__ import annotations

import asyncio

from backends.base import AccountError, BackendError, ChatRequest
from harness.analysis.grader import GoldItem, Prediction
from harness.calls import boundary
from harness.domain import judge


async def _ask(backend, model: str, item: GoldItem, seed: int, max_tokens: int) -> Prediction:
    request = ChatRequest(
        model=model,
        messages=judge.judge_prompt(item.text, item.word, item.unit),
        temperature=0.0,
        seed=seed,
        max_tokens=max_tokens,
    )
    try:  # a cassette miss is not a BackendError: it propagates
        answer = await boundary.ask(backend, request)
    except AccountError:
        raise  # a bad key or no quota: nothing else can be graded either
    except BackendError as e:
        return Prediction(None, error=str(e))
    grade, wrong = judge.parse_verdict(answer.text)
    return Prediction(grade, wrong, states_wrong_word=judge.states_wrong_word(answer.text))


async def judge_items(
    backend,
    model: str,
    items: list[GoldItem],
    *,
    concurrency: int = 4,
    seed: int = 0,
    max_tokens: int = judge.MAX_TOKENS,
) -> list[Prediction]:
    """One prediction per item, in the items' order, at most `concurrency` requests in flight."""
    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def one(item: GoldItem) -> Prediction:
        async with semaphore:
            return await _ask(backend, model, item, seed, max_tokens)

    tasks = [asyncio.create_task(one(i)) for i in items]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def judge_gold(
    backend_name: str,
    model: str,
    items: list[GoldItem],
    *,
    api_base: str | None = None,
    concurrency: int = 4,
    seed: int = 0,
) -> tuple[list[Prediction], bool]:
    """(predictions, simulated): grade `items` with `model` on a new backend, closing its
    HTTP sessions inside the event loop that opened them."""
    import backends

    backend = backends.create(backend_name, api_base=api_base)

    async def main() -> list[Prediction]:
        try:
            return await judge_items(backend, model, items, concurrency=concurrency, seed=seed)
        finally:
            close = getattr(backend, "aclose", None)
            if close is not None:
                await close()

    predictions = asyncio.run(main())
    return predictions, bool(getattr(backend, "simulated", False))
