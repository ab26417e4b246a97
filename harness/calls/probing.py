"""Probe requests: which (condition, probe, sample) to ask, the messages each one sends, and
asking one (reserved against the budget, recorded whatever happens)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

from backends.base import AccountError, Backend, BackendError, ChatRequest
from harness.calls import boundary
from harness.calls.budget import Ledger
from harness.domain.scenario import Example, Probe, Scenario
from harness.domain.scoring import choice_labels
from harness.store.records import ResponseRecord


@dataclass(frozen=True)
class Task:
    condition: str
    replicate: int
    probe: Probe
    sample: int
    seed: int

    @property
    def key(self) -> tuple[str, int, str, int]:
        return (self.condition, self.replicate, self.probe.id, self.sample)

    @property
    def paraphrase(self) -> int:
        """Which wording of the probe this sample asks (the same in every condition)."""
        return self.sample % len(self.probe.prompts)


def sample_seed(run_seed: int, probe_id: str, sample: int) -> int:
    """A seed per sample, stable across runs and machines (no Python hash randomisation).
    Conditions and replicates share seeds so that every model sees the same option shuffles;
    probe seeds do not depend on training seeds."""
    digest = hashlib.sha256(f"{run_seed}:{probe_id}:{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def tasks_for(
    scenario: Scenario,
    conditions: list[str],
    samples: int,
    run_seed: int,
    replicates: Callable[[str], int] = lambda condition: 1,
) -> list[Task]:
    """Every (condition, replicate, probe, sample) to ask; `replicates(condition)` says how
    many models a condition probes."""
    return [
        Task(c, r, p, i, sample_seed(run_seed, p.id, i))
        for c in conditions
        for r in range(replicates(c))
        for p in scenario.probes
        for i in range(samples)
    ]


def shuffled_options(probe: Probe, seed: int) -> list[str] | None:
    if probe.kind != "choice" or not probe.options:
        return None
    options = [o.upper() for o in probe.options]
    random.Random(seed).shuffle(options)
    return options


def user_prompt(probe: Probe, options: list[str] | None, paraphrase: int = 0) -> str:
    prompt = probe.prompts[paraphrase]
    if not options:
        return prompt
    lines = [f"{label}) {opt}" for label, opt in zip(choice_labels(len(options)), options)]
    return prompt + "\n" + "\n".join(lines)


def messages_for(scenario: Scenario, examples: list[Example], condition: str, prompt: str) -> list[dict]:
    """fine_tuned and base see the system prompt and the probe; in_context also sees every
    training example as an earlier exchange (learning from the prompt, no fine-tuning)."""
    messages = []
    if scenario.system_prompt:
        messages.append({"role": "system", "content": scenario.system_prompt})
    if condition == "in_context":
        for ex in examples:
            messages.append({"role": "user", "content": ex.question})
            messages.append({"role": "assistant", "content": ex.answer.strip()})
    messages.append({"role": "user", "content": prompt})
    return messages


async def ask(
    backend: Backend,
    scenario: Scenario,
    examples: list[Example],
    task: Task,
    model: str,
    temperature: float,
    ledger: Ledger,
) -> ResponseRecord | None:
    """One probe sample: its request reserved against the ledger, asked, and recorded (a
    failed call as failed, with whether asking again can help). None when the budget
    refused it: not started, so a resume asks it."""
    options = shuffled_options(task.probe, task.seed)
    prompt = user_prompt(task.probe, options, task.paraphrase)
    request = ChatRequest(
        model=model,
        messages=messages_for(scenario, examples, task.condition, prompt),
        temperature=temperature,
        seed=task.seed,
        max_tokens=scenario.eval.max_tokens,
    )
    record = ResponseRecord(
        condition=task.condition,
        replicate=task.replicate,
        probe=task.probe.id,
        kind=task.probe.kind,
        paraphrase=task.paraphrase,
        sample=task.sample,
        seed=task.seed,
        model=model,
        prompt=prompt,
        options=options,
        status="ok",
    )
    ticket = ledger.reserve(request)  # no await before this: reserving is atomic
    if ticket is None:
        return None
    try:  # the boundary checks the answer and settles the ledger (see boundary.ask)
        answer = await boundary.ask(backend, request, ledger, ticket)
    except AccountError:  # a bad key, no quota: refused before any work (the ledger was told)
        raise  # no other call can succeed either: the run stops at once, saying what to do
    except BackendError as e:
        # Whether asking again can help decides if the run ends failed or incomplete.
        record.status, record.error, record.retryable = "failed", str(e), bool(e.retryable)
        return record
    record.text, record.finish_reason = answer.text, answer.finish_reason
    record.prompt_tokens, record.completion_tokens = answer.prompt_tokens, answer.completion_tokens
    record.tokens_note = answer.tokens_note
    return record
