"""Probe requests: which (condition, probe, sample) to ask, the messages each one sends, and
an asyncio runner bounded by concurrency and a client-side rate limit."""
from __future__ import annotations

import asyncio
import hashlib
import random
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from harness.domain.scenario import Example, Probe, Scenario
from harness.domain.scoring import choice_labels


@dataclass(frozen=True)
class Task:
    condition: str
    probe: Probe
    sample: int
    seed: int

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.condition, self.probe.id, self.sample)


def sample_seed(run_seed: int, probe_id: str, sample: int) -> int:
    """A seed per sample, stable across runs and machines (no Python hash randomisation).
    Conditions share seeds so that fine_tuned and base see the same option shuffles."""
    digest = hashlib.sha256(f"{run_seed}:{probe_id}:{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def tasks_for(scenario: Scenario, conditions: list[str], samples: int, run_seed: int) -> list[Task]:
    return [Task(c, p, i, sample_seed(run_seed, p.id, i))
            for c in conditions for p in scenario.probes for i in range(samples)]


def shuffled_options(probe: Probe, seed: int) -> list[str] | None:
    if probe.kind != "choice" or not probe.options:
        return None
    options = [o.upper() for o in probe.options]
    random.Random(seed).shuffle(options)
    return options


def user_prompt(probe: Probe, options: list[str] | None) -> str:
    if not options:
        return probe.prompt
    lines = [f"{label}) {opt}" for label, opt in zip(choice_labels(len(options)), options)]
    return probe.prompt + "\n" + "\n".join(lines)


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


class RateLimiter:
    """Spaces request starts evenly so that no rolling minute exceeds `rpm` requests or
    `tpm` tokens (each request counted at `tokens_per_request`, an upper bound): smoother
    than a bucket that bursts, which keeps a provider's own limiter from answering 429."""

    def __init__(self, rpm: float | None, clock: Callable[[], float] = time.monotonic,
                 tpm: float | None = None, tokens_per_request: int = 0):
        by_requests = 60.0 / rpm if rpm else 0.0
        by_tokens = 60.0 * tokens_per_request / tpm if tpm and tokens_per_request else 0.0
        self.interval = max(by_requests, by_tokens)
        self.clock = clock
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


async def run_bounded(tasks: list[Task], worker: Callable[[Task], Awaitable[None]], *,
                      concurrency: int, rpm: float | None,
                      should_stop: Callable[[], bool] = lambda: False,
                      tpm: float | None = None, tokens_per_request: int = 0) -> None:
    """Run `worker` on every task with at most `concurrency` in flight and starts spaced by
    the limiter. `should_stop` is checked before each start (budget cap); tasks not started
    stay undone and a resume picks them up."""
    limiter = RateLimiter(rpm, tpm=tpm, tokens_per_request=tokens_per_request)
    queue: asyncio.Queue[Task] = asyncio.Queue()
    for t in tasks:
        queue.put_nowait(t)

    async def lane() -> None:
        while not queue.empty():
            if should_stop():
                return
            task = queue.get_nowait()
            await limiter.acquire()
            await worker(task)

    lanes = [asyncio.create_task(lane()) for _ in range(max(1, min(concurrency, len(tasks))))]
    try:
        await asyncio.gather(*lanes)
    finally:
        for lane_task in lanes:
            lane_task.cancel()
