"""Totals: the one aggregate of summed metrics, for the dashboards, the reports and the insights
alike. Rates come from the summed integers, exactly; people see them rounded half up."""

from __future__ import annotations

from decimal import Decimal

from datadrip.analytics.totals import Totals
from datadrip.insights.facts import EntityFacts, shown_figures

M = 1_000_000


def test_totals_rates_are_exact_quotients_of_the_summed_parts() -> None:
    totals = Totals(spend_micros=1000 * M, impressions=30_000, clicks=300, conversions_millionths=3 * M,
                    conversion_value_micros=2500 * M, reach=12_000)

    assert totals.ctr == Decimal("0.01")  # 300 / 30,000
    assert totals.cvr == Decimal("0.01")  # 3 / 300
    assert totals.cpc_micros == Decimal(1000 * M) / 300
    assert totals.cpm_micros == Decimal(1000 * M) * 1000 / 30_000
    assert totals.cpa == Decimal(1000 * M) / 3  # micros per conversion, not rounded
    assert totals.cpa_micros == 333_333_333  # whole micros, as findings quote it
    assert totals.roas == Decimal("2.5")
    assert totals.frequency == Decimal("2.5")


def test_totals_values_round_the_same_rates_half_up_for_people() -> None:
    values = Totals(spend_micros=1000 * M, impressions=30_000, clicks=300, conversions_millionths=3 * M,
                    conversion_value_micros=2500 * M).values("INR")

    assert values == {"spend": Decimal("1000.00"), "impressions": 30_000, "clicks": 300,
                      "conversions": Decimal(3), "conversion_value": Decimal("2500.00"),
                      "ctr": Decimal("1.00"), "cpc": Decimal("3.33"), "cpm": Decimal("33.33"),
                      "cpa": Decimal("333.33"), "roas": Decimal("2.50"), "conversion_rate": Decimal("1.00"),
                      "link_clicks": None, "link_ctr": None, "link_cpc": None, "interactions": None,
                      "reach": None, "frequency": None}
    # half up at the currency's minor unit: 1 / 8 of a yen is 0.125 yen, shown as 0
    assert Totals(spend_micros=125_000, clicks=1, conversions_millionths=8 * M).values("JPY")["cpa"] == 0
    assert Totals(spend_micros=5 * M, conversions_millionths=8 * M).values("USD")["cpa"] == Decimal("0.63")


def test_totals_rates_over_zero_are_none_not_a_division_by_zero() -> None:
    empty = Totals()

    assert (empty.ctr, empty.cvr, empty.cpc_micros, empty.cpm_micros, empty.cpa, empty.cpa_micros,
            empty.roas, empty.frequency) == (None,) * 8
    assert {metric for metric, value in empty.values("EUR").items() if value is None} == {
        "ctr", "cpc", "cpm", "cpa", "roas", "conversion_rate", "link_clicks", "link_ctr", "link_cpc",
        "interactions", "reach", "frequency"}


def test_totals_add_sums_every_part() -> None:
    total = Totals(1, 2, 3, 4, 5, 6, 7)
    total.add(Totals(10, 20, 30, 40, 50, 60, 70))

    assert total == Totals(11, 22, 33, 44, 55, 66, 77)


def test_totals_add_never_sums_a_periods_reach() -> None:
    """A period's reach is counted for the period (people overlap across days, campaigns and
    accounts): adding two lines keeps the sum of daily reach for the insights' average daily
    frequency, and leaves the period's reach unknown unless it is set for the sum itself."""
    line = Totals(impressions=9_000, daily_reach_sum=5_000, days=3, reach=3_000)
    line.add(Totals(impressions=6_000, daily_reach_sum=4_000, days=2, reach=2_500))

    assert line.daily_reach_sum == 9_000 and line.daily_frequency == Decimal(15_000) / 9_000
    assert line.reach is None  # unknown for the sum, never 5,500
    assert Totals(impressions=15_000).frequency is None  # no reach: n/a, not a division
    assert Totals(impressions=15_000, reach=4_000).values("INR")["frequency"] == Decimal("3.75")


def test_insight_figures_are_the_dashboards_values_of_the_same_totals() -> None:
    window = Totals(spend_micros=1537 * M, impressions=88_000, clicks=1_210,
                    conversions_millionths=7_500_000, conversion_value_micros=4100 * M,
                    daily_reach_sum=40_000, days=7)
    entity = EntityFacts("id-1", "campaign:1", "campaign", "1", "Diwali", None, "acc", "Account", "meta",
                         "INR", "ACTIVE", recent=window)

    shown, values = shown_figures(entity.recent, "INR"), window.values("INR")

    assert shown == {"spend": values["spend"], "impressions": 88_000, "clicks": 1_210,
                     "conversions": Decimal("7.5"), "cpa": values["cpa"], "roas": values["roas"],
                     "ctr": values["ctr"], "cvr": values["conversion_rate"], "frequency": Decimal("2.20")}
    assert shown["cpa"] == Decimal("204.93")  # 1537 / 7.5, half up
