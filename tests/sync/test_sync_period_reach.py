"""A period's reach and Google's search impression shares, end to end: Masala Mornings (Meta and
Google, both Asia/Kolkata) synced at campaign level from the sandbox over HTTP into a SQLite
workbook. Meta's reach is fetched for each period DataDrip shows, over the whole range (never a
sum of days), equal to the sandbox's own count and below the sum of the days; `metrics` shows it
for exactly the range fetched, n/a elsewhere; a withheld reach is NULL, never 0. Google's shares
are kept in millionths of what the API sent, and a period's share is weighted by eligible
impressions, never summed. One sync serves the module; tests that break things use a copy."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sync_support import REFRESH_TOKEN, SYSTEM_TOKEN, sql
from typer.testing import CliRunner

from datadrip.analytics.totals import Shares
from datadrip.cli import app
from datadrip.core.periods import REACH_PRESETS, preset_period, reach_periods
from datadrip.sandbox.google.shares import SHARE_CHANNELS, reported, true_shares
from datadrip.sandbox.meta.insights import period_reach_truth

CLIENT = "Masala Mornings"
META, GOOGLE = "1010000001", "2020000001"
DAYS = 75  # back to the start of the month before last: every reach period's days are held


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer

    home = tmp_path_factory.mktemp("reach") / "home"
    with SandboxServer(SandboxConfig(seed=7)) as sandbox:
        described = sandbox.app.describe(sandbox.base_url)
        meta, google = described["meta"], described["google"]
        env = {"DATADRIP_HOME": str(home), "DATADRIP_USER_EMAIL": "tester@agency.example",
               "DATADRIP_SECRETS_BACKEND": "file", "DATADRIP_META_APP_SECRET": meta["app_secret"],
               "DATADRIP_GOOGLE_CLIENT_SECRET": google["client_secret"],
               **{f"DATADRIP_META_{key.upper()}": meta[key]
                  for key in ("graph_url", "dialog_url", "app_id")},
               **{f"DATADRIP_GOOGLE_{key.upper()}": google[key]
                  for key in ("api_url", "auth_url", "token_url", "revoke_url", "client_id")}}
        runner = CliRunner()

        def dd(*args: str, input: str | None = None, environment: dict[str, str] | None = None
               ) -> Any:
            return runner.invoke(app, list(args), input=input, env=environment or env)

        for args, given in ((("agency", "add", "Spice Route Media", "--timezone", "Asia/Kolkata"),
                             None),
                            (("client", "add", CLIENT), None),
                            (("connect", "meta", CLIENT, "--token-stdin", "--account",
                              f"act_{META}"), SYSTEM_TOKEN),
                            (("connect", "google", CLIENT, "--refresh-token-stdin", "--account",
                              GOOGLE), REFRESH_TOKEN)):
            result = dd(*args, input=given)
            assert result.exit_code == 0, (args, result.stderr)
        today = sandbox.app.state.clock.today_in("Asia/Kolkata")
        since = today - dt.timedelta(days=DAYS)
        first = dd("sync", "--level", "campaign", "--since", since.isoformat(), "--json")
        assert first.exit_code == 0, first.stderr
        yield SimpleNamespace(sandbox=sandbox, dd=dd, env=env, home=home,
                              workbook=home / "workbook.db", today=today, since=since,
                              runs=json.loads(first.stdout))


def _reach_rows(workbook: Path) -> list[tuple[Any, ...]]:
    """(level, platform id of the entity, date_from, date_to, reach) of the Meta account."""
    return [(level, external, dt.date.fromisoformat(since), dt.date.fromisoformat(until), reach)
            for level, external, since, until, reach in sql(
                workbook, "SELECT r.level, COALESCE(e.external_id, a.external_id), r.date_from, "
                "r.date_to, r.reach FROM metric_period_reach r JOIN ad_account a "
                "ON a.id = r.account_id LEFT JOIN entity e ON e.id = r.entity_id "
                "WHERE a.external_id = ? ORDER BY 1, 2, 3, 4", f"act_{META}")]


def _metrics(synced: SimpleNamespace, by: str, since: dt.date, until: dt.date, chosen: str,
             environment: dict[str, str] | None = None) -> list[dict[str, Any]]:
    result = synced.dd("metrics", "--client", CLIENT, "--by", by, "--since", since.isoformat(),
                       "--until", until.isoformat(), "--metrics", chosen, "--json",
                       environment=environment)
    assert result.exit_code == 0, result.stderr
    records: list[dict[str, Any]] = json.loads(result.stdout)
    return records


def _copy(synced: SimpleNamespace, folder: Path) -> dict[str, str]:
    """The synced home copied to `folder`: the environment of a run there."""
    shutil.copytree(synced.home, folder / "home")
    return {**synced.env, "DATADRIP_HOME": str(folder / "home")}


# --- a period's reach ----------------------------------------------------------------------------

def test_period_reach_is_fetched_for_each_period_shown_at_account_and_campaign_level(
        synced: SimpleNamespace) -> None:
    rows = _reach_rows(synced.workbook)
    ranges = {(period.since, period.until) for period in reach_periods(synced.today)}

    assert {(since, until) for _, _, since, until, _ in rows} == ranges
    assert {level for level, *_ in rows} == {"account", "campaign"}
    assert ("account", f"act_{META}") in {(level, entity) for level, entity, *_ in rows}
    # The periods are the presets and the ones before them, of more than one day.
    assert len(ranges) <= 2 * len(REACH_PRESETS)
    assert all(until > since for since, until in ranges)
    google = sql(synced.workbook, "SELECT COUNT(*) FROM metric_period_reach r JOIN ad_account a "
                                  "ON a.id = r.account_id WHERE a.platform = 'google'")
    assert google == [(0,)]  # Google has no reach


def test_period_reach_equals_the_sandboxs_range_count_and_is_below_the_sum_of_days(
        synced: SimpleNamespace) -> None:
    below = 0
    for level, entity, since, until, reach in _reach_rows(synced.workbook):
        key = META if level == "account" else entity
        assert reach == period_reach_truth(synced.sandbox.app, META, level, key, since, until)
        if level != "campaign":
            continue
        days, summed = sql(synced.workbook,
                           "SELECT COUNT(*), SUM(m.reach) FROM metric_daily m JOIN entity e "
                           "ON e.id = m.entity_id WHERE e.external_id = ? AND m.level = 'campaign' "
                           "AND m.impressions > 0 AND m.date BETWEEN ? AND ?",
                           entity, since.isoformat(), until.isoformat())[0]
        if days > 1:
            assert reach < summed, (entity, since, until)
            below += 1
    assert below > 0


def test_metrics_shows_the_reach_fetched_for_exactly_that_range(synced: SimpleNamespace) -> None:
    week = preset_period("last-7-days", synced.today)
    stored = {(level, entity): reach for level, entity, since, until, reach
              in _reach_rows(synced.workbook) if (since, until) == (week.since, week.until)}

    accounts = {line["account"]: line for line in
                _metrics(synced, "account", week.since, week.until, "impressions,reach,frequency")}
    meta = accounts[f"act_{META}"]
    assert meta["reach"] == stored[("account", f"act_{META}")] > 0
    assert Decimal(str(meta["frequency"])) == (Decimal(meta["impressions"]) / meta["reach"]).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert accounts[GOOGLE]["reach"] is None and accounts[GOOGLE]["frequency"] is None

    campaigns = _metrics(synced, "campaign", week.since, week.until, "reach,frequency")
    meta_lines = [line for line in campaigns if line["platform"] == "meta"]
    assert meta_lines and all(line["reach"] == stored[("campaign", line["campaign_external_id"])]
                              for line in meta_lines)
    # Two accounts delivered: their people may overlap, so the client's reach is n/a, not a sum.
    [total] = _metrics(synced, "total", week.since, week.until, "reach,frequency")
    assert total == {"reach": None, "frequency": None, "currency": "INR"}
    [platform] = [line for line in _metrics(synced, "platform", week.since, week.until, "reach")
                  if line["platform"] == "meta"]
    assert platform["reach"] == meta["reach"]


def test_metrics_reach_is_na_for_a_range_no_sync_fetched(synced: SimpleNamespace) -> None:
    yesterday = synced.today - dt.timedelta(days=1)
    since = yesterday - dt.timedelta(days=9)  # ten days: no period DataDrip fetches
    assert (since, yesterday) not in {(p.since, p.until) for p in reach_periods(synced.today)}

    lines = _metrics(synced, "campaign", since, yesterday, "impressions,reach,frequency")

    assert lines and all(line["reach"] is None and line["frequency"] is None for line in lines)
    assert any(line["impressions"] for line in lines)


def test_metrics_one_day_campaign_reach_is_the_days_row(synced: SimpleNamespace) -> None:
    day = synced.today - dt.timedelta(days=1)
    rows = dict(sql(synced.workbook, "SELECT e.external_id, m.reach FROM metric_daily m JOIN entity e "
                                     "ON e.id = m.entity_id JOIN ad_account a ON a.id = m.account_id "
                                     "WHERE a.platform = 'meta' AND m.level = 'campaign' AND m.date = ?",
                    day.isoformat()))

    lines = [line for line in _metrics(synced, "campaign", day, day, "reach")
             if line["platform"] == "meta"]

    assert lines and {line["campaign_external_id"]: line["reach"] for line in lines} == rows


def test_sync_again_replaces_the_period_reach_without_duplicates(synced: SimpleNamespace,
                                                                 tmp_path: Path) -> None:
    environment = _copy(synced, tmp_path)
    before = _reach_rows(tmp_path / "home" / "workbook.db")

    again = synced.dd("sync", "--level", "campaign", "--platform", "meta", environment=environment)

    assert again.exit_code == 0, again.stderr
    assert _reach_rows(tmp_path / "home" / "workbook.db") == before


def test_sync_withheld_reach_is_null_never_zero_with_a_warning(synced: SimpleNamespace,
                                                               tmp_path: Path) -> None:
    from datadrip.sandbox.faults import FaultRule

    environment = _copy(synced, tmp_path)
    synced.sandbox.app.faults.add(FaultRule("no_reach", platform="meta", path="/insights",
                                            nth=1, times=10_000))
    try:
        run = synced.dd("sync", "--level", "campaign", "--platform", "meta", "--json",
                        environment=environment)
    finally:
        synced.sandbox.app.faults.clear()

    assert run.exit_code == 0, run.stderr
    [account] = json.loads(run.stdout)["accounts"]
    withheld = [warning for warning in account["warnings"] if "withheld the reach" in warning]
    periods = len(reach_periods(synced.today))
    assert len(withheld) == 1 and withheld[0].startswith(
        f"Meta withheld the reach of act_{META} over {periods} period(s) ("), withheld
    rows = _reach_rows(tmp_path / "home" / "workbook.db")
    assert rows and all(reach is None for *_, reach in rows)
    week = preset_period("last-7-days", synced.today)
    [meta] = [line for line in _metrics(synced, "account", week.since, week.until, "reach,frequency",
                                        environment) if line["platform"] == "meta"]
    assert meta["reach"] is None and meta["frequency"] is None


def test_sync_unreadable_reach_fails_clearly_and_writes_no_reach(synced: SimpleNamespace,
                                                                  tmp_path: Path) -> None:
    from datadrip.sandbox.faults import FaultRule

    environment = _copy(synced, tmp_path)
    before = _reach_rows(tmp_path / "home" / "workbook.db")
    synced.sandbox.app.faults.add(FaultRule("bad_reach", platform="meta", path="/insights",
                                            nth=1, times=10_000))
    try:
        run = synced.dd("sync", "--level", "campaign", "--platform", "meta",
                        environment=environment)
    finally:
        synced.sandbox.app.faults.clear()

    assert run.exit_code == 1, run.stderr  # every account of the run failed
    assert re.search(rf"^error: {CLIENT} · meta act_{META}: Meta sent reach = 'about 1200' for "
                     r"account .* over .*: not a number", run.stderr, re.MULTILINE), run.stderr
    assert "Traceback" not in run.stderr
    assert _reach_rows(tmp_path / "home" / "workbook.db") == before


# --- Google's search impression shares -----------------------------------------------------------

def _share_rows(workbook: Path) -> list[tuple[Any, ...]]:
    return sql(workbook, "SELECT e.external_id, m.date, m.impressions, "
                         "m.search_impression_share_millionths, m.search_budget_lost_share_millionths, "
                         "m.search_rank_lost_share_millionths FROM metric_daily m JOIN entity e "
                         "ON e.id = m.entity_id JOIN ad_account a ON a.id = m.account_id "
                         "WHERE a.external_id = ? AND m.level = 'campaign' ORDER BY 1, 2", GOOGLE)


def test_google_shares_are_kept_in_millionths_of_what_the_api_sent(synced: SimpleNamespace) -> None:
    channels = {campaign.id: campaign.channel
                for campaign in synced.sandbox.app.world.entities(GOOGLE, "campaign")}
    searched = 0
    for campaign, day, impressions, share, budget, rank in _share_rows(synced.workbook):
        if channels[campaign] not in SHARE_CHANNELS or not impressions:
            assert (share, budget, rank) == (None, None, None)  # absent: not on search
            continue
        sent = reported(*true_shares(campaign, dt.date.fromisoformat(day).toordinal()))
        assert (share, budget, rank) == tuple(int(value * 1_000_000) for value in sent.values())
        searched += 1
    assert searched > 0


def _exact_share(rows: list[tuple[Any, ...]]) -> Fraction:
    """Σ impressions / Σ (impressions / share), exactly."""
    eligible = sum((Fraction(impressions) / Fraction(share, 1_000_000)
                    for _, _, impressions, share, _, _ in rows), Fraction(0))
    return sum((Fraction(row[2]) for row in rows), Fraction(0)) / eligible


def test_google_period_share_is_weighted_by_eligible_impressions_never_summed(
        synced: SimpleNamespace) -> None:
    rows = [row for row in _share_rows(synced.workbook) if row[3] is not None]
    by_campaign: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_campaign.setdefault(row[0], []).append(row)
    # Two consecutive days of one campaign, neither at a bound, with different shares.
    pair = next(group[i:i + 2] for group in by_campaign.values() for i in range(len(group) - 1)
                if group[i][3] != group[i + 1][3] and 99_900 not in (group[i][3], group[i + 1][3])
                and 900_100 not in (group[i][4], group[i][5], group[i + 1][4], group[i + 1][5])
                and group[i][2] != group[i + 1][2])
    first, second = (dt.date.fromisoformat(row[1]) for row in pair)
    assert second == first + dt.timedelta(days=1)

    [line] = [line for line in _metrics(synced, "campaign", first, second,
                                        "impressions,search_impression_share")
              if line["campaign_external_id"] == pair[0][0]]

    # Eligible impressions are summed in thousandths (truncated per day): within a 10⁻⁹ share.
    exact = _exact_share(pair) * 100
    assert abs(Decimal(str(line["search_impression_share"])) - Decimal(exact.numerator) /
               exact.denominator) <= Decimal("0.005")
    plain_sum = Decimal(pair[0][3] + pair[1][3]) / 10_000
    average = plain_sum / 2
    assert Decimal(str(line["search_impression_share"])) not in (
        plain_sum.quantize(Decimal("0.01")), average.quantize(Decimal("0.01")))


def test_google_share_arithmetic_on_a_hand_computed_two_day_example() -> None:
    """Day 1: 1,000 impressions at 50 % (2,000 eligible); day 2: 3,000 at 25 % (12,000
    eligible), losing 10 % and 30 % to budget. The period: 4,000 / 14,000 = 28.57 % (a sum
    would say 75 %, an average 37.5 %); budget lost (200 + 3,600) / 14,000 = 27.14 %."""
    scale = 1000  # eligible impressions in thousandths, as the SQL sums them
    day_one = Shares(1_000, 2_000 * scale, 200 * scale, 1_600 * scale)
    day_two = Shares(3_000, 12_000 * scale, 3_600 * scale, 5_400 * scale)
    day_one.add(day_two)

    assert day_one.values() == {"search_impression_share": Decimal("28.57"),
                                "search_budget_lost_share": Decimal("27.14"),
                                "search_rank_lost_share": Decimal("50.00")}


def test_google_floored_and_capped_days_make_the_period_a_bound(synced: SimpleNamespace) -> None:
    rows = [row for row in _share_rows(synced.workbook) if row[3] is not None]
    floored = next(row for row in rows if row[3] == 99_900)
    day = dt.date.fromisoformat(floored[1])
    [alone] = [line for line in _metrics(synced, "campaign", day, day, "search_impression_share")
               if line["campaign_external_id"] == floored[0]]
    assert alone["search_impression_share"] == "<10"

    group = [row for row in rows if row[0] == floored[0]]
    at = group.index(floored)
    near = group[max(0, at - 3):at + 4]
    since, until = dt.date.fromisoformat(near[0][1]), dt.date.fromisoformat(near[-1][1])
    [line] = [line for line in _metrics(synced, "campaign", since, until,
                                        "search_impression_share,search_rank_lost_share")
              if line["campaign_external_id"] == floored[0]]
    computed = _exact_share(near) * 100
    bound = (Decimal(computed.numerator) / computed.denominator).quantize(
        Decimal("0.01"), rounding=ROUND_CEILING)
    shown = line["search_impression_share"]
    if bound < 10:
        assert shown == "<10"
    else:  # an upper bound, at most a hundredth off the exact one (eligible kept in thousandths)
        assert shown.startswith("<=") and abs(Decimal(shown[2:]) - bound) <= Decimal("0.01")
    capped = any(row[5] == 900_100 for row in near)
    assert str(line["search_rank_lost_share"]).startswith((">=", ">90")) == capped


def test_sync_google_share_above_one_fails_clearly(synced: SimpleNamespace, tmp_path: Path) -> None:
    from datadrip.sandbox.faults import FaultRule

    environment = _copy(synced, tmp_path)
    before = _share_rows(tmp_path / "home" / "workbook.db")
    synced.sandbox.app.faults.add(FaultRule("bad_share", platform="google", path=":searchStream",
                                            nth=1, times=10_000))
    try:
        run = synced.dd("sync", "--level", "campaign", "--platform", "google",
                        environment=environment)
    finally:
        synced.sandbox.app.faults.clear()

    assert run.exit_code == 1, run.stderr
    assert re.search(rf"^error: {CLIENT} · google {GOOGLE}: Google Ads sent an unreadable "
                     r"metrics\.searchImpressionShare \(a share outside 0 to 1: Decimal\('1\.5'\)\)",
                     run.stderr, re.MULTILINE), run.stderr
    assert "Traceback" not in run.stderr
    assert _share_rows(tmp_path / "home" / "workbook.db") == before


def test_report_shows_the_periods_reach_and_search_share_per_channel(synced: SimpleNamespace) -> None:
    week = preset_period("last-7-days", synced.today)
    [account] = [line for line in _metrics(synced, "account", week.since, week.until,
                                           "reach,frequency") if line["platform"] == "meta"]
    [google] = [line for line in _metrics(synced, "platform", week.since, week.until,
                                          "search_impression_share,search_budget_lost_share,"
                                          "search_rank_lost_share") if line["platform"] == "google"]
    built = synced.dd("report", "build", CLIENT, "--period", "last-7-days", "--format", "json")
    assert built.exit_code == 0, built.stderr
    channels = {channel["platform"]: channel for channel in json.loads(built.stdout)["channels"]}

    assert channels["meta"]["reach"] == account["reach"] > 0
    assert Decimal(str(channels["meta"]["frequency"])) == Decimal(str(account["frequency"]))
    assert channels["google"]["reach"] is None
    assert str(channels["google"]["search_share"]) == str(google["search_impression_share"])

    text = synced.dd("report", "build", CLIENT, "--period", "last-7-days", "--format", "txt")
    assert text.exit_code == 0, text.stderr
    assert re.search(rf"^    Reach: {account['reach']:,} people, [\d.]+ impressions each$",
                     text.stdout, re.MULTILINE), text.stdout
    assert re.search(r"^    Search impression share: (at most |below |above |at least )?[\d.]+%",
                     text.stdout, re.MULTILINE), text.stdout


def test_report_over_a_day_shows_no_reach_for_the_account(synced: SimpleNamespace) -> None:
    built = synced.dd("report", "build", CLIENT, "--period", "yesterday", "--format", "json")
    assert built.exit_code == 0, built.stderr
    channels = {channel["platform"]: channel for channel in json.loads(built.stdout)["channels"]}
    assert channels["meta"]["reach"] is None  # an account's reach over one day is not fetched
