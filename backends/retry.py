"""One retry policy for every HTTP backend: bounded, counted and replayable.

Exponential backoff with full jitter drawn from a seeded generator, Retry-After honoured
(capped), the sleep injected (0 in replay), and each retry told to the run's UI. A
backend supplies `classify`, which turns a provider's exception into ours (a
BackendError that says whether it is retryable, or anything else, raised at once), and
optionally `recover`, which looks for the result of a call that may have landed although
its answer was lost (an upload, a created job) before it is sent again.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from backends.base import BackendError

BACKOFF_BASE = 1.0  # seconds before the first retry (upper bound of its jitter)
BACKOFF_CAP = 60.0  # no computed wait exceeds this
RETRY_AFTER_CAP = 600.0  # a server asking for more than 10 minutes is not waited for blindly

T = TypeVar("T")
Classify = Callable[[str, BaseException], Exception]


def backoff_delay(attempt: int, retry_after: float | None, token: str, seed: int = 0) -> float:
    """Seconds to wait before retry number `attempt` (0-based) of the call named `token`.

    Retry-After wins when the server sent it. Otherwise full jitter: uniform in
    [0, min(cap, base * 2**attempt)], drawn from a generator seeded by (seed, token,
    attempt) so the delay does not depend on which concurrent call failed first.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), RETRY_AFTER_CAP)
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)
    return random.Random(f"{seed}:{token}:{attempt}").uniform(0.0, ceiling)


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date), else None."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return float(ms) / 1000.0
        value = headers.get("retry-after")
    except (AttributeError, TypeError, ValueError):
        return None
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


# One part of a Go duration ("1h2m3.5s" has three); "ms" and "us" are tried before "m" and "s".
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str | None) -> float | None:
    """Seconds from a Go duration as OpenAI writes them in x-ratelimit-reset-* headers and in
    "Please try again in ..." ("2ms", "6m0s", "1h2m3.5s"); a bare number is taken as seconds
    ("0" is Go's own zero). None for anything else (a negative or malformed value)."""
    if text is None:
        return None
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None
    total, at = 0.0, 0
    for part in _GO_PART.finditer(text):
        if part.start() != at:
            return None
        total += float(part.group(1)) * _GO_UNITS[part.group(2)]
        at = part.end()
    return total if at and at == len(text) else None


class RetryPolicy:
    """Runs a call until it succeeds, fails for good, or `max_retries` retries are spent.
    `notify` is asked for at each retry (it may change: the run's UI is attached later)."""

    def __init__(
        self,
        *,
        max_retries: int = 6,
        seed: int = 0,
        sleep: Callable[[float], Any] = time.sleep,
        async_sleep: Callable[[float], Awaitable[Any]] | None = None,
        notify: Callable[[], Callable[[str], None] | None] = lambda: None,
    ):
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        self.max_retries = max_retries
        self.seed = seed
        self.sleep = sleep
        self.async_sleep = async_sleep
        self.notify = notify
        self.retries = 0  # retries performed so far (all calls), for reports and tests

    def _wait(self, err: Exception, attempt: int, token: str) -> float | None:
        """The seconds to wait before trying again, or None when the call must not be
        retried (not retryable, or out of retries). Counts and announces the retry."""
        if not isinstance(err, BackendError) or not err.retryable or attempt >= self.max_retries:
            return None
        self.retries += 1
        delay = backoff_delay(attempt, err.retry_after, token, self.seed)
        listener = self.notify()
        if listener is not None:
            listener(f"{err} (retry {attempt + 1} of {self.max_retries} in {delay:.1f} s)")
        return delay

    def call(
        self,
        op: str,
        token: str,
        fn: Callable[[], T],
        classify: Classify,
        recover: Callable[[BackendError], T | None] | None = None,
    ) -> T:
        """`fn()` with retries; `token` names the call (for its jitter); `recover(err)` may
        return the result of an attempt that landed, instead of sending it again."""
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except Exception as exc:  # every provider failure is classified, none swallowed
                err = classify(op, exc)
            if recover is not None and isinstance(err, BackendError) and err.retryable and attempt < self.max_retries:
                found = recover(err)
                if found is not None:
                    return found
            delay = self._wait(err, attempt, f"{op}:{token}")
            if delay is None:
                raise err
            self.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    async def acall(self, op: str, token: str, fn: Callable[[], Awaitable[T]], classify: Classify) -> T:
        """The async form of `call` (CancelledError, a BaseException, passes through)."""
        for attempt in range(self.max_retries + 1):
            try:
                return await fn()
            except Exception as exc:
                err = classify(op, exc)
            delay = self._wait(err, attempt, f"{op}:{token}")
            if delay is None:
                raise err
            await self._async_sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    async def _async_sleep(self, seconds: float) -> None:
        if self.async_sleep is not None:
            await self.async_sleep(seconds)
        elif self.sleep is time.sleep:
            import asyncio  # here: importing this module stays instant

            await asyncio.sleep(seconds)
        else:  # a sleep injected for replay or tests governs async waits too
            self.sleep(seconds)
