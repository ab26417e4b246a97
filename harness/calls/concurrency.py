"""The one way this harness sends many requests at once: a bounded pool of lanes behind a
client-side rate limiter, used by probing, the LLM judge and the teacher of `harness new`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


class RateLimiter:
    """Spaces request starts evenly so that no rolling minute exceeds `rpm` requests or
    `tpm` tokens (each request counted at `tokens_per_request`, an upper bound): smoother
    than a bucket that bursts, which keeps a provider's own limiter from answering 429."""

    def __init__(
        self,
        rpm: float | None,
        clock: Callable[[], float] = time.monotonic,
        tpm: float | None = None,
        tokens_per_request: int = 0,
    ):
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


async def run_bounded(
    items: Sequence[T],
    worker: Callable[[T], Awaitable[None]],
    *,
    concurrency: int,
    rpm: float | None = None,
    tpm: float | None = None,
    tokens_per_request: int = 0,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Run `worker` on every item with at most `concurrency` in flight, starts spaced by the
    limiter. `should_stop` is checked before each start (a budget cap): items not started stay
    undone for a resume. If a worker raises, the others are cancelled (and awaited, so none
    is left running) and the error propagates."""
    limiter = RateLimiter(rpm, tpm=tpm, tokens_per_request=tokens_per_request)
    queue = list(reversed(items))  # pop() from the end takes them in the given order

    async def lane() -> None:
        while queue and not should_stop():
            item = queue.pop()
            await limiter.acquire()
            await worker(item)

    lanes = [asyncio.create_task(lane()) for _ in range(max(1, min(concurrency, len(items))))]
    try:
        await asyncio.gather(*lanes)
    except BaseException:
        for task in lanes:
            task.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        raise
