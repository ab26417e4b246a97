"""Rates with 95% intervals (Wilson), bootstrap intervals for differences, and small
aggregation helpers. Pure Python so the numbers are the same with or without numpy."""
from __future__ import annotations

import bisect
import math
import random
from collections import Counter
from collections.abc import Iterable

DIGITS = 4  # floats in summaries are rounded so that JSON bytes are stable


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, DIGITS)


def _sig(p: float) -> float:
    """A p-value to 4 significant digits (rounding to DIGITS places would make 1e-7 zero)."""
    return float(f"{p:.4g}")


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
    """{"diff","low","high"}: rate(a) - rate(b) with a 95% percentile bootstrap interval.

    Resampling n booleans with replacement only matters through the number of successes,
    which is Binomial(n, k/n); drawing that count by inverse CDF gives the same bootstrap
    distribution as resampling the lists, in O(reps log n) and deterministic given seed.
    An empty group makes the difference unknown: diff None, interval [-1, 1]."""
    if not a or not b:
        return {"diff": None, "low": -1.0, "high": 1.0}
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
    return {"diff": _r(pa - pb), "low": _r(_percentile(diffs, 0.025)), "high": _r(_percentile(diffs, 0.975))}


def fisher_exact(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Two-sided p of Fisher's exact test for k1/n1 against k2/n2: the probability, with
    both margins fixed, of a table at most as likely as the observed one. Exact integer
    arithmetic, so it is right for the small and all-or-nothing counts of this project,
    where resampling p-values collapse to 0 (1/1 vs 0/1 gives 1.0, not 0). None when a
    group is empty."""
    if n1 <= 0 or n2 <= 0:
        return None
    total = k1 + k2

    def ways(x: int) -> int:  # tables with x successes in group 1, up to the common factor
        return math.comb(n1, x) * math.comb(n2, total - x)
    observed = ways(k1)
    extreme = sum(w for w in map(ways, range(max(0, total - n2), min(total, n1) + 1)) if w <= observed)
    return _sig(min(1.0, extreme / math.comb(n1 + n2, total)))


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm's step-down adjustment over one family of tests (None = no test, left out):
    the k-th smallest of m p-values is multiplied by m - k + 1, kept monotone, capped at 1.
    Controls the chance of any false positive in the family at the chosen level."""
    given = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for k, (p, i) in enumerate(given):
        running = max(running, min(1.0, (len(given) - k) * p))
        out[i] = _sig(running)
    return out


def counts(values: Iterable[str], order: Iterable[str] = ()) -> dict[str, int]:
    """Counts of values: the keys of `order` first (zeros included), then the rest by
    count (descending) and name, so the dict's order never depends on input order."""
    c = Counter(values)
    out = {key: c.pop(key, 0) for key in order}
    out.update(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
    return out


def weighted_kappa(pairs: Iterable[tuple[str, str]], categories: Iterable[str],
                   weights: str = "linear") -> tuple[float | None, str | None]:
    """Cohen's weighted kappa of (rater A, rater B) pairs over ordered `categories` (such as
    none < pattern < mechanism < exact), with a reason when it is undefined. A disagreement of
    d steps out of k-1 costs d/(k-1) ("linear") or its square ("quadratic"), so calling exact
    "mechanism" costs less than calling it "none". kappa = 1 - sum(w*observed)/sum(w*expected),
    computed in exact fractions and rounded to DIGITS places."""
    from fractions import Fraction
    order = {c: i for i, c in enumerate(categories)}
    if weights not in ("linear", "quadratic"):
        raise ValueError(f"weights must be 'linear' or 'quadratic', got {weights!r}")
    pairs = list(pairs)
    unknown = sorted({x for p in pairs for x in p if x not in order}, key=str)
    if unknown:
        raise ValueError(f"not among the categories {list(order)}: {unknown}")
    if not pairs:
        return None, "no pairs compared"
    k = len(order)
    if k < 2:
        return None, "fewer than two categories"

    def w(i: int, j: int) -> Fraction:
        d = Fraction(abs(i - j), k - 1)
        return d if weights == "linear" else d * d
    a, b = Counter(order[x] for x, _ in pairs), Counter(order[y] for _, y in pairs)
    n = len(pairs)
    observed = sum(w(order[x], order[y]) for x, y in pairs)
    expected = sum(w(i, j) * a[i] * b[j] for i in a for j in b) / n
    if expected == 0:
        return None, f"both raters gave every answer the same grade ({pairs[0][0]})"
    return round(float(1 - observed / expected), DIGITS), None
