"""How much fine-tunes of the same data differ: the standard deviation of their true rates,
with a 95% profile-likelihood interval from a beta-binomial model.

Each fine-tune's true rate p_i is drawn from a beta distribution with mean mu and standard
deviation sigma; its answers are k_i of n_i. The likelihood of sigma (mu profiled out) gives
the estimate (its maximum) and the interval (every sigma whose log-likelihood is within
chi2_1(0.95) / 2 of the maximum). Unlike an interval from the observed variance of the rates,
it is never zero-width: three fine-tunes that all scored 2/50 are also what a population of
fine-tunes that differs somewhat would often give, and the interval says how much.
Pure Python (math only), deterministic."""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_CLUSTERS_FOR_SPREAD = 3
CHI2_1_95 = 3.841458820694124
_GOLD = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class Spread:
    sd: float
    low: float
    high: float
    clusters: int


def _loglik(groups: list[tuple[int, int]], mu: float, sigma: float) -> float:
    """Beta-binomial log-likelihood (without the binomial coefficients, which do not depend on
    the parameters); sigma = 0 is the binomial with rate mu."""
    if sigma <= 0:
        if mu <= 0 or mu >= 1:
            hit = mu >= 1
            return 0.0 if all((k == n) if hit else (k == 0) for k, n in groups) else -math.inf
        return sum(k * math.log(mu) + (n - k) * math.log1p(-mu) for k, n in groups)
    rho = min(sigma * sigma / (mu * (1 - mu)), 1 - 1e-9)
    scale = 1 / rho - 1  # alpha + beta
    if scale > 1e5:  # lgamma of huge arguments loses the small differences: the exact sums
        hits = _prefix_sums(math.log, mu, scale, [k for k, _ in groups])
        misses = _prefix_sums(math.log, 1 - mu, scale, [n - k for k, n in groups])
        totals = _prefix_sums(math.log1p, 0.0, scale, [n for _, n in groups])
        return sum(hits[k] + misses[n - k] - totals[n] for k, n in groups)
    a, b = mu * scale, (1 - mu) * scale
    base = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    return sum(base + math.lgamma(k + a) + math.lgamma(n - k + b) - math.lgamma(n + a + b) for k, n in groups)


def _prefix_sums(log, offset: float, scale: float, lengths: list[int]) -> dict[int, float]:
    """{m: log(offset + 0 / scale) + ... + log(offset + (m - 1) / scale)} for each m in lengths,
    added in that order once for all of them (each is bit for bit the sum taken alone: the same
    additions in the same order). This is where a spread's time goes: it grows with samples."""
    out: dict[int, float] = {}
    total, j = 0.0, 0
    for m in sorted(set(lengths)):
        while j < m:
            total += log(offset + j / scale)
            j += 1
        out[m] = total
    return out


def _maximise(f, lo: float, hi: float, steps: int = 30) -> tuple[float, float]:
    """Golden-section search for the maximum of a unimodal f on [lo, hi]: (argmax, max)."""
    a, b = lo, hi
    c, d = b - _GOLD * (b - a), a + _GOLD * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(steps):
        if fc >= fd:
            b, d, fd = d, c, fc
            c = b - _GOLD * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLD * (b - a)
            fd = f(d)
    best = max([(fc, c), (fd, d), (f(lo), lo), (f(hi), hi)])
    return best[1], best[0]


def _profile(groups: list[tuple[int, int]], sigma: float) -> float:
    """The log-likelihood of sigma with mu at its best (mu * (1 - mu) must exceed sigma^2)."""
    if sigma <= 0:
        p = sum(k for k, _ in groups) / sum(n for _, n in groups)
        return _loglik(groups, p, 0.0)
    edge = (1 - math.sqrt(max(0.0, 1 - 4 * sigma * sigma))) / 2
    lo, hi = edge + 1e-9, 1 - edge - 1e-9
    if lo >= hi:
        return _loglik(groups, 0.5, sigma)
    return _maximise(lambda mu: _loglik(groups, mu, sigma), lo, hi)[1]


def spread(groups: list[tuple[int, int]]) -> Spread | None:
    """The spread of the clusters' true rates; None with fewer than MIN_CLUSTERS_FOR_SPREAD."""
    groups = [(k, n) for k, n in groups if n > 0]
    if len(groups) < MIN_CLUSTERS_FOR_SPREAD:
        return None
    top = 0.5 - 1e-6
    sd, best = _maximise(lambda s: _profile(groups, s), 0.0, top)
    at_zero = _profile(groups, 0.0)
    if at_zero >= best:
        sd, best = 0.0, at_zero
    cut = best - CHI2_1_95 / 2

    def inside(s: float) -> bool:
        return _profile(groups, s) >= cut

    def edge(outside: float, within: float) -> float:
        for _ in range(20):
            mid = (outside + within) / 2
            if inside(mid):
                within = mid
            else:
                outside = mid
        return within

    low = 0.0 if inside(0.0) else edge(0.0, sd)
    high = top if inside(top) else edge(top, sd)
    return Spread(sd, low, min(0.5, high), len(groups))
