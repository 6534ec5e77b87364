"""The count tests the heuristics rest on: binomial tails and a conditional test of two Poisson rates.

Statistics in brief. Ad metrics are counts over an exposure: clicks over impressions (CTR),
conversions over clicks (CVR) or over spend (1 / CPA). If a count follows a Poisson law whose
rate per unit of exposure did not change between two windows, then given the total n of both
windows the recent count is Binomial(n, p0) with p0 = e_recent / (e_recent + e_baseline): the
exposures alone decide how the total splits (the "conditional" or "exact Poisson" test, which
needs no estimate of the unknown rate). A factor `m` scales the recent exposure when the recent
rate is expected to differ for a known reason (late conversions: m < 1).

Tails are exact sums of binomial probabilities wherever a normal law would misplace them: the
sum starts at the tail's first term (its logarithm through math.lgamma, or a short sum of logs when
few trials are chosen, so large factorials never overflow nor lose digits) and walks outward by the
ratio of neighbouring terms, in units of that first term, until the rest cannot change the total.
The smaller tail is summed; the larger is its complement. A tail needs about nine standard
deviations of terms, so beyond EXACT_MAX_VARIANCE a normal approximation with continuity
correction takes over: there the law's skewness is below 1 % and the approximation's p-value is
within a few percent of the exact one even at p = 0.001. (The textbook rule of thumb, n·p·(1−p) ≥ 10,
is far too lenient for tail p-values: at n·p·(1−p) = 10.5 the approximation overstates a p-value
of 0.004 3.7 times.) Two-sided p-values double the smaller tail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Below this variance n·p·(1−p) a tail is summed exactly (at most ~900 terms, well under a
# millisecond); at and above it the normal approximation is accurate to a few percent in the tail.
EXACT_MAX_VARIANCE = 10_000.0
# A tail's sum stops when what is left is below this share of it.
_TAIL_EPSILON = 1e-17
# Up to this many chosen trials, log C(n, k) is a sum of logs: exact to the last digits even for
# n in the millions, where lgamma's large values would cancel away a few digits.
_LOG_SUM_MAX = 64


def normal_cdf(z: float) -> float:
    """P(Z <= z) for a standard normal Z."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _log_choose(n: int, k: int) -> float:
    m = min(k, n - k)
    if m <= _LOG_SUM_MAX:
        return sum(math.log((n - j) / (j + 1)) for j in range(m))
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _log_pmf(k: int, n: int, p: float) -> float:
    return _log_choose(n, k) + k * math.log(p) + (n - k) * math.log1p(-p)


def _lower_tail(k: int, n: int, p: float) -> float:
    """P(X <= k) for 0 <= k <= n·p, 0 < p < 1: summed downward from k, where terms only shrink."""
    odds = (1.0 - p) / p  # term(i - 1) / term(i) = i / (n - i + 1) · (1 - p) / p
    total = term = 1.0
    i = k
    while i > 0:
        ratio = i / (n - i + 1) * odds
        term *= ratio
        total += term
        i -= 1
        # Ratios fall as i falls, so the rest is below a geometric series of this ratio.
        if ratio < 1.0 and term * ratio / (1.0 - ratio) <= _TAIL_EPSILON * total:
            break
    return min(1.0, math.exp(_log_pmf(k, n, p) + math.log(total)))


def _upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for n·p <= k <= n, 0 < p < 1: summed upward from k, where terms only shrink."""
    odds = p / (1.0 - p)  # term(i + 1) / term(i) = (n - i) / (i + 1) · p / (1 - p)
    total = term = 1.0
    i = k
    while i < n:
        ratio = (n - i) / (i + 1) * odds
        term *= ratio
        total += term
        i += 1
        if ratio < 1.0 and term * ratio / (1.0 - ratio) <= _TAIL_EPSILON * total:
            break
    return min(1.0, math.exp(_log_pmf(k, n, p) + math.log(total)))


def _exact(n: int, p: float) -> bool:
    return n * p * (1.0 - p) < EXACT_MAX_VARIANCE


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
    if not _exact(n, p):
        return normal_cdf((k + 0.5 - n * p) / math.sqrt(n * p * (1 - p)))
    if k <= n * p:
        return _lower_tail(k, n, p)
    return max(0.0, 1.0 - _upper_tail(k + 1, n, p))


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    _check(k, n, p)
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    if not _exact(n, p):
        return 1.0 - normal_cdf((k - 0.5 - n * p) / math.sqrt(n * p * (1 - p)))
    if k >= n * p:
        return _upper_tail(k, n, p)
    return max(0.0, 1.0 - _lower_tail(k - 1, n, p))


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


__all__ = ["EXACT_MAX_VARIANCE", "RateTest", "binomial_cdf", "binomial_sf", "binomial_two_sided",
           "compare_rates", "normal_cdf"]
