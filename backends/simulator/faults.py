"""Fault injection for the simulator: what goes wrong, when, and how it is counted; and the
limits OpenAI puts on fine-tuning jobs (active jobs per model, a daily cap, job duration).

Every fault is counted, never random: the Nth request in scope gets the same treatment on
every run, so a test can say "the 3rd request is dropped" and a benchmark is repeatable.
Each field can also be set from the environment as HARNESS_SIM_<FIELD> (upper case), e.g.
HARNESS_SIM_LATENCY=0.2 HARNESS_SIM_RATE_LIMIT_RPM=600 HARNESS_SIM_FAIL_JOBS=1.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from backends.base import ConfigError

ENV_PREFIX = "HARNESS_SIM_"
SCOPES = ("all", "chat")

# One line per knob: the CLI can turn these into `harness simulate` options and help text.
FAULT_HELP: dict[str, str] = {
    "latency": "seconds added to every /v1 response that is not a fault (default 0)",
    "rate_limit_rpm": "server-side limit in requests per minute, token bucket; 429 beyond (0 = off)",
    "rate_limit_burst": "token bucket size; 0 = one second's worth of rate_limit_rpm (at least 1)",
    "burst_429": "the first K chat requests are answered 429 with Retry-After",
    "every_429": "every Nth chat request is answered 429 with Retry-After (0 = off)",
    "retry_after": "seconds sent in Retry-After (and retry-after-ms) with burst_429/every_429",
    "error_500_every": "every Nth request in scope is answered 500 (0 = off)",
    "drop_every": "every Nth request in scope has its connection closed without a response (0 = off)",
    "drop_after_every": "every Nth request in scope is carried out, then its connection closed "
    "without the response (an upload or job exists that the client never saw)",
    "slow_every": "every Nth request in scope is delayed by slow_delay more seconds (0 = off)",
    "slow_delay": "seconds added by slow_every (default 2)",
    "fail_jobs": "jobs created while set end `failed` with an error object instead of succeeding",
    "validating_polls": "jobs created while set stay `validating_files` for their first K polls",
    "scope": "which /v1 requests the every-N faults and the rate limit count: all | chat",
    "max_active_jobs": "jobs of one base model validating, queued or running at once; one more create is "
    "answered 429 as OpenAI answers it (default 3, as OpenAI; 0 = no limit)",
    "daily_job_limit": "jobs created per base model per UTC day; one more is answered 429 "
    "daily_rate_limit_exceeded (0 = no cap)",
    "job_duration": "seconds from a job's creation to its success, advancing with the wall clock "
    "(0 = one state per poll, as recordings need)",
    "insufficient_quota": "every request that spends (upload, job creation, chat) is answered 429 "
    "insufficient_quota, as OpenAI answers an account without credit",
    "invalid_api_key": "every /v1 request is answered 401 invalid_api_key, as OpenAI answers a wrong key",
    "invalid_training_file": "jobs created while set fail at validation with invalid_training_file",
    "no_retry_after": "429s carry no retry-after or rate-limit headers, only 'Please try again in 1.2s' "
    "in their message, as OpenAI's recorded 429s",
}


@dataclass(frozen=True)
class Faults:
    latency: float = 0.0
    rate_limit_rpm: float = 0.0
    rate_limit_burst: int = 0
    burst_429: int = 0
    every_429: int = 0
    retry_after: float = 1.0
    error_500_every: int = 0
    drop_every: int = 0
    drop_after_every: int = 0
    slow_every: int = 0
    slow_delay: float = 2.0
    fail_jobs: bool = False
    validating_polls: int = 0
    scope: str = "all"
    max_active_jobs: int = 3
    daily_job_limit: int = 0
    job_duration: float = 0.0
    insufficient_quota: bool = False
    invalid_api_key: bool = False
    invalid_training_file: bool = False
    no_retry_after: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if number and (not math.isfinite(value) or value < 0):
                raise ConfigError(f"fault {f.name} must be a finite number >= 0, got {value!r}")
        if self.scope not in SCOPES:
            raise ConfigError(f"fault scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Faults:
        """Faults from HARNESS_SIM_* variables; explicit overrides (e.g. CLI flags) win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw.strip() == "":
                continue
            values[f.name] = _parse(f.name, f.type, raw.strip())
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def describe(self) -> str:
        """The knobs that differ from the defaults, e.g. "latency=0.2 rate_limit_rpm=600"."""
        default = Faults()
        changed = [
            f"{f.name}={getattr(self, f.name)}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]
        return " ".join(changed) or "none"

    def describe_jobs(self) -> str:
        """How fine-tuning jobs behave, e.g. "at most 3 active per base model, one state per poll"."""
        active = f"at most {self.max_active_jobs} active" if self.max_active_jobs else "no limit on active jobs"
        daily = f", {self.daily_job_limit} a day" if self.daily_job_limit else ""
        pace = f"each takes {self.job_duration:g} s" if self.job_duration else "one state per poll"
        return f"{active}{daily} per base model, {pace}"

    def with_changes(self, **changes: Any) -> Faults:
        return replace(self, **changes)


def _parse(name: str, type_name: Any, raw: str) -> Any:
    var = ENV_PREFIX + name.upper()
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "")
    try:
        if kind == "bool":
            lowered = raw.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        return raw
    except ValueError:
        raise ConfigError(f"{var}={raw!r} is not a valid {kind}") from None


@dataclass(frozen=True)
class Verdict:
    """What the gate decided for one request: act on `action`, after sleeping `delay`."""

    action: str = "pass"  # pass | drop | drop_after | error_500 | rate_limit | burst_429
    delay: float = 0.0
    retry_after: float | None = None
    limit: float = 0.0  # requests per minute, for 429 headers
    slowed: bool = False


class FaultGate:
    """Counts requests and applies a Faults configuration to them, in arrival order."""

    def __init__(self, faults: Faults, clock: Any = time.monotonic):
        self.faults = faults
        self._clock = clock
        self.in_scope = 0  # requests counted for every-N faults and the rate limit
        self.chats = 0  # chat requests, for burst_429 / every_429
        rate = faults.rate_limit_rpm / 60.0
        self._rate = rate
        self._capacity = float(faults.rate_limit_burst or max(1.0, rate))
        self._tokens = self._capacity
        self._stamp = clock()

    def decide(self, is_chat: bool) -> Verdict:
        f = self.faults
        if f.scope == "chat" and not is_chat:
            return Verdict(delay=f.latency)
        self.in_scope += 1
        n = self.in_scope
        if is_chat:
            self.chats += 1
        if _every(f.drop_every, n):
            return Verdict(action="drop")
        if _every(f.error_500_every, n):
            return Verdict(action="error_500")
        if is_chat and (self.chats <= f.burst_429 or _every(f.every_429, self.chats)):
            return Verdict(action="burst_429", retry_after=f.retry_after)
        wait = self._take_token()
        if wait is not None:
            return Verdict(action="rate_limit", retry_after=wait, limit=f.rate_limit_rpm)
        slowed = _every(f.slow_every, n)
        action = "drop_after" if _every(f.drop_after_every, n) else "pass"
        return Verdict(action=action, delay=f.latency + (f.slow_delay if slowed else 0.0), slowed=slowed)

    def usage(self) -> tuple[float, int, float]:
        """(limit per minute, requests left, seconds until one more) of the rate limit; with
        none set, a large account's figures, as recorded (30000 a minute, reset "2ms")."""
        if self._rate <= 0:
            return 30000.0, 29999, 0.002
        tokens = min(self._capacity, self._tokens + (self._clock() - self._stamp) * self._rate)
        return self.faults.rate_limit_rpm, int(tokens), max(0.0, (1.0 - (tokens % 1.0)) / self._rate)

    def _take_token(self) -> float | None:
        """None when the request may pass; otherwise seconds until a token is free."""
        if self._rate <= 0:
            return None
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self._rate


def _every(n: int, count: int) -> bool:
    return n > 0 and count % n == 0


def go_duration(seconds: float) -> str:
    """Seconds as Go's time.Duration prints them, as OpenAI's x-ratelimit-reset-* headers and
    "Please try again in ..." do: "2ms", "17s", "6m0s", "1h2m3.5s"."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000, 3):g}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = f"{int(hours)}h" if hours else ""
    out += f"{int(minutes)}m" if hours or minutes else ""
    return out + f"{round(secs, 3):g}s"


def retry_after_headers(seconds: float) -> dict[str, str]:
    """Retry-After as OpenAI's clients read it: milliseconds first, then (float) seconds."""
    ms = max(1, math.ceil(seconds * 1000))
    return {"retry-after-ms": str(ms), "retry-after": f"{ms / 1000:g}"}
