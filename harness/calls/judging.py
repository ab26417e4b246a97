"""Asking an LLM judge to grade every describe answer, beside the rule-based grade.

Verdicts land in judge.jsonl, one per (judge model, condition, probe, sample); a resumed run
never asks for one twice, and a verdict is asked again when the answer's text changed."""

from __future__ import annotations

from backends.base import AccountError, Backend, BackendError, ChatRequest
from harness.calls import boundary
from harness.calls.budget import Ledger
from harness.calls.concurrency import run_bounded
from harness.domain.judge import MAX_TOKENS, judge_prompt, parse_verdict, text_hash
from harness.store.records import JudgeVerdict, ResponseRecord, canonical, latest_verdicts
from harness.store.run_dir import JUDGE, RunStore


def describe_answers(records: list[ResponseRecord]) -> list[ResponseRecord]:
    """The ok describe answer of each (condition, probe, sample), in key order."""
    return [r for r in canonical(records) if r.kind == "describe" and r.ok]


async def _verdict(
    backend: Backend,
    model: str,
    answer: ResponseRecord,
    word: str,
    unit: str,
    seed: int,
    max_tokens: int,
    ledger: Ledger | None,
) -> JudgeVerdict | None:
    request = ChatRequest(
        model=model,
        messages=judge_prompt(answer.text or "", word, unit),
        temperature=0.0,
        seed=seed,
        max_tokens=max_tokens,
    )
    ticket = ledger.reserve(request) if ledger is not None else None
    if ledger is not None and ticket is None:
        return None  # refused by the budget: never asked
    verdict = JudgeVerdict(
        condition=answer.condition,
        probe=answer.probe,
        sample=answer.sample,
        judge_model=model,
        simulated=backend.simulated,
        text_sha256=text_hash(answer.text),
    )
    try:  # CassetteMiss is not a BackendError: it propagates
        reply = await boundary.ask(backend, request, ledger, ticket)
    except AccountError:
        raise  # a bad key or no quota: the run stops at once
    except BackendError as e:
        verdict.status, verdict.error = "failed", str(e)
        return verdict
    grade, wrong = parse_verdict(reply.text)
    verdict.grade, verdict.wrong_word, verdict.raw = grade, wrong, reply.text
    verdict.prompt_tokens, verdict.completion_tokens = reply.prompt_tokens, reply.completion_tokens
    verdict.tokens_note = reply.tokens_note
    verdict.simulated = backend.simulated  # the backend may have noticed the simulator
    return verdict


async def judge_run(
    backend: Backend,
    model: str,
    records: list[ResponseRecord],
    word: str,
    unit: str,
    store: RunStore,
    *,
    concurrency: int = 4,
    seed: int = 0,
    rpm: float | None = None,
    max_tokens: int = MAX_TOKENS,
    ledger: Ledger | None = None,
) -> list[JudgeVerdict]:
    """Ask `model` (through `backend`) to grade every ok describe answer in `records` that
    has no answered verdict of this model for the same text yet; append each verdict to
    judge.jsonl as it arrives. Returns the verdicts asked for in this call (failed ones
    included; a later call asks those again). A CassetteMiss or any other error propagates
    after the calls in flight are cancelled; verdicts already written stay, so a resume
    continues where this stopped. At the end judge.jsonl is rewritten in key order, one
    verdict per model and key, so its bytes do not depend on arrival order.

    `ledger` is the run's budget: each call reserves its estimate before it starts and
    settles its real cost when answered; once a call is refused no other starts (calls in
    flight finish and are kept), and `ledger.refused` says why."""
    existing, _ = store.verdicts()
    have = latest_verdicts(existing, model)
    todo = [
        a
        for a in describe_answers(records)
        if not (a.key in have and have[a.key].ok and have[a.key].text_sha256 in (None, text_hash(a.text)))
    ]
    if not todo:
        return []
    new: list[JudgeVerdict] = []

    async def ask(answer: ResponseRecord) -> None:
        verdict = await _verdict(backend, model, answer, word, unit, seed, max_tokens, ledger)
        if verdict is not None:
            store.append(JUDGE, verdict)
            new.append(verdict)

    await run_bounded(
        todo,
        ask,
        concurrency=concurrency,
        rpm=rpm,
        should_stop=lambda: ledger is not None and ledger.refused is not None,
    )
    _canonicalize(store)
    return sorted(new, key=lambda v: v.key)


def _canonicalize(store: RunStore) -> None:
    verdicts, _ = store.verdicts()
    keep: dict[tuple, JudgeVerdict] = {}
    for model in dict.fromkeys(v.judge_model for v in verdicts):
        for key, v in latest_verdicts(verdicts, model).items():
            keep[(model, *key)] = v
    store.rewrite(JUDGE, [keep[k] for k in sorted(keep)])
