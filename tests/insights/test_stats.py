"""The count tests on values known by hand."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest

from datadrip.insights.stats import (
    EXACT_MAX_VARIANCE,
    binomial_cdf,
    binomial_sf,
    binomial_two_sided,
    compare_rates,
    normal_cdf,
)


def test_binomial_cdf_of_a_fair_coin_matches_counting_by_hand() -> None:
    # 10 tosses: P(X <= 2) = (1 + 10 + 45) / 1024
    assert binomial_cdf(2, 10, 0.5) == pytest.approx(56 / 1024, rel=1e-12)
    assert binomial_cdf(10, 10, 0.5) == 1.0
    assert binomial_cdf(-1, 10, 0.5) == 0.0


def test_binomial_sf_of_a_fair_coin_matches_counting_by_hand() -> None:
    # P(X >= 8) = (45 + 10 + 1) / 1024
    assert binomial_sf(8, 10, 0.5) == pytest.approx(56 / 1024, rel=1e-12)
    assert binomial_sf(0, 10, 0.5) == 1.0
    assert binomial_sf(11, 10, 0.5) == 0.0


def test_binomial_tails_of_an_unfair_coin_match_the_formula() -> None:
    # P(X <= 1) for n = 5, p = 0.2: 0.8^5 + 5 · 0.2 · 0.8^4
    assert binomial_cdf(1, 5, 0.2) == pytest.approx(0.8**5 + 5 * 0.2 * 0.8**4, rel=1e-12)
    assert binomial_sf(2, 5, 0.2) == pytest.approx(1 - (0.8**5 + 5 * 0.2 * 0.8**4), rel=1e-12)


def test_binomial_two_sided_is_symmetric_for_a_fair_coin() -> None:
    assert binomial_two_sided(2, 10, 0.5) == pytest.approx(binomial_two_sided(8, 10, 0.5), rel=1e-12)
    assert binomial_two_sided(2, 10, 0.5) == pytest.approx(112 / 1024, rel=1e-12)
    assert binomial_two_sided(5, 10, 0.5) == 1.0  # the centre is never unusual


def test_binomial_tails_at_degenerate_probabilities() -> None:
    assert binomial_cdf(0, 10, 0.0) == 1.0
    assert binomial_sf(1, 10, 0.0) == 0.0
    assert binomial_cdf(9, 10, 1.0) == 0.0
    assert binomial_sf(10, 10, 1.0) == 1.0


def test_binomial_rejects_impossible_arguments() -> None:
    with pytest.raises(ValueError):
        binomial_cdf(1, 10, 1.5)
    with pytest.raises(ValueError):
        binomial_sf(1, -1, 0.5)


def _exact_tails(n: int, p: Fraction, ks: range) -> dict[int, tuple[float, float]]:
    """(P(X <= k), P(X >= k)) from exact integers: C(n, i)·a^i·(b − a)^(n − i) over b^n for p = a/b,
    divided once at the end (int / int rounds correctly)."""
    a, b = p.numerator, p.denominator
    terms = [(b - a) ** n]
    for i in range(max(ks)):
        terms.append(terms[-1] * (n - i) * a // ((i + 1) * (b - a)))
    total = b**n
    tails = {}
    for k in ks:
        below = sum(terms[: k + 1])
        tails[k] = (below / total, (total - below + terms[k]) / total)
    return tails


def _decimal_lower_tail(k: int, n: int, p: Decimal) -> float:
    """P(X <= k) to 40 significant digits: exact binomial coefficients, decimal powers."""
    with localcontext() as context:
        context.prec = 40
        return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1)))


@pytest.mark.parametrize("n", [10_240, 20_470, 20_480, 40_000])
def test_binomial_tails_of_rare_events_over_many_trials_are_exact(n: int) -> None:
    # p = 1/2048 is exact in binary; n·p·(1−p) runs from 5 to 19.5, across the textbook's rule of
    # thumb (10) for the normal approximation, which would overstate these p-values up to 4 times.
    p = Fraction(1, 2048)
    mean = n / 2048
    ks = range(0, int(mean * 2.5) + 1)
    for k, (cdf, sf) in _exact_tails(n, p, ks).items():
        assert binomial_cdf(k, n, float(p)) == pytest.approx(cdf, rel=1e-11), k
        assert binomial_sf(k, n, float(p)) == pytest.approx(sf, rel=1e-11), k
        assert binomial_two_sided(k, n, float(p)) == pytest.approx(min(1.0, 2 * min(cdf, sf)), rel=1e-11), k


def test_compare_rates_handful_of_conversions_over_a_long_baseline_is_exact() -> None:
    # 3 conversions in 1 day against 9,997 over the 999 before: 10 expected. n = 10,000 is past the
    # old switch to the normal approximation, which gave 0.040 where the exact p-value is 0.021.
    test = compare_rates(3, 9_997, 1.0, 999.0)
    exact = _exact_tails(10_000, Fraction(1, 1000), range(4))[3]
    assert test.expected == pytest.approx(10.0)
    assert test.p_value == pytest.approx(2 * min(exact), rel=1e-11)
    assert test.p_value == pytest.approx(0.0207, abs=0.0001)


def test_binomial_exact_tails_stay_precise_for_millions_of_trials() -> None:
    n, p = 4_000_000, Decimal(2) / Decimal(1_000_000)  # 8 expected
    for k in (0, 1, 3, 8):
        assert binomial_cdf(k, n, float(p)) == pytest.approx(_decimal_lower_tail(k, n, p), rel=1e-11)
    assert binomial_sf(20, n, float(p)) == pytest.approx(1 - _decimal_lower_tail(19, n, p), rel=1e-9)
    # Far out in a tail the terms underflow a float one by one, yet their sum in log space does not.
    assert 0.0 < binomial_sf(250, n, float(p)) < 1e-250


@pytest.mark.parametrize("n", [53_328, 53_334])  # n·p·(1−p) = 9,999 and 10,000.1
def test_binomial_tails_at_the_switch_to_the_normal_approximation(n: int) -> None:
    # p = 1/4: exact terms C(n, i)·3^(n−i) / 4^n, summed as integers from 40 standard deviations
    # below (the terms beyond are below 10^-300 of the tail).
    p = Fraction(1, 4)
    sd = math.sqrt(n * 3 / 16)
    variance_exact = n * 3 / 16 < EXACT_MAX_VARIANCE
    low = int(n / 4 - 40 * sd)
    term = math.comb(n, low) * 3 ** (n - low)
    terms = {}
    for i in range(low, int(n / 4) + 1):
        terms[i] = term
        term = term * (n - i) // (3 * (i + 1))
    total = 4**n
    running = 0
    for i in range(low, int(n / 4 - 1.5 * sd)):
        running += terms[i]
        exact = running / total
        if exact < 1e-4:
            continue
        if variance_exact:
            assert binomial_cdf(i, n, float(p)) == pytest.approx(exact, rel=1e-9), i
        else:  # the approximation's error at a skewness of 0.005: under 5 % down to p = 10^-4
            assert binomial_cdf(i, n, float(p)) == pytest.approx(exact, rel=0.05), i


def test_binomial_large_n_tail_is_tiny_far_from_the_mean_and_a_half_at_it() -> None:
    n = 200_000
    assert binomial_cdf(n // 2, n, 0.5) == pytest.approx(0.5, abs=0.01)
    assert binomial_two_sided(n // 2 - 2_000, n, 0.5) < 1e-15
    assert binomial_two_sided(n // 2 + 50, n, 0.5) > 0.5


def test_normal_cdf_known_points() -> None:
    assert normal_cdf(0.0) == pytest.approx(0.5)
    assert normal_cdf(1.959964) == pytest.approx(0.975, rel=1e-6)
    assert normal_cdf(-1.959964) == pytest.approx(0.025, rel=1e-5)


def test_compare_rates_equal_exposures_is_a_fair_coin() -> None:
    # 10 vs 0 events over equal exposures: p = 2 · 0.5^10
    test = compare_rates(10, 0, 1.0, 1.0)
    assert test.expected == pytest.approx(5.0)
    assert test.p_value == pytest.approx(2 / 1024, rel=1e-12)
    assert test.ratio == math.inf  # no baseline event: any recent one is an infinite rise
    assert compare_rates(30, 10, 1.0, 1.0).ratio == pytest.approx(3.0)  # the rates' ratio, not n · p0's


def test_compare_rates_unchanged_rate_is_not_significant() -> None:
    # 7 days against 28: the recent week should hold a fifth of the events, and does
    test = compare_rates(100, 400, 7.0, 28.0)
    assert test.expected == pytest.approx(100.0)
    assert test.p_value == pytest.approx(1.0, abs=0.05)
    assert test.ratio == pytest.approx(1.0)


def test_compare_rates_factor_scales_the_expectation() -> None:
    # Only 60 % of the recent events have arrived: 60 of an expected 100 is then no change at all.
    plain = compare_rates(60, 400, 7.0, 28.0)
    lagged = compare_rates(60, 400, 7.0, 28.0, factor=0.6)
    assert plain.p_value < 0.001
    assert lagged.ratio == pytest.approx(1.0, abs=0.01)
    assert lagged.p_value > 0.5


def test_compare_rates_halving_on_small_counts_is_noise_and_on_large_counts_is_not() -> None:
    assert compare_rates(2, 16, 7.0, 28.0).p_value > 0.2  # 2 against an expected 3.6
    assert compare_rates(200, 1600, 7.0, 28.0).p_value < 1e-6  # 200 against an expected 360


def test_compare_rates_rejects_non_positive_exposure() -> None:
    with pytest.raises(ValueError):
        compare_rates(1, 1, 0.0, 1.0)
    with pytest.raises(ValueError):
        compare_rates(-1, 1, 1.0, 1.0)
