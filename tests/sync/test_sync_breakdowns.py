"""Breakdowns end to end: a client opted into age and gender, country, placement and device is
synced from the sandbox over HTTP (Meta and Google), and metric_breakdown_daily holds each
campaign-day split by value: sums never above the campaign's own row and equal to it where the
platform splits completely, withheld numbers NULL (never 0), re-syncs changing nothing, and
`metrics --by age` reading it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import assert_bad_input, sandbox_settings
from sync_support import connect_everything, own_home, sql

MASALA = "Masala Mornings"
PEAK = "Peak Trail Outfitters"
META, GOOGLE = "act_1010000001", "2020000001"  # Masala Mornings' accounts
DIMENSIONS = ("age", "gender", "country", "placement", "device")


@dataclass
class Synced:
    home: Path
    dd: Callable[..., Any]
    today: dt.date
    first: list[tuple[Any, ...]]  # metric_breakdown_daily after the first sync
    again: list[tuple[Any, ...]]  # … after a second sync of the same window
    requests: list[dict[str, str]]  # Meta insights requests with breakdowns, as the sandbox saw them
    google_queries: list[str]  # Google GAQL queries FROM the breakdown views
    runs: dict[str, Any]  # the first sync's --json output
    old: dict[str, Any]  # --json of a Meta campaign sync around the day reach stops (13 months back)
    reach_from: dt.date  # the first day Meta still gives reach under breakdowns
    old_requests: list[dict[str, str]]  # the Meta breakdown requests of that sync

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return sql(self.home / "workbook.db", query, *params)


def _months_back(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    following = dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return dt.date(year, month + 1, min(day.day, (following - dt.timedelta(days=1)).day))


def _snapshot(home: Path) -> list[tuple[Any, ...]]:
    return sql(home / "workbook.db",
               "SELECT account_id, dimension, date, entity_id, value, spend_micros, impressions, "
               "clicks, conversions_millionths, conversion_value_micros, reach "
               "FROM metric_breakdown_daily ORDER BY 1, 2, 3, 4, 5")


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """Masala Mornings (Meta INR, Google INR) with every breakdown, synced 40 days back, then again."""
    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer

    folder = tmp_path_factory.mktemp("breakdowns")
    with SandboxServer(SandboxConfig(seed=7)) as sandbox, own_home(folder) as dd, \
            pytest.MonkeyPatch.context() as patch:
        described = sandbox.app.describe(sandbox.base_url)
        for name, value in sandbox_settings(described).items():
            patch.setenv(name, value)
        assert dd("agency", "add", "Spice Route Media").exit_code == 0
        for name in (MASALA, PEAK):
            assert dd("client", "add", name).exit_code == 0
        connect_everything(dd)
        edited = dd("client", "edit", MASALA, "--breakdowns", "age_gender,country,placement,device")
        assert edited.exit_code == 0, edited.stderr
        today = sandbox.app.state.clock.today_in("Asia/Kolkata")
        since = (today - dt.timedelta(days=39)).isoformat()
        first = dd("sync", "--client", MASALA, "--since", since, "--json")
        assert first.exit_code == 0, first.stderr
        home = folder / "home"
        snapshot = _snapshot(home)
        again = dd("sync", "--client", MASALA, "--since", since, "--json")
        assert again.exit_code == 0, again.stderr
        state = sandbox.app.state.extra
        requests = list(state.get("meta_breakdown_requests", []))
        google = list(state.get("google_breakdown_queries", []))
        resynced = _snapshot(home)
        reach_from = _months_back(today, 13)
        old = dd("sync", "--client", MASALA, "--platform", "meta", "--level", "campaign",
                 "--since", (reach_from - dt.timedelta(days=3)).isoformat(),
                 "--until", (reach_from + dt.timedelta(days=2)).isoformat(), "--json")
        assert old.exit_code == 0, old.stderr
        yield Synced(home, dd, today, snapshot, resynced, requests, google,
                     json.loads(first.stdout), json.loads(old.stdout), reach_from,
                     list(state["meta_breakdown_requests"])[len(requests):])


@pytest.fixture
def masala(synced: Synced, home: Path, dd: Callable[..., Any]) -> Callable[..., Any]:
    """The synced workbook copied into this test's own DATADRIP_HOME."""
    shutil.copytree(synced.home, home)
    return dd


def test_breakdowns_sync_every_dimension_of_both_platforms(synced: Synced) -> None:
    held = synced.sql("SELECT a.platform, b.dimension, COUNT(*) FROM metric_breakdown_daily b "
                      "JOIN ad_account a ON a.id = b.account_id GROUP BY 1, 2 ORDER BY 1, 2")
    assert {(platform, dimension) for platform, dimension, count in held if count} == {
        (platform, dimension) for platform in ("google", "meta") for dimension in DIMENSIONS
        if (platform, dimension) != ("google", "placement")}


def test_breakdowns_meta_sums_equal_the_campaign_rows(synced: Synced) -> None:
    """Meta splits each campaign-day completely (age has an "Unknown"): every dimension adds up
    to the campaign's own row, conversions included (windows listed explicitly for age/gender)."""
    for dimension in DIMENSIONS:
        mismatched = synced.sql(
            "SELECT m.date, m.entity_id FROM metric_daily m JOIN ad_account a ON a.id = m.account_id "
            "LEFT JOIN (SELECT account_id, date, entity_id, SUM(spend_micros) s, SUM(impressions) i, "
            "SUM(clicks) c, SUM(conversions_millionths) v, SUM(conversion_value_micros) w "
            "FROM metric_breakdown_daily WHERE dimension = ? GROUP BY 1, 2, 3) b "
            "ON b.account_id = m.account_id AND b.date = m.date AND b.entity_id = m.entity_id "
            "WHERE a.platform = 'meta' AND m.level = 'campaign' AND m.impressions > 0 AND "
            "(b.s IS NOT m.spend_micros OR b.i IS NOT m.impressions OR b.c IS NOT m.clicks "
            "OR b.v IS NOT m.conversions_millionths OR b.w IS NOT m.conversion_value_micros)",
            dimension)
        assert mismatched == [], dimension
    assert synced.sql("SELECT SUM(conversions_millionths) > 0 FROM metric_breakdown_daily "
                      "WHERE dimension = 'age'") == [(1,)]


def test_breakdowns_never_exceed_the_campaign_rows_and_google_age_falls_below(synced: Synced) -> None:
    over = synced.sql(
        "SELECT b.dimension, b.date, b.entity_id FROM (SELECT account_id, dimension, date, entity_id, "
        "SUM(spend_micros) s, SUM(impressions) i, SUM(clicks) c FROM metric_breakdown_daily "
        "GROUP BY 1, 2, 3, 4) b JOIN metric_daily m ON m.account_id = b.account_id AND "
        "m.level = 'campaign' AND m.date = b.date AND m.entity_id = b.entity_id "
        "WHERE b.s > m.spend_micros OR b.i > m.impressions OR b.c > m.clicks")
    assert over == []
    # Google: the device split is complete; age and gender have no rows for the campaign
    # without ad groups (Performance Max), so their sums fall below the account's total.
    totals = dict(synced.sql(
        "SELECT b.dimension, SUM(b.spend_micros) FROM metric_breakdown_daily b JOIN ad_account a "
        "ON a.id = b.account_id WHERE a.platform = 'google' GROUP BY 1"))
    campaign_total = synced.sql(
        "SELECT SUM(m.spend_micros) FROM metric_daily m JOIN ad_account a ON a.id = m.account_id "
        "WHERE a.platform = 'google' AND m.level = 'campaign'")[0][0]
    assert totals["device"] == campaign_total
    assert totals["age"] < campaign_total and totals["gender"] < campaign_total
    assert totals["age"] == totals["gender"]


def test_breakdowns_withheld_numbers_are_null_never_zero(synced: Synced) -> None:
    # Google gives no reach under any view; Meta gives it for windows starting within 13 months.
    assert synced.sql("SELECT COUNT(*) FROM metric_breakdown_daily b JOIN ad_account a ON "
                      "a.id = b.account_id WHERE a.platform = 'google' AND b.reach IS NOT NULL") == [(0,)]
    by_day = synced.sql(
        "SELECT b.date < ?, COUNT(*), COUNT(b.reach), MIN(b.reach) > 0, COUNT(b.spend_micros) "
        "FROM metric_breakdown_daily b JOIN ad_account a ON a.id = b.account_id "
        "WHERE a.platform = 'meta' GROUP BY 1 ORDER BY 1", synced.reach_from.isoformat())
    (recent, rows, reached, positive, spent), (older, old_rows, old_reached, _, old_spent) = by_day
    assert (recent, older) == (0, 1)
    assert rows == reached == spent and positive == 1  # reach where Meta gives it
    assert old_rows == old_spent > 0 and old_reached == 0  # NULL before it, the rest kept


def test_breakdowns_reach_is_not_asked_beyond_13_months_and_the_run_says_so(synced: Synced) -> None:
    """A window reaching back past the day Meta stops giving reach under breakdowns is asked in
    two parts: the older without reach, the rest with it; the run's warnings say so."""
    asked = sorted((request["breakdowns"], json.loads(request["time_range"])["since"],
                    "reach" in request["fields"].split(",")) for request in synced.old_requests)
    older = (synced.reach_from - dt.timedelta(days=3)).isoformat()
    assert asked == sorted((breakdown, since, since == synced.reach_from.isoformat())
                           for breakdown in ("age", "gender", "country",
                                             "publisher_platform,platform_position",
                                             "device_platform")
                           for since in (older, synced.reach_from.isoformat()))
    warnings = [warning for account in synced.old["accounts"] for warning in account["warnings"]]
    assert any(f"(before {synced.reach_from})" in warning and "reach by age is left unknown"
               in warning for warning in warnings), warnings


def test_breakdowns_resync_changes_nothing(synced: Synced) -> None:
    assert synced.first and synced.again == synced.first


def test_metrics_by_age_json_gives_each_value_with_rates(synced: Synced, masala: Callable[..., Any]) -> None:
    since = (synced.today - dt.timedelta(days=39)).isoformat()
    run = masala("metrics", "--client", MASALA, "--by", "age", "--since", since, "--json")

    assert run.exit_code == 0, run.stderr
    lines = json.loads(run.stdout)
    assert lines and set(lines[0]) == {"age", "spend", "impressions", "clicks", "conversions",
                                       "conversion_value", "ctr", "cpa", "reach", "currency"}
    ages = [line["age"] for line in lines]
    assert "Unknown" in ages and "18-24" in ages and "AGE_RANGE_25_34" not in ages
    spends = [line["spend"] for line in lines]
    assert spends == sorted(spends, reverse=True)


def test_metrics_by_age_shows_unknown_numbers_as_na(synced: Synced, masala: Callable[..., Any]) -> None:
    since = (synced.today - dt.timedelta(days=39)).isoformat()
    run = masala("metrics", "--client", MASALA, "--by", "gender", "--since", since)

    assert run.exit_code == 0, run.stderr
    assert "female" in run.stdout and "n/a" in run.stdout  # Google's reach is unknown


def test_client_breakdowns_are_kept_cleared_and_left_to_the_setting(masala: Callable[..., Any]) -> None:
    def breakdowns(*args: str) -> Any:
        run = masala("client", "edit", MASALA, "--breakdowns", *args, "--json")
        assert run.exit_code == 0, run.stderr
        return json.loads(run.stdout)["breakdowns"]

    assert breakdowns("country, age_gender,country") == ["country", "age_gender"]
    assert breakdowns("none") == []
    assert breakdowns("") is None  # [sync] breakdowns decides
    shown = masala("client", "show", PEAK, "--json")
    assert json.loads(shown.stdout)["breakdowns"] is None


def test_client_breakdowns_refuse_an_unknown_name(masala: Callable[..., Any]) -> None:
    assert_bad_input(masala("client", "edit", MASALA, "--breakdowns", "age_gender,planet"),
                     "'planet'", "age_gender, country, placement, device")


def test_sync_breakdowns_setting_refuses_an_unknown_name(masala: Callable[..., Any], home: Path) -> None:
    (home / "datadrip.toml").write_text('[sync]\nbreakdowns = "age,country"\n', encoding="utf-8")
    run = masala("sync", "--client", MASALA, "--dry-run")
    assert run.exit_code == 2 and run.stdout == "" and "Traceback" not in run.stderr
    assert run.stderr.startswith("error: ")
    assert "'age'" in run.stderr and "age_gender, country, placement, device" in run.stderr


def test_metrics_by_refuses_an_unknown_dimension(masala: Callable[..., Any]) -> None:
    assert_bad_input(masala("metrics", "--client", MASALA, "--by", "planet"), "planet")


def test_report_shows_who_saw_the_ads_in_every_format(synced: Synced, masala: Callable[..., Any]) -> None:
    from datadrip.reports.summary import escape

    window = ("--since", (synced.today - dt.timedelta(days=9)).isoformat(),
              "--until", (synced.today - dt.timedelta(days=3)).isoformat())
    built = masala("report", "build", MASALA, *window, "--format", "json")
    assert built.exit_code == 0, built.stderr
    audience = json.loads(built.stdout)["audience"]
    assert [part["dimension"] for part in audience] == list(DIMENSIONS)
    ages = audience[0]["values"]
    assert len(ages) == 5 and audience[0]["more"] == 2  # seven age values, the top five shown
    spends = [float(item["spend"]) for item in ages]
    assert spends == sorted(spends, reverse=True)
    top = ages[0]["value"]

    text = masala("report", "build", MASALA, *window, "--format", "txt").stdout
    markdown = masala("report", "build", MASALA, *window, "--format", "md").stdout
    html = masala("report", "build", MASALA, *window, "--format", "html").stdout
    assert "\n\nWHO SAW THE ADS\n  Age:\n    " + top in text
    assert "## Who saw the ads\n\n| Age | Spend |" in markdown
    assert f"| {escape(top)} |" in markdown  # as Markdown text: "65\\+", "55\\-64"
    assert ">Who saw the ads</td>" in html and f">{top}</td>" in html


def test_report_of_a_client_without_breakdowns_has_no_audience_section(
        synced: Synced, masala: Callable[..., Any]) -> None:
    built = masala("report", "build", PEAK, "--format", "json")
    assert built.exit_code == 0, built.stderr
    assert json.loads(built.stdout)["audience"] == []
    assert "WHO SAW THE ADS" not in masala("report", "build", PEAK, "--format", "txt").stdout
