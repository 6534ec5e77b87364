"""The count tests on values known by hand."""

from __future__ import annotations

import math

import pytest

from datadrip.insights.stats import (
    EXACT_MAX_TRIALS,
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


def test_binomial_normal_approximation_agrees_with_the_exact_sum_at_the_switch() -> None:
    n, p = EXACT_MAX_TRIALS, 0.3
    k = int(n * p - 2.5 * math.sqrt(n * p * (1 - p)))
    exact = binomial_cdf(k, n, p)
    approximate = normal_cdf((k + 0.5 - n * p) / math.sqrt(n * p * (1 - p)))
    assert exact == pytest.approx(approximate, rel=0.05)
    # Past the switch the tail is the approximation, and it stays monotone and continuous.
    big = binomial_cdf(k + 60, n + 200, p)
    assert 0.0 < big < 1.0


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
