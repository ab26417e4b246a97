"""Log-probability probes: where a backend can score given replies (capability "logprobs"),
each word and choice probe is asked once per model and wording for the probability of every
option (its label as the whole reply) and of the word itself (in its usual casings). A far
cheaper and sharper measure than sampling; a backend without it is skipped, never faked."""

from __future__ import annotations

from backends.base import AccountError, Backend, BackendError
from harness.calls import boundary, probing
from harness.calls.concurrency import run_bounded
from harness.domain.scenario import Example, Probe, Scenario
from harness.domain.scoring import choice_labels
from harness.store.records import LogprobRecord
from harness.store.run_dir import LOGPROBS, RunStore


def word_casings(word: str) -> list[str]:
    """The replies that give the word: upper, title and lower case (disjoint continuations,
    so their probabilities add up)."""
    return list(dict.fromkeys([word.upper(), word.capitalize(), word.lower()]))


def requests_for(
    scenario: Scenario, examples: list[Example], models: dict[tuple[str, int], str]
) -> list[tuple[LogprobRecord, list[dict]]]:
    """(record to fill, messages) for every model, word or choice probe and wording."""
    out = []
    for (condition, replicate), model in sorted(models.items()):
        for probe in scenario.probes:
            if probe.kind not in ("word", "choice"):
                continue
            for i in range(len(probe.prompts)):
                options = [o.upper() for o in probe.options] if probe.kind == "choice" and probe.options else None
                continuations = choice_labels(len(options)) if options else word_casings(scenario.rule.word)
                prompt = probing.user_prompt(probe, options, i)
                messages = probing.messages_for(scenario, examples, condition, prompt)
                out.append(
                    (
                        LogprobRecord(
                            condition=condition,
                            replicate=replicate,
                            probe=probe.id,
                            kind=probe.kind,
                            paraphrase=i,
                            model=model,
                            options=options,
                            continuations=continuations,
                        ),
                        messages,
                    )
                )
    return out


async def score_logprobs(
    backend: Backend,
    scenario: Scenario,
    examples: list[Example],
    models: dict[tuple[str, int], str],
    store: RunStore,
    concurrency: int = 4,
) -> None:
    """Ask what is not on disk yet; a failed request is recorded and asked again on resume."""
    have = {r.key for r in store.logprobs()[0] if r.ok}
    todo = [(rec, messages) for rec, messages in requests_for(scenario, examples, models) if rec.key not in have]

    async def ask(item: tuple[LogprobRecord, list[dict]]) -> None:
        record, messages = item
        try:
            found = await backend.continuation_logprobs(record.model, messages, record.continuations)
            record.logprobs = boundary.logprobs(found, len(record.continuations))
        except BackendError as e:
            if isinstance(e, AccountError):
                raise  # a bad key or no quota: the run stops at once
            record.status, record.error = "failed", boundary.clean_line(str(e))
        store.append(LOGPROBS, record)

    await run_bounded(todo, ask, concurrency=concurrency)
    latest: dict = {}
    for r in store.logprobs()[0]:
        if r.key not in latest or not latest[r.key].ok or r.ok:
            latest[r.key] = r
    store.rewrite(LOGPROBS, [latest[k] for k in sorted(latest)])


def has_scored_probes(probes: list[Probe]) -> bool:
    return any(p.kind in ("word", "choice") for p in probes)
