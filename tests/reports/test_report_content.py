"""What a report says, as `report build --format json` prints it: KPIs against the previous period,
channels, top campaigns, the trend, budget pacing, the accounts behind the numbers and what the
reader is warned about, worked out by hand from tests/reports/report_support.py's workbook."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from reports.report_support import (
    DAY1,
    NOV_1_3,
    Shared,
    add_campaign_day,
    build_json,
    fill_masala,
    own_home,
    set_synced,
)

MASALA = "Masala Mornings"
D = Decimal
DAY2 = ("--since", "2026-11-02", "--until", "2026-11-02")
EMPTY_DAY = ("--since", "2026-10-01", "--until", "2026-10-01")


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Any]]:
    """The workbook, filled once for the module: `filled(*args)` is Masala Mornings' report of
    those args. Tests that change the workbook take `masala`, a copy of their own."""
    folder = tmp_path_factory.mktemp("filled")
    with own_home(folder) as dd:
        fill_masala(dd)
        shared = Shared(folder, dd)

        def report(*args: str) -> dict[str, Any]:
            return shared.json(MASALA, *args)

        report.shared = shared  # type: ignore[attr-defined]
        yield report


@pytest.fixture
def masala(filled: Any, home: Path, dd: Callable[..., Any]) -> Callable[..., Any]:
    filled.shared.copy_to(home)
    return dd


def kpis(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {kpi.pop("metric"): kpi for kpi in [dict(item) for item in report["kpis"]]}


def test_report_record_keys_are_stable(filled):
    report = filled(*DAY1)

    assert list(report) == ["client", "agency", "kind", "currency", "period", "previous_period",
                            "has_data", "summary", "kpis", "channels", "top_campaigns", "trend",
                            "pacing", "accounts", "insights", "warnings", "generated_at",
                            "setting_changes", "audience", "results"]
    assert report["client"]["name"] == MASALA and report["currency"] == "INR"
    assert report["agency"] == {"name": "Spice Route Media", "locale": "en_IN", "timezone": "Asia/Kolkata",
                                "colour": None, "logo": None}


def test_report_kpis_of_a_day_add_every_account_in_the_client_currency(filled):
    # 1 Nov: Meta ₹1,000 + ₹200, Google $10 × 83 = ₹830; value ₹5,000 + $30 × 83; nothing on 31 Oct.
    report = filled(*DAY1)

    assert report["period"] == {"name": "custom", "since": "2026-11-01", "until": "2026-11-01", "days": 1}
    assert report["previous_period"] == {"name": "previous", "since": "2026-10-31",
                                         "until": "2026-10-31", "days": 1}
    assert report["has_data"] is True
    assert kpis(report) == {
        "spend": {"value": D("2030.00"), "previous": D("0.00"), "change": D("2030.00"),
                  "change_pct": None, "verdict": None},  # no percentage of nothing
        "conversions": {"value": D("5.5"), "previous": 0, "change": D("5.5"), "change_pct": None,
                        "verdict": "good"},
        "cpa": {"value": D("369.09"), "previous": None, "change": None, "change_pct": None,
                "verdict": None},  # 2,030 / 5.5 = 369.0909…
        "roas": {"value": D("3.69"), "previous": None, "change": None, "change_pct": None,
                 "verdict": None},  # 7,490 / 2,030 = 3.6897…
        "conversion_value": {"value": D("7490.00"), "previous": D("0.00"), "change": D("7490.00"),
                             "change_pct": None, "verdict": "good"},
        "clicks": {"value": 110, "previous": 0, "change": 110, "change_pct": None, "verdict": "good"},
        "ctr": {"value": D("1.00"), "previous": None, "change": None, "change_pct": None, "verdict": None},
        "cpc": {"value": D("18.45"), "previous": None, "change": None, "change_pct": None, "verdict": None},
    }


def test_report_kpis_compare_with_the_day_before_and_judge_the_change(filled):
    # 2 Nov (₹500.50, 5,000 impressions, nothing else) against 1 Nov.
    found = kpis(filled(*DAY2))

    assert found["spend"] == {"value": D("500.50"), "previous": D("2030.00"), "change": D("-1529.50"),
                              "change_pct": D("-75.3"), "verdict": None}  # less spend: neither
    assert found["conversions"] == {"value": 0, "previous": D("5.5"), "change": D("-5.5"),
                                    "change_pct": D("-100.0"), "verdict": "bad"}
    assert found["cpa"] == {"value": None, "previous": D("369.09"), "change": None, "change_pct": None,
                            "verdict": None}  # no conversions on the 2nd: no cost per conversion
    assert (found["roas"]["value"], found["roas"]["change"], found["roas"]["verdict"]) == (
        D("0.00"), D("-3.69"), "bad")
    assert (found["ctr"]["value"], found["ctr"]["previous"], found["ctr"]["verdict"]) == (
        D("0.00"), D("1.00"), "bad")
    assert found["cpc"]["value"] is None  # no clicks


def test_report_money_is_exact_to_the_paisa(masala):
    day = dt.date(2026, 11, 5)
    for campaign, spend in (("Ten", "0.10"), ("Twenty", "0.20"), ("Odd", "1234.56")):
        add_campaign_day(MASALA, "act_1", campaign, day, spend)
    add_campaign_day(MASALA, "1234567890", "Search", day, "10.01", platform="google", currency="USD")

    run = masala("report", "build", MASALA, "--since", "2026-11-05", "--until", "2026-11-05",
                 "--format", "json")

    assert run.exit_code == 0, run.stderr
    spend = kpis(json.loads(run.stdout, parse_float=Decimal))["spend"]["value"]
    assert spend == D("2065.69")  # 0.10 + 0.20 + 1,234.56 + 10.01 × 83 (= 830.83)
    assert '"value": 2065.69,' in run.stdout  # printed as the exact decimal, no float noise


# No sync fetched a reach for these days, and no row has a search impression share: n/a.
NO_REACH_NOR_SHARES = {"reach": None, "frequency": None, "search_share": None,
                       "search_budget_lost": None, "search_rank_lost": None}


def test_report_channels_split_the_spend_by_platform(filled):
    report = filled(*NOV_1_3)

    assert report["channels"] == [
        {"platform": "meta", "label": "Meta", "spend": D("1700.50"), "share_pct": D("67.2"),
         "impressions": 15000, "clicks": 100, "conversions": 4, "cpa": D("425.13"), "roas": D("2.94"),
         **NO_REACH_NOR_SHARES},
        {"platform": "google", "label": "Google Ads", "spend": D("830.00"), "share_pct": D("32.8"),
         "impressions": 1000, "clicks": 10, "conversions": D("1.5"), "cpa": D("553.33"),
         "roas": D("3.00"), **NO_REACH_NOR_SHARES}]
    assert [(c["platform"], c["share_pct"]) for c in filled(*DAY2)["channels"]] == [("meta", D("100.0"))]


def test_report_top_campaigns_are_ordered_by_spend(filled):
    campaigns = filled(*NOV_1_3)["top_campaigns"]

    assert [(c["campaign"], c["platform_label"], c["spend"], c["conversions"], c["cpa"], c["roas"])
            for c in campaigns] == [
        ("Diwali", "Meta", D("1500.50"), 4, D("375.13"), D("3.33")),
        ("Search", "Google Ads", D("830.00"), D("1.5"), D("553.33"), D("3.00")),
        ("Brand", "Meta", D("200.00"), 0, None, D("0.00"))]


def test_report_top_campaigns_leave_out_campaigns_without_spend_and_stop_at_five(masala):
    for n, spend in enumerate(("10", "70", "30", "60", "20", "50")):
        add_campaign_day(MASALA, "act_1", f"C{n}", dt.date(2026, 11, 10), spend)
    add_campaign_day(MASALA, "act_1", "Unpaid", dt.date(2026, 11, 11), "0", impressions=5000, clicks=40)
    add_campaign_day(MASALA, "act_1", "C0", dt.date(2026, 11, 11), "5")

    ten = build_json(masala, MASALA, "--since", "2026-11-10", "--until", "2026-11-10")
    eleven = build_json(masala, MASALA, "--since", "2026-11-11", "--until", "2026-11-11")

    assert [(c["campaign"], c["spend"]) for c in ten["top_campaigns"]] == [
        ("C1", D("70.00")), ("C3", D("60.00")), ("C5", D("50.00")), ("C2", D("30.00")), ("C4", D("20.00"))]
    assert [c["campaign"] for c in eleven["top_campaigns"]] == ["C0"]  # "Unpaid" spent nothing
    assert kpis(eleven)["clicks"]["value"] == 50  # though its clicks count in the totals


def test_report_trend_is_fourteen_days_ending_on_the_period_last_day(filled):
    trend = filled(*DAY1)["trend"]

    assert [point["day"] for point in trend] == [
        str(dt.date(2026, 10, 19) + dt.timedelta(days=n)) for n in range(14)]
    assert [point["in_period"] for point in trend] == [False] * 13 + [True]
    assert trend[-1] == {"day": "2026-11-01", "spend": D("2030.00"), "conversions": D("5.5"),
                         "in_period": True}
    assert all(point["spend"] == D("0.00") for point in trend[:-1])
    nov = filled(*NOV_1_3)["trend"]
    assert (len(nov), nov[0]["day"]) == (14, "2026-10-21")
    assert [(p["spend"], p["in_period"]) for p in nov[-4:]] == [
        (D("0.00"), False), (D("2030.00"), True), (D("500.50"), True), (D("0.00"), True)]


def test_report_trend_of_a_longer_period_is_the_period_itself(filled):
    trend = filled("--since", "2026-11-01", "--until", "2026-11-20")["trend"]

    assert (len(trend), trend[0]["day"], trend[-1]["day"]) == (20, "2026-11-01", "2026-11-20")
    assert all(point["in_period"] for point in trend)


@pytest.mark.parametrize(("budget", "expected", "remaining", "spent_pct", "pace", "status"), [
    # ₹2,530.50 spent in 3 of November's 30 days; expected: the budget × 3 / 30.
    ("150000", "15000.00", "147469.50", "1.7", "16.9", "under"),
    ("25000", "2500.00", "22469.50", "10.1", "101.2", "on_track"),  # within ±10 % of expected
    ("20000", "2000.00", "17469.50", "12.7", "126.5", "over"),
])
def test_report_pacing_measures_the_month_against_the_monthly_budget(masala, budget, expected, remaining,
                                                                     spent_pct, pace, status):
    assert masala("client", "edit", MASALA, "--monthly-budget", budget).exit_code == 0

    pacing = build_json(masala, MASALA, *NOV_1_3)["pacing"]

    assert pacing == {
        "month": "2026-11-01", "through": "2026-11-03", "days_elapsed": 3, "days_in_month": 30,
        "budget": D(budget), "spent": D("2530.50"), "expected": D(expected),
        "projected": D("25305.00"),  # 2,530.50 over 3 days → 30 days
        "remaining": D(remaining), "spent_pct": D(spent_pct), "pace_pct": D(pace), "status": status,
        "budget_source": "client"}


def test_report_pacing_counts_the_month_up_to_the_period_last_day(masala):
    assert masala("client", "edit", MASALA, "--monthly-budget", "150000").exit_code == 0

    pacing = build_json(masala, MASALA, *DAY2)["pacing"]  # a report of 2 Nov only

    assert (pacing["spent"], pacing["days_elapsed"], pacing["expected"], pacing["projected"]) == (
        D("2530.50"), 2, D("10000.00"), D("37957.50"))  # 1 and 2 Nov; 2,530.50 × 30 / 2


def test_report_pacing_is_null_without_a_monthly_budget(filled):
    assert filled(*NOV_1_3)["pacing"] is None
    assert "budget" not in filled(*NOV_1_3)["summary"].lower()


def test_report_summary_is_written_from_the_numbers(masala):
    assert masala("client", "edit", MASALA, "--monthly-budget", "150000").exit_code == 0
    for account in ("act_1", "1234567890"):
        set_synced(account, dt.date(2026, 11, 3))

    summary = build_json(masala, MASALA, *NOV_1_3)["summary"]

    assert summary == (
        "From 1–3 Nov 2026, **₹2,530.50** was spent on ads, for **5.5 conversions** at ₹460.09 "
        "each. They brought **₹7,490.00** in revenue, a return of **2.96×** on spend.\n\n"
        "Share of spend: Meta 67.2% at ₹425.13 a conversion; Google Ads 32.8% at ₹553.33 a "
        "conversion.\n\n"
        "Most conversions: **Diwali** (Meta), 4 at ₹375.13 each.\n\n"
        "Budget: ₹2,530.50 of the ₹1,50,000.00 monthly budget is spent (1.7%, day 3 of 30), "
        "behind pace: at this rate the month ends at ₹25,305.00.\n")
    assert build_json(masala, MASALA, *DAY2)["summary"].startswith(
        "On 2 Nov 2026, **₹500.50** was spent on ads, 75.3% less than the day before, for "
        "**0 conversions**.\n")


def test_report_of_an_empty_period_has_no_data_and_says_no_ad_activity(filled):
    report = filled(*EMPTY_DAY)

    assert report["has_data"] is False
    assert report["summary"].startswith("On 1 Oct 2026, no ad activity was recorded for Masala Mornings.\n")
    assert (report["channels"], report["top_campaigns"]) == ([], [])
    assert kpis(report)["spend"]["value"] == D("0.00") and kpis(report)["cpa"]["value"] is None
    assert all(point["spend"] == D("0.00") for point in report["trend"])


def test_report_lists_accounts_and_warns_when_one_holds_no_data_through_the_period_end(masala):
    synced_at = dt.datetime(2026, 11, 4, 0, 40, tzinfo=dt.UTC)
    set_synced("act_1", dt.date(2026, 11, 3), at=synced_at)
    set_synced("1234567890", dt.date(2026, 11, 1), at=synced_at)

    report = build_json(masala, MASALA, *NOV_1_3)

    assert report["accounts"] == [
        {"platform": "google", "platform_label": "Google Ads", "account": "1234567890",
         "name": "Masala Mornings google", "status": "active", "last_synced": "2026-11-04T00:40:00+00:00",
         "data_through": "2026-11-01"},
        {"platform": "meta", "platform_label": "Meta", "account": "act_1", "name": "Masala Mornings meta",
         "status": "active", "last_synced": "2026-11-04T00:40:00+00:00", "data_through": "2026-11-03"}]
    assert report["warnings"] == ["Google Ads 1234567890 holds data up to 1 Nov 2026 only."]
    assert "holds data" not in report["summary"]  # shown apart from the summary, once
    assert build_json(masala, MASALA, *DAY1)["warnings"] == []  # both hold 1 Nov


def test_report_warns_about_accounts_never_synced_or_needing_a_login(masala):
    set_synced("act_1", dt.date(2026, 11, 3), status="needs_reauth")

    run = masala("report", "build", MASALA, *NOV_1_3, "--format", "json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["warnings"] == ["Google Ads 1234567890 has not been synced yet.",
                                      "Meta act_1 needs a new login; its numbers may be out of date."]
    assert run.stderr.splitlines() == ["warning: " + w for w in run.json()["warnings"]]


def test_report_of_a_client_without_accounts_says_none_is_connected(masala):
    assert masala("client", "add", "Fresh Start").exit_code == 0

    report = build_json(masala, "Fresh Start", *DAY1)

    assert (report["has_data"], report["accounts"]) == (False, [])
    assert report["warnings"] == ["No ad account is connected for this client."]


def _agency_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Kolkata")).date()


def _expected(name: str, today: dt.date) -> tuple[str, str]:
    monday = today - dt.timedelta(days=today.weekday())
    first = today.replace(day=1)
    last_month_end = first - dt.timedelta(days=1)
    since, until = {
        "yesterday": (today - dt.timedelta(days=1),) * 2,
        "last-week": (monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)),
        "last-7-days": (today - dt.timedelta(days=7), today - dt.timedelta(days=1)),
        "last-month": (last_month_end.replace(day=1), last_month_end),
    }[name]
    return str(since), str(until)


@pytest.mark.parametrize(("args", "kind", "period"), [
    ((), "daily", "yesterday"),
    (("--kind", "daily"), "daily", "yesterday"),
    (("--kind", "weekly"), "weekly", "last-week"),
    (("--kind", "monthly"), "monthly", "last-month"),
    (("--period", "yesterday"), "daily", "yesterday"),
    (("--period", "last-week"), "weekly", "last-week"),
    (("--period", "last-7-days"), "weekly", "last-7-days"),
    (("--period", "last-month"), "monthly", "last-month"),
    (("--kind", "weekly", "--period", "last-month"), "weekly", "last-month"),
])
def test_report_kind_and_period_default_from_each_other(filled, args, kind, period):
    before = _agency_today()
    report = filled(*args)
    after = _agency_today()  # a build across the agency's midnight may see either day

    assert report["kind"] == kind
    assert report["period"]["name"] == period
    found = (report["period"]["since"], report["period"]["until"])
    assert found in {_expected(period, before), _expected(period, after)}


def test_report_of_a_range_of_its_own_is_custom_unless_a_kind_is_given(filled):
    assert filled(*NOV_1_3)["kind"] == "custom"
    assert filled("--since", "2026-11-01", "--until", "2026-11-07", "--kind", "weekly")["kind"] == "weekly"
    assert filled("--period", "month-to-date")["kind"] == "custom"
