"""Rates with 95% intervals (continuity-corrected Wilson; on effective sizes when pooled over fine-tunes), Holm's
correction and small aggregation helpers. Differences, power and the spread between
fine-tunes are in harness.analysis.inference. Pure Python, deterministic."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

DIGITS = 4  # floats in summaries are rounded so that JSON bytes are stable


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, DIGITS)


def _sig(p: float) -> float:
    """A p-value to 4 significant digits (rounding to DIGITS places would make 1e-7 zero)."""
    return float(f"{p:.4g}")


def wilson_bounds(p: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion p seen on n samples (n may be an
    effective, non-integer size)."""
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp float noise at the edges (p = 0 must give exactly 0, p = 1 exactly 1).
    return (0.0 if p <= 0 else max(0.0, centre - half)), (1.0 if p >= 1 else min(1.0, centre + half))


def wilson(k: int, n: int, n_eff: float | None = None) -> dict:
    """RATE {"k","n","rate","low","high"}: k successes in n with the continuity-corrected
    Wilson score interval (on n_eff answers when clustering makes them worth fewer). It is the
    interval the differences are built from (harness.analysis.inference), so a rate and its
    difference from a 0/n control share a limit. With n = 0 nothing is known: rate None,
    interval [0, 1]."""
    from harness.analysis.inference import wilson_cc

    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k} n={n}")
    if n == 0:
        return {"k": 0, "n": 0, "rate": None, "low": 0.0, "high": 1.0}
    low, high = wilson_cc(k / n, n if n_eff is None else n_eff)
    return {"k": k, "n": n, "rate": _r(k / n), "low": _r(low), "high": _r(high)}


def clustered_rate(groups: Iterable[tuple[int, int]]) -> dict:
    """RATE of k of n pooled over clusters (the fine-tunes of a condition): with one cluster
    the Wilson interval; with several, Wilson on the effective sample size n / deff, the
    design effect estimated from how much the clusters differ (harness.analysis.inference)."""
    from harness.analysis.inference import clustered

    c = clustered(list(groups))
    return wilson(c.k, c.n, c.n_eff if c.clusters > 1 else None)


def rate(flags: Iterable[bool]) -> dict:
    """The RATE of a list of booleans (continuity-corrected Wilson)."""
    flags = list(flags)
    return wilson(sum(1 for f in flags if f), len(flags))


def pool(rates: Iterable[dict]) -> dict:
    """One RATE from several (sum of k and of n): e.g. all follow probes of a condition."""
    k = n = 0
    for r in rates:
        k, n = k + r["k"], n + r["n"]
    return wilson(k, n)


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


def weighted_kappa(
    pairs: Iterable[tuple[str, str]], categories: Iterable[str], weights: str = "linear"
) -> tuple[float | None, str | None]:
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
