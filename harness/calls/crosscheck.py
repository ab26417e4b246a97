"""Cross-prediction of the namings (harness.domain.reading): for each acrostic answer of a
trained condition that names its word, the base model is asked to name the word from the
answer's start alone. Records land in crosscheck.jsonl; a resumed run never asks one twice,
and an answer whose text changed is asked again."""

from __future__ import annotations

from backends.base import AccountError, Backend, BackendError, ChatRequest
from harness.calls import boundary
from harness.calls.budget import Ledger
from harness.calls.concurrency import run_bounded
from harness.domain.judge import text_hash
from harness.domain.reading import cross_prompt, naming_in, predicted_word
from harness.store.records import CrossRecord, ResponseRecord, canonical
from harness.store.run_dir import CROSS, RunStore

MAX_TOKENS = 10  # one word


def candidates(records: list[ResponseRecord], word: str, unit: str) -> list[tuple[ResponseRecord, int, str, int]]:
    """(answer, letters before naming, those letters, offset) for every ok answer of a trained
    condition to a free describe probe that is an acrostic and names the word."""
    out = []
    for r in canonical(records):
        if not r.ok or r.kind != "describe" or r.condition not in ("fine_tuned", "sham"):
            continue
        naming = naming_in(r.text or "", word, unit)
        if naming is not None:
            out.append((r, naming.letters, naming.prefix_letters, naming.offset))
    return out


async def cross_check(
    backend: Backend,
    model: str,
    records: list[ResponseRecord],
    word: str,
    unit: str,
    store: RunStore,
    *,
    free: set[str],
    concurrency: int = 4,
    seed: int = 0,
    rpm: float | None = None,
    ledger: Ledger | None = None,
) -> list[CrossRecord]:
    """Ask `model` for every candidate among the probes in `free` not asked yet; append each
    record as it arrives, then rewrite the file in key order. Returns the records asked now."""
    done = {c.key: c for c in store.cross_predictions()[0] if c.ok}
    todo = [
        c
        for c in candidates(records, word, unit)
        if c[0].probe in free and not (c[0].key in done and done[c[0].key].text_sha256 == text_hash(c[0].text))
    ]
    new: list[CrossRecord] = []

    async def ask(item: tuple[ResponseRecord, int, str, int]) -> None:
        answer, letters, prefix_letters, offset = item
        request = ChatRequest(
            model=model,
            messages=cross_prompt((answer.text or "")[:offset], unit),
            temperature=0.0,
            seed=seed,
            max_tokens=MAX_TOKENS,
        )
        ticket = ledger.reserve(request) if ledger is not None else None
        if ledger is not None and ticket is None:
            return  # refused by the budget: never asked
        record = CrossRecord(
            condition=answer.condition,
            replicate=answer.replicate,
            probe=answer.probe,
            sample=answer.sample,
            model=model,
            letters=letters,
            prefix_letters=prefix_letters,
            text_sha256=text_hash(answer.text),
            simulated=backend.simulated,
        )
        try:  # CassetteMiss is not a BackendError: it propagates
            reply = await boundary.ask(backend, request, ledger, ticket)
            guess = predicted_word(reply.text)
            record.reply, record.predicted, record.correct = reply.text, guess, guess == word.upper()
            record.prompt_tokens, record.completion_tokens = reply.prompt_tokens, reply.completion_tokens
            record.tokens_note = reply.tokens_note
            record.simulated = backend.simulated
        except AccountError:
            raise  # a bad key or no quota: the run stops at once
        except BackendError as e:
            record.status, record.error = "failed", str(e)
        store.append(CROSS, record)
        new.append(record)

    if todo:
        await run_bounded(
            todo,
            ask,
            concurrency=concurrency,
            rpm=rpm,
            should_stop=lambda: ledger is not None and ledger.refused is not None,
        )
    latest: dict = {}
    for c in store.cross_predictions()[0]:
        if c.key not in latest or not latest[c.key].ok or c.ok:
            latest[c.key] = c
    store.rewrite(CROSS, [latest[k] for k in sorted(latest)])
    return sorted(new, key=lambda c: c.key)
