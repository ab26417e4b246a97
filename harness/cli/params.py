"""Option types that refuse what would break a run later: a float must be a finite number
(NaN would make every budget comparison false, inf would overflow a sleep), and every
count has a ceiling (a billion samples would hang building tasks). Values out of range are
click usage errors: one line, exit 2."""

from __future__ import annotations

import math

import click

from harness import limits


class FiniteFloat(click.ParamType):
    """A finite float in [low, high] (`open_low`: strictly above low)."""

    name = "number"

    def __init__(self, low: float | None = None, high: float | None = None, open_low: bool = False):
        self.low, self.high, self.open_low = low, high, open_low

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, float) and math.isfinite(value):
            number = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                self.fail(f"{limits.clip(value)} is not a number", param, ctx)
            if not math.isfinite(number):
                self.fail(f"must be a finite number, got {limits.clip(value)}", param, ctx)
        below = self.low is not None and (number <= self.low if self.open_low else number < self.low)
        if below or (self.high is not None and number > self.high):
            self.fail(f"{number:g} is not in the range {self._range()}", param, ctx)
        return number

    def _range(self) -> str:
        low = "" if self.low is None else f"{self.low:g} {'<' if self.open_low else '<='} "
        high = "" if self.high is None else f" <= {self.high:g}"
        return f"{low}x{high}"

    def __repr__(self) -> str:
        return f"FiniteFloat({self._range()})"


def count(low: int, high: int) -> click.IntRange:
    """An integer option with both bounds (click's own message names the range)."""
    return click.IntRange(low, high)


SEED = count(0, limits.MAX_SEED)
SAMPLES = count(1, limits.MAX_SAMPLES)
REPLICATES = count(1, limits.MAX_REPLICATES)
CONCURRENCY = count(1, limits.MAX_CONCURRENCY)
PORT = count(0, 65535)
TEMPERATURE = FiniteFloat(0, 2)
USD = FiniteFloat(0, 1_000_000)
POLL_INTERVAL = FiniteFloat(0, limits.MAX_POLL_INTERVAL)
