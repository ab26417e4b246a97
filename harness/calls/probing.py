"""Probe requests: which (condition, probe, sample) to ask, and the messages each one sends."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

from harness.domain.scenario import Example, Probe, Scenario
from harness.domain.scoring import choice_labels


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
