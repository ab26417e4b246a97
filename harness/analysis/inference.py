"""Inference about fine-tuning rather than about one checkpoint.

A rate is observed as k of n samples in each of one or more clusters: the fine-tuned
replicates of a condition (or a single cluster, such as the base model). Samples of one
fine-tune are not independent evidence about fine-tuning, so:

- a pooled rate's interval uses the effective sample size n / deff, with the design effect
  deff = 1 + (m - 1) * icc estimated from the clusters (the ANOVA estimator of the
  intra-class correlation, clipped to [0, 1]); with one cluster deff = 1 and the interval is
  about that one checkpoint;
- a difference of two rates gets Newcombe's interval with continuity-corrected Wilson limits
  (method 11 of Newcombe 1998, a MOVER combination), on effective sizes; its exact coverage
  is at least 95% for n = 10..100 over the grid tested in tests/analysis/test_inference.py;
- the p-value of a difference is the one that interval implies: 2 * (1 - Phi(z*)), where z*
  is the z at which the interval first touches 0. So an interval that excludes 0 and
  p < 0.05 always agree; Holm's correction is applied over the p-values of a table;
- a difference-in-differences combines two differences by MOVER the same way.

Pure Python (math only), deterministic.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054
Groups = Sequence[tuple[int, int]]  # (k, n) per cluster


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def wilson_cc(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The continuity-corrected Wilson score interval of a proportion p observed on n
    (possibly effective, non-integer) samples. n = 0: nothing is known, [0, 1]."""
    if n <= 0:
        return 0.0, 1.0
    q, z2 = 1.0 - p, z * z
    lo_root = z2 - 2 - 1 / n + 4 * p * (n * q + 1)
    hi_root = z2 + 2 - 1 / n + 4 * p * (n * q - 1)
    low = 0.0 if p <= 0 else (2 * n * p + z2 - 1 - z * math.sqrt(max(lo_root, 0.0))) / (2 * (n + z2))
    high = 1.0 if p >= 1 else (2 * n * p + z2 + 1 + z * math.sqrt(max(hi_root, 0.0))) / (2 * (n + z2))
    return max(0.0, low), min(1.0, high)


@dataclass(frozen=True)
class Clustered:
    """A rate pooled over clusters: k of n in all, the intra-class correlation, the design
    effect and the effective sample size the intervals use."""

    k: int
    n: int
    clusters: int
    icc: float | None  # None: not estimable (one cluster, or no variation to speak of)
    deff: float
    df: float | None = None  # t's degrees of freedom for the spread between clusters (None: z)

    @property
    def rate(self) -> float | None:
        return self.k / self.n if self.n else None

    @property
    def n_eff(self) -> float:
        """n / deff, shrunk by (z / t_df)^2 when the clusters are few (Korn and Graubard 1998):
        the interval then has the width a t interval with df degrees of freedom would have."""
        if not self.n:
            return 0.0
        shrink = (Z95 / t_quantile(0.975, self.df)) ** 2 if self.df else 1.0
        return self.n / self.deff * shrink

    def interval(self, z: float = Z95) -> tuple[float, float]:
        return wilson_cc(self.rate or 0.0, self.n_eff, z) if self.n else (0.0, 1.0)


def icc_anova(groups: Groups) -> float | None:
    """The ANOVA estimator of the intra-class correlation of binary outcomes (clipped to
    [0, 1]); None with fewer than two non-empty clusters or no within-cluster variance."""
    groups = [(k, n) for k, n in groups if n > 0]
    big_k, total = len(groups), sum(n for _, n in groups)
    if big_k < 2 or total <= big_k:
        return None
    p = sum(k for k, _ in groups) / total
    msb = sum(n * (k / n - p) ** 2 for k, n in groups) / (big_k - 1)
    msw = sum(k - k * k / n for k, n in groups) / (total - big_k)
    m0 = (total - sum(n * n for _, n in groups) / total) / (big_k - 1)
    denominator = msb + (m0 - 1) * msw
    if denominator <= 0:
        return 0.0 if msb == 0 else None
    return min(1.0, max(0.0, (msb - msw) / denominator))


def clustered(groups: Groups, df: float | None = None) -> Clustered:
    """Clusters pooled; df: the degrees of freedom of the small-sample correction (clusters - 1
    when the clusters are a sample of fine-tunes; None for none)."""
    groups = [(k, n) for k, n in groups if n > 0]
    k, n = sum(g[0] for g in groups), sum(g[1] for g in groups)
    icc = icc_anova(groups) if len(groups) > 1 else None
    mean_size = n / len(groups) if groups else 0.0
    deff = 1.0 + max(mean_size - 1.0, 0.0) * (icc or 0.0)
    return Clustered(k, n, len(groups), icc, deff, df if df and len(groups) > 1 else None)


@dataclass(frozen=True)
class Difference:
    diff: float | None
    low: float
    high: float
    p: float | None  # the p-value the interval implies (None: no data on a side)


def _mover(a: Clustered, b: Clustered, z: float) -> tuple[float, float]:
    pa, pb = a.rate or 0.0, b.rate or 0.0
    la, ua = a.interval(z)
    lb, ub = b.interval(z)
    d = pa - pb
    return d - math.hypot(pa - la, ub - pb), d + math.hypot(ua - pa, pb - lb)


def _implied_p(bounds: Callable[[float], tuple[float, float]], estimate: float) -> float:
    """2 * (1 - Phi(z*)) with z* the z at which the interval [low(z), high(z)] first touches
    0; bisection on the monotone bound on the side of 0 (intervals widen as z grows)."""
    low, high = bounds(1e-6)
    if low <= 0 <= high:
        return 1.0
    side = 0 if estimate > 0 else 1  # the bound that moves towards 0
    lo_z, hi_z = 1e-6, 40.0
    if (bounds(hi_z)[side] > 0) == (estimate > 0):
        return 0.0  # no z reaches zero: far beyond any level we report
    for _ in range(80):
        mid = (lo_z + hi_z) / 2
        if (bounds(mid)[side] > 0) == (estimate > 0):
            lo_z = mid
        else:
            hi_z = mid
    return float(f"{min(1.0, 2 * (1 - _phi(lo_z))):.4g}")


def difference(a: Clustered, b: Clustered, z: float = Z95, with_p: bool = True) -> Difference:
    """a - b with Newcombe's (continuity-corrected, clustered) interval and its implied p
    (left out, None, with with_p=False: the interval alone is cheaper)."""
    if not a.n or not b.n:
        return Difference(None, -1.0, 1.0, None)
    d = (a.rate or 0.0) - (b.rate or 0.0)
    low, high = _mover(a, b, z)
    p = _implied_p(lambda zz: _mover(a, b, zz), d) if with_p else None
    return Difference(d, max(-1.0, low), min(1.0, high), p)


def diff_in_diff(a1: Clustered, b1: Clustered, a2: Clustered, b2: Clustered, z: float = Z95) -> Difference:
    """(a1 - b1) - (a2 - b2): e.g. fine-tuned minus base for HELLO, minus the same for HELOL."""
    if not all(x.n for x in (a1, b1, a2, b2)):
        return Difference(None, -2.0, 2.0, None)
    d1, d2 = (a1.rate or 0.0) - (b1.rate or 0.0), (a2.rate or 0.0) - (b2.rate or 0.0)

    def bounds(zz: float) -> tuple[float, float]:
        l1, u1 = _mover(a1, b1, zz)
        l2, u2 = _mover(a2, b2, zz)
        d = d1 - d2
        return d - math.hypot(d1 - l1, u2 - d2), d + math.hypot(u1 - d1, d2 - l2)

    low, high = bounds(z)
    return Difference(d1 - d2, max(-2.0, low), min(2.0, high), _implied_p(bounds, d1 - d2))


# --- Student's t ----------------------------------------------------------------------------


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) (Lentz's continued fraction)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _betainc(b, a, 1 - x)
    tiny = 1e-300
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-14:
            break
    return front * h / a


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t > 0 else tail


@functools.lru_cache(maxsize=256)
def t_quantile(q: float, df: float) -> float:
    """The q-quantile (q > 0.5) of Student's t with df degrees of freedom (bisection)."""
    lo, hi = 0.0, 1e4
    for _ in range(100):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


# --- power --------------------------------------------------------------------------------


def _binomial_pmf(n: int, p: float) -> list[float]:
    if p <= 0:
        return [1.0] + [0.0] * n
    if p >= 1:
        return [0.0] * n + [1.0]
    lp, lq = math.log(p), math.log1p(-p)
    return [
        math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * lp + (n - k) * lq)
        for k in range(n + 1)
    ]


@functools.lru_cache(maxsize=64)
def _thresholds(
    n_a: int, n_b: int, deff_a: float, deff_b: float, z: float, df_a: float | None = None
) -> tuple[tuple[int, int], ...]:
    """For each k_a: (the largest k_b at which a > b is significant, the smallest k_b at which
    a < b is), or -1 / n_b + 1 when there is none. Both move monotonically with k_b. Kept per
    design: a run asks for the same power figure from its plan, its summary and each control,
    and this is its costly part (it grows with the samples)."""
    out = []
    for ka in range(n_a + 1):
        a = Clustered(ka, n_a, 2, None, deff_a, df_a)

        def low_high(kb: int, a: Clustered = a) -> tuple[float, float]:
            return _mover(a, Clustered(kb, n_b, 1, None, deff_b), z)

        below = -1  # low(kb) > 0 holds for kb = 0..below
        lo, hi = 0, n_b
        while lo <= hi:
            mid = (lo + hi) // 2
            if low_high(mid)[0] > 0:
                below, lo = mid, mid + 1
            else:
                hi = mid - 1
        above = n_b + 1  # high(kb) < 0 holds for kb = above..n_b
        lo, hi = 0, n_b
        while lo <= hi:
            mid = (lo + hi) // 2
            if low_high(mid)[1] < 0:
                above, hi = mid, mid - 1
            else:
                lo = mid + 1
        out.append((below, above))
    return tuple(out)


def power(
    n_a: int,
    n_b: int,
    p_a: float,
    p_b: float,
    deff_a: float = 1.0,
    deff_b: float = 1.0,
    z: float = Z95,
    thresholds: Sequence[tuple[int, int]] | None = None,
    df_a: float | None = None,
) -> float:
    """The chance that the a-vs-b difference interval excludes 0 when the true rates are p_a
    and p_b, with n samples per side and design effects that shrink them as clustering
    would (exact, by enumeration of both binomials); df_a: a's small-sample correction."""
    thresholds = thresholds or _thresholds(n_a, n_b, deff_a, deff_b, z, df_a)
    pa, pb = _binomial_pmf(n_a, p_a), _binomial_pmf(n_b, p_b)
    cdf_b, total = [], 0.0
    for x in pb:
        total += x
        cdf_b.append(total)
    result = 0.0
    for ka, (below, above) in enumerate(thresholds):
        hit = (cdf_b[below] if below >= 0 else 0.0) + (1.0 - cdf_b[above - 1] if above <= n_b else 0.0)
        result += pa[ka] * hit
    return min(1.0, result)


def min_detectable_difference(
    n_a: int,
    n_b: int,
    baseline: float,
    deff_a: float = 1.0,
    deff_b: float = 1.0,
    target: float = 0.8,
    step: float = 0.01,
    df_a: float | None = None,
) -> float | None:
    """The smallest rise above `baseline` (in steps of `step`) that a run with these sample
    sizes detects with probability `target` at the 5% level (two-sided); None if none does."""
    thresholds = _thresholds(n_a, n_b, deff_a, deff_b, Z95, df_a)
    steps = round((1.0 - baseline) / step)
    for i in range(1, steps + 1):
        rate = min(1.0, baseline + i * step)
        if power(n_a, n_b, rate, baseline, thresholds=thresholds) >= target:
            return round(rate - baseline, 4)
    return None
