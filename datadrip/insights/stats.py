"""The count tests the heuristics rest on: binomial tails and a conditional test of two Poisson rates.

Statistics in brief. Ad metrics are counts over an exposure: clicks over impressions (CTR),
conversions over clicks (CVR) or over spend (1 / CPA). If a count follows a Poisson law whose
rate per unit of exposure did not change between two windows, then given the total n of both
windows the recent count is Binomial(n, p0) with p0 = e_recent / (e_recent + e_baseline): the
exposures alone decide how the total splits (the "conditional" or "exact Poisson" test, which
needs no estimate of the unknown rate). A factor `m` scales the recent exposure when the recent
rate is expected to differ for a known reason (late conversions: m < 1).

Tails are exact sums of binomial probabilities (through math.lgamma, so large factorials never
overflow) while n is small enough to sum; beyond that a normal approximation with continuity
correction, whose error is negligible at such n. Two-sided p-values double the smaller tail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Above this many trials a tail is summed no more: the normal approximation is then accurate to a
# few parts in a thousand of the p-value, and summing 10^5 terms per test would be slow.
EXACT_MAX_TRIALS = 5_000


def normal_cdf(z: float) -> float:
    """P(Z <= z) for a standard normal Z."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _log_pmf(k: int, n: int, p: float) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * math.log(p) + (n - k) * math.log1p(-p))


def _check(k: int, n: int, p: float) -> None:
    if n < 0 or not 0.0 <= p <= 1.0:
        raise ValueError(f"binomial needs n >= 0 and 0 <= p <= 1, not n={n}, p={p}")
    if k != int(k):
        raise ValueError(f"a count must be whole, not {k}")


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    _check(k, n, p)
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p == 0.0:
        return 1.0
    if p == 1.0:
        return 0.0
    if n > EXACT_MAX_TRIALS:
        return normal_cdf((k + 0.5 - n * p) / math.sqrt(n * p * (1 - p)))
    # Sum the shorter side; the other follows by complement (each side's terms are tiny far out).
    if k <= n * p:
        return min(1.0, sum(math.exp(_log_pmf(i, n, p)) for i in range(k + 1)))
    return max(0.0, 1.0 - sum(math.exp(_log_pmf(i, n, p)) for i in range(k + 1, n + 1)))


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    _check(k, n, p)
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if n > EXACT_MAX_TRIALS and 0.0 < p < 1.0:
        return 1.0 - normal_cdf((k - 0.5 - n * p) / math.sqrt(n * p * (1 - p)))
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    if k >= n * p:
        return min(1.0, sum(math.exp(_log_pmf(i, n, p)) for i in range(k, n + 1)))
    return max(0.0, 1.0 - sum(math.exp(_log_pmf(i, n, p)) for i in range(k)))


def binomial_two_sided(k: int, n: int, p: float) -> float:
    """Twice the smaller tail at k, at most 1."""
    return min(1.0, 2.0 * min(binomial_cdf(k, n, p), binomial_sf(k, n, p)))


@dataclass(frozen=True)
class RateTest:
    """A recent count against what its baseline rate predicts for the recent exposure."""

    observed: int  # the recent count
    expected: float  # n · p0: the recent count the null hypothesis expects, given the total n
    total: int  # n: recent and baseline counts together
    p_value: float  # two-sided
    ratio: float  # the effect: the recent rate over the baseline's (times the factor); 0.6 is −40 %


def compare_rates(recent: int, baseline: int, recent_exposure: float, baseline_exposure: float,
                  factor: float = 1.0) -> RateTest:
    """The conditional test of two Poisson rates: is `recent` out of line with the baseline rate?

    `factor` scales the recent exposure (the expected recent rate relative to the baseline's)."""
    if recent < 0 or baseline < 0:
        raise ValueError("counts cannot be negative")
    if recent_exposure <= 0 or baseline_exposure <= 0 or factor <= 0:
        raise ValueError("exposures and the factor must be positive")
    weighted = recent_exposure * factor
    p0 = weighted / (weighted + baseline_exposure)
    total = recent + baseline
    ratio = (recent / weighted) / (baseline / baseline_exposure) if baseline else math.inf
    return RateTest(recent, total * p0, total, binomial_two_sided(recent, total, p0), ratio)


__all__ = ["EXACT_MAX_TRIALS", "RateTest", "binomial_cdf", "binomial_sf", "binomial_two_sided",
           "compare_rates", "normal_cdf"]
