"""`datadrip metrics`: every KPI against figures worked out by hand on analytics_support's workbook
(three days of November 2026; USD amounts blended into rupees at the rates each test keeps)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.analytics.analytics_support import fill_workbook

NOV = ("--since", "2026-11-01", "--until", "2026-11-03")
MASALA = ("--client", "Masala Mornings")


@pytest.fixture
def filled(dd: Callable[..., Any]) -> Callable[..., Any]:
    fill_workbook(dd)
    return dd


@pytest.fixture
def rated(filled: Callable[..., Any]) -> Callable[..., Any]:
    assert filled("fx", "set", "USD", "INR", "83.10").exit_code == 0
    return filled


def metrics(dd: Callable[..., Any], *args: str) -> list[dict[str, Any]]:
    run = dd("metrics", *args, "--format", "json")
    assert run.exit_code == 0, run.stderr
    return json.loads(run.stdout, parse_float=Decimal)


def spend_by(dd: Callable[..., Any], by: str, key: str, *scope: str) -> list[tuple[Any, Decimal]]:
    return [(line[key], line["spend"]) for line in metrics(dd, *scope, "--by", by, *NOV,
                                                           "--metrics", "spend")]


def test_a_clients_totals_blend_its_usd_account_into_rupees_and_rates_come_from_summed_parts(rated):
    [total] = metrics(rated, *MASALA, "--by", "total", *NOV)

    # Spend 1000 + 500.50 + 200 (INR) + 10 USD × 83.10; value 5000 + 30 × 83.10.
    assert total == {
        "spend": Decimal("2531.50"), "impressions": 16000, "clicks": 110,
        "conversions": Decimal("5.5"), "conversion_value": Decimal("7493.00"),
        "ctr": Decimal("0.69"),              # 110 / 16,000 = 0.6875 %
        "cpc": Decimal("23.01"),             # 2,531.50 / 110
        "cpm": Decimal("158.22"),            # 2,531.50 × 1,000 / 16,000 = 158.21875
        "cpa": Decimal("460.27"),            # 2,531.50 / 5.5
        "roas": Decimal("2.96"),             # 7,493 / 2,531.50
        "conversion_rate": Decimal("5.00"),  # 5.5 / 110
        "currency": "INR"}


def test_a_rate_is_not_the_average_of_daily_rates(rated):
    # Diwali: CTR 1 % on the 1st (100 / 10,000), 0 % on the 2nd (0 / 5,000): 100 / 15,000 over both
    # days is 0.67 %, where the mean of the daily rates would be 0.5 %.
    [diwali] = [line for line in metrics(rated, *MASALA, "--by", "campaign", *NOV, "--metrics", "ctr")
                if line["campaign"] == "Diwali"]
    assert diwali["ctr"] == Decimal("0.67")


def test_rates_over_zero_are_null_in_json_empty_in_csv_and_na_in_a_table(rated):
    by_campaign = metrics(rated, *MASALA, "--by", "campaign", *NOV, "--metrics", "spend,ctr,cpc,cpa,roas")
    assert by_campaign[-1] == {"client": "Masala Mornings", "platform": "meta",
                               "campaign_external_id": "campaign-brand", "campaign": "Brand",
                               "spend": Decimal("200.00"), "ctr": None, "cpc": None, "cpa": None,
                               "roas": Decimal("0.00"), "currency": "INR"}

    run = rated("metrics", *MASALA, "--by", "campaign", *NOV, "--metrics", "spend,cpa", "--format", "csv")
    assert run.exit_code == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert list(rows[0]) == ["client", "platform", "campaign_external_id", "campaign", "spend", "cpa",
                             "currency"]
    # Diwali's CPA 1,500.50 / 4 = 375.125 rounds half up; Search: 831 / 1.5 = 554.
    assert [(r["campaign"], r["spend"], r["cpa"]) for r in rows] == [
        ("Diwali", "1500.50", "375.13"), ("Search", "831.00", "554.00"), ("Brand", "200.00", "")]

    table = rated("metrics", *MASALA, "--by", "campaign", *NOV, "--metrics", "spend,cpa")
    assert table.exit_code == 0, table.stderr
    assert table.stdout.splitlines()[-1].split("\t") == [
        "Masala Mornings", "meta", "campaign-brand", "Brand", "200.00", "n/a", "INR"]


def test_json_is_also_asked_for_with_json_like_every_command(rated):
    args = (*MASALA, "--by", "month", *NOV, "--metrics", "spend")
    assert rated("metrics", *args, "--json").stdout == rated("metrics", *args, "--format", "json").stdout


def test_ndjson_is_one_object_per_line(rated):
    run = rated("metrics", *MASALA, "--by", "day", *NOV, "--metrics", "spend", "--format", "ndjson")

    assert run.exit_code == 0, run.stderr
    assert [json.loads(line) for line in run.stdout.splitlines()] == [
        {"day": "2026-11-01", "spend": 2031.0, "currency": "INR"},
        {"day": "2026-11-02", "spend": 500.5, "currency": "INR"}]


def test_days_weeks_and_months_are_calendar_buckets_with_monday_weeks(rated):
    # 2026-11-01 is a Sunday: it belongs to the week of Monday 26 October.
    assert spend_by(rated, "day", "day", *MASALA) == [
        ("2026-11-01", Decimal("2031.00")), ("2026-11-02", Decimal("500.50"))]
    assert spend_by(rated, "week", "week", *MASALA) == [
        ("2026-10-26", Decimal("2031.00")), ("2026-11-02", Decimal("500.50"))]
    assert spend_by(rated, "month", "month", *MASALA) == [("2026-11-01", Decimal("2531.50"))]


def test_breakdowns_by_platform_account_ad_set_and_ad_largest_spend_first(rated):
    assert spend_by(rated, "platform", "platform", *MASALA) == [
        ("meta", Decimal("1700.50")), ("google", Decimal("831.00"))]
    assert spend_by(rated, "account", "account", *MASALA) == [
        ("act_1", Decimal("1700.50")), ("1234567890", Decimal("831.00"))]
    assert spend_by(rated, "adset", "adset", *MASALA) == [("Diwali broad", Decimal("1000.00"))]
    assert spend_by(rated, "ad", "ad", *MASALA) == [("Diwali reel", Decimal("1000.00"))]


def test_the_agency_is_blended_into_its_currency_one_line_per_active_client(rated):
    # Peak Trail's 20 USD at 83.10; Dormant is inactive and left out.
    assert spend_by(rated, "client", "client") == [
        ("Masala Mornings", Decimal("2531.50")), ("Peak Trail", Decimal("1662.00"))]
    [total] = metrics(rated, "--by", "total", *NOV, "--metrics", "spend")
    assert total == {"spend": Decimal("4193.50"), "currency": "INR"}


def test_a_client_in_its_own_currency_needs_no_rate(filled):
    [total] = metrics(filled, "--client", "Peak Trail", "--by", "total", *NOV, "--metrics", "spend,cpa")
    assert total == {"spend": Decimal("20.00"), "cpa": Decimal("10.00"), "currency": "USD"}


def test_a_blend_without_a_rate_fails_naming_the_pair_and_what_to_run(filled):
    run = filled("metrics", *MASALA, "--by", "total", *NOV, "--format", "json")

    assert run.exit_code == 1
    assert run.stdout == ""
    assert "error: no exchange rate from USD to INR on 2026-11-01" in run.stderr
    assert "datadrip fx set USD INR" in run.stderr


def test_dated_rates_apply_from_their_day_and_an_inverse_rate_is_used_inverted(filled):
    assert filled("fx", "set", "USD", "INR", "80", "--date", "2026-11-02").exit_code == 0
    failed = filled("metrics", *MASALA, "--by", "total", *NOV)
    assert failed.exit_code == 1 and "USD to INR on 2026-11-01" in failed.stderr  # not yet valid

    assert filled("fx", "set", "USD", "INR", "82", "--date", "2026-11-01").exit_code == 0
    [total] = metrics(filled, *MASALA, "--by", "total", *NOV, "--metrics", "spend")
    assert total["spend"] == Decimal("2520.50")  # 1,700.50 + 10 × 82

    [peak] = metrics(filled, "--client", "Peak Trail", "--by", "total", *NOV, "--metrics", "spend")
    assert peak["spend"] == Decimal("20.00")
    assert filled("fx", "set", "INR", "USD", "0.012").exit_code == 0
    [dormant_free] = metrics(filled, "--client", "Peak Trail", "--by", "total", *NOV, "--metrics", "spend")
    assert dormant_free["spend"] == Decimal("20.00")


def test_an_inverse_rate_converts_exactly_to_the_micro(filled):
    assert filled("fx", "set", "INR", "USD", "0.012").exit_code == 0

    [total] = metrics(filled, *MASALA, "--by", "total", *NOV, "--metrics", "spend")

    assert total["spend"] == Decimal("2533.833333")  # 1,700.50 + 10 / 0.012, to the micro


def test_periods_select_the_days_and_an_empty_period_shows_zeros(rated):
    [total] = metrics(rated, *MASALA, "--by", "total", "--since", "2026-11-02", "--until", "2026-11-02",
                      "--metrics", "spend,cpc")
    assert total == {"spend": Decimal("500.50"), "cpc": None, "currency": "INR"}

    [nothing] = metrics(rated, *MASALA, "--by", "total", "--since", "2026-10-01", "--until", "2026-10-02",
                        "--metrics", "spend,ctr")
    assert nothing == {"spend": Decimal("0.00"), "ctr": None, "currency": "INR"}
    assert metrics(rated, *MASALA, "--by", "campaign", "--since", "2026-10-01", "--until", "2026-10-02") == []


@pytest.mark.parametrize(("args", "message"), [
    (("--by", "hour"), "--by 'hour' is not a dimension"),
    (("--format", "xml"), "--format 'xml' is not a format"),
    (("--metrics", "spend,profit"), "unknown metric 'profit'"),
    (("--period", "fortnight"), "unknown period 'fortnight'"),
    (("--period", "today", "--since", "2026-11-01"), "--period cannot be combined"),
    (("--since", "2026-11-05", "--until", "2026-11-01"), "--since 2026-11-05 is after --until 2026-11-01"),
    (("--since", "1 Nov"), "--since '1 Nov' is not a date"),
    (("--until", "2026-11-01"), "--until needs --since"),
    (("--json", "--format", "csv"), "--json and --format csv ask for two formats"),
    (("--client", "Nobody"), "no client 'Nobody'"),
])
def test_bad_arguments_are_refused_with_exit_2_and_nothing_on_stdout(filled, args, message):
    run = filled("metrics", *args)

    assert run.exit_code == 2
    assert run.stdout == ""
    assert message in run.stderr
