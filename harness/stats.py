"""Rates with 95% intervals (Wilson), bootstrap intervals for differences, and small
aggregation helpers. Pure Python so the numbers are the same with or without numpy."""
from __future__ import annotations

import bisect
import math
import random
from collections import Counter
from typing import Iterable

DIGITS = 4  # floats in summaries are rounded so that JSON bytes are stable


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, DIGITS)


def wilson(k: int, n: int, z: float = 1.96) -> dict:
    """RATE {"k","n","rate","low","high"}: the Wilson score interval of k successes in n.
    With n = 0 nothing is known: rate None, interval [0, 1]."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k} n={n}")
    if n == 0:
        return {"k": 0, "n": 0, "rate": None, "low": 0.0, "high": 1.0}
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp float noise at the edges (k = 0 must give exactly 0, k = n exactly 1).
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return {"k": k, "n": n, "rate": _r(p), "low": _r(low), "high": _r(high)}


def rate(flags: Iterable[bool]) -> dict:
    """The Wilson RATE of a list of booleans."""
    flags = list(flags)
    return wilson(sum(1 for f in flags if f), len(flags))


def pool(rates: Iterable[dict]) -> dict:
    """One RATE from several (sum of k and of n): e.g. all follow probes of a condition."""
    k = n = 0
    for r in rates:
        k, n = k + r["k"], n + r["n"]
    return wilson(k, n)


def _binomial_cdf(n: int, p: float) -> list[float]:
    """CDF of Binomial(n, p) at 0..n, in log space so large n does not overflow."""
    if p <= 0:
        return [1.0] * (n + 1)
    if p >= 1:
        return [0.0] * n + [1.0]
    lp, lq = math.log(p), math.log1p(-p)
    cdf, total = [], 0.0
    for k in range(n + 1):
        total += math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                          + k * lp + (n - k) * lq)
        cdf.append(total)
    cdf[-1] = max(cdf[-1], 1.0)
    return cdf


def _percentile(sorted_xs: list[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default method)."""
    pos = q * (len(sorted_xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def bootstrap_diff(a: list[bool], b: list[bool], seed: int = 0, reps: int = 2000) -> dict:
    """{"diff","low","high","p"}: rate(a) - rate(b) with a 95% percentile bootstrap
    interval and a two-sided bootstrap p-value (twice the share of resampled differences on
    the far side of 0, at most 1; it is below 0.05 about when the interval excludes 0).

    Resampling n booleans with replacement only matters through the number of successes,
    which is Binomial(n, k/n); drawing that count by inverse CDF gives the same bootstrap
    distribution as resampling the lists, in O(reps log n) and deterministic given seed.
    An empty group makes the difference unknown: diff None, interval [-1, 1], p None."""
    if not a or not b:
        return {"diff": None, "low": -1.0, "high": 1.0, "p": None}
    na, nb = len(a), len(b)
    pa, pb = sum(map(bool, a)) / na, sum(map(bool, b)) / nb
    cdf_a, cdf_b = _binomial_cdf(na, pa), _binomial_cdf(nb, pb)
    rng = random.Random(seed)
    diffs = []
    for _ in range(reps):
        ka = min(bisect.bisect_left(cdf_a, rng.random()), na)
        kb = min(bisect.bisect_left(cdf_b, rng.random()), nb)
        diffs.append(ka / na - kb / nb)
    diffs.sort()
    at_or_below = bisect.bisect_right(diffs, 0.0)
    at_or_above = reps - bisect.bisect_left(diffs, 0.0)
    p = min(1.0, 2 * min(at_or_below, at_or_above) / reps)
    return {"diff": _r(pa - pb), "low": _r(_percentile(diffs, 0.025)), "high": _r(_percentile(diffs, 0.975)),
            "p": _r(p)}


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm's step-down adjustment over one family of tests (None = no test, left out):
    the k-th smallest of m p-values is multiplied by m - k + 1, kept monotone, capped at 1.
    Controls the chance of any false positive in the family at the chosen level."""
    given = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for k, (p, i) in enumerate(given):
        running = max(running, min(1.0, (len(given) - k) * p))
        out[i] = _r(running)
    return out


def counts(values: Iterable[str], order: Iterable[str] = ()) -> dict[str, int]:
    """Counts of values: the keys of `order` first (zeros included), then the rest by
    count (descending) and name, so the dict's order never depends on input order."""
    c = Counter(values)
    out = {key: c.pop(key, 0) for key in order}
    out.update(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
    return out
