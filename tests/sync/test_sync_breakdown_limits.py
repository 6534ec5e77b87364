"""Breakdowns at the platforms' time limits, chosen per agency, and by Meta's impression_device,
end to end against the sandbox over HTTP. The sandbox's campaigns began at most 800 days before
its first day (EPOCH), so its clock is moved on to TODAY, two years later, for 37 months back to
fall on days with spend; this process's clock is pinned to the same day:

- `sync --since` older than 37 months syncs the metrics from the first day the platforms keep,
  never asks either platform for a breakdown day before its limit (the sandbox would refuse it),
  and names the days without a breakdown per platform and dimension; `status` and
  `metrics --by age` say so too;
- a client without breakdowns of its own gets its agency's, one with its own keeps them;
- `[meta] device_breakdown = "publisher_platform,impression_device"` gives one device line per
  campaign-day summed over the platforms, with reach unknown;
- reach under a breakdown is shown for one day only."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import assert_bad_input, pinned_clock, sandbox_settings
from sync_support import REFRESH_TOKEN, SYSTEM_TOKEN, own_home, sql

EPOCH = dt.date(2026, 11, 26)  # the sandbox's first day: its world is made then
TODAY = dt.date(2028, 11, 22)  # the sandbox's clock moved on, and this process's
MASALA, PEAK, BLOOM = "Masala Mornings", "Peak Trail Outfitters", "Bloom Botanics"
LIMIT = dt.date(2025, 10, 22)  # 37 months before TODAY: the first day breakdowns are kept
KEPT = LIMIT + dt.timedelta(days=1)  # the first day sync asks for (a day inside, for time zones)
ASKED = dt.date(2025, 8, 1)  # --since, beyond the limit
UNTIL = dt.date(2025, 10, 29)
RECENT = (TODAY - dt.timedelta(days=3), TODAY - dt.timedelta(days=2))
IMPRESSION_DEVICES = {"iphone", "ipad", "android_smartphone", "android_tablet", "desktop", "other"}


@dataclass
class Limits:
    home: Path
    old: dict[str, Any]  # --json of Masala's sync from ASKED (Meta and Google)
    recent: dict[str, Any]  # --json of Peak's and Bloom's Meta sync over RECENT
    meta_requests: list[dict[str, str]]  # Meta insights requests with breakdowns
    google_queries: list[str]  # Google GAQL queries FROM the breakdown views

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return sql(self.home / "workbook.db", query, *params)

    def warnings(self, platform: str) -> list[str]:
        return [warning for account in self.old["accounts"] if account["platform"] == platform
                for warning in account["warnings"]]


@pytest.fixture(scope="module")
def limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limits]:
    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer

    folder = tmp_path_factory.mktemp("breakdown_limits")
    with pinned_clock(TODAY), SandboxServer(SandboxConfig(seed=7, today=EPOCH)) as sandbox, \
            own_home(folder) as dd, pytest.MonkeyPatch.context() as patch:
        sandbox.app.state.clock.advance(TODAY - EPOCH)
        described = sandbox.app.describe(sandbox.base_url)
        for name, value in sandbox_settings(described).items():
            patch.setenv(name, value)
        home = folder / "home"
        home.mkdir(parents=True, exist_ok=True)
        (home / "datadrip.toml").write_text(
            '[meta]\ndevice_breakdown = "publisher_platform,impression_device"\n', encoding="utf-8")
        runs = [dd("agency", "add", "Spice Route Media", "--breakdowns", "age_gender,device"),
                dd("client", "add", MASALA),  # none of its own: the agency's
                dd("client", "add", PEAK, "--breakdowns", "device"),
                dd("client", "add", BLOOM, "--currency", "EUR", "--breakdowns", "age_gender"),
                dd("connect", "meta", MASALA, "--token-stdin", "--account", "act_1010000001",
                   input=SYSTEM_TOKEN),
                dd("connect", "google", MASALA, "--refresh-token-stdin", "--account", "2020000001",
                   input=REFRESH_TOKEN),
                dd("connect", "meta", PEAK, "--token-stdin", "--account", "act_1010000002",
                   input=SYSTEM_TOKEN),
                dd("connect", "meta", BLOOM, "--token-stdin", "--account", "act_1010000003",
                   input=SYSTEM_TOKEN)]
        assert all(run.exit_code == 0 for run in runs), [run.stderr for run in runs]
        old = dd("sync", "--client", MASALA, "--level", "campaign", "--since", ASKED.isoformat(),
                 "--until", UNTIL.isoformat(), "--json")
        assert old.exit_code == 0, old.stderr
        recent = dd("sync", "--client", PEAK, "--client", BLOOM, "--level", "campaign",
                    "--since", RECENT[0].isoformat(), "--until", RECENT[1].isoformat(), "--json")
        assert recent.exit_code == 0, recent.stderr
        state = sandbox.app.state.extra
        yield Limits(home, json.loads(old.stdout), json.loads(recent.stdout),
                     list(state.get("meta_breakdown_requests", [])),
                     list(state.get("google_breakdown_queries", [])))


@pytest.fixture
def workbook_copy(limits: Limits, home: Path, dd: Callable[..., Any]) -> Callable[..., Any]:
    """The synced workbook copied into this test's own DATADRIP_HOME, clock pinned."""
    shutil.copytree(limits.home, home, dirs_exist_ok=True)
    with pinned_clock(TODAY):
        yield dd


def test_sync_since_beyond_37_months_syncs_metrics_from_the_first_day_kept(limits: Limits) -> None:
    assert [account["status"] for account in limits.old["accounts"]] == ["succeeded"] * 2
    firsts = limits.sql("SELECT a.platform, MIN(m.date), MAX(m.date) FROM metric_daily m "
                        "JOIN ad_account a ON a.id = m.account_id "
                        "WHERE a.external_id IN ('act_1010000001', '2020000001') GROUP BY 1 ORDER BY 1")
    assert firsts == [(platform, KEPT.isoformat(), UNTIL.isoformat()) for platform in ("google", "meta")]
    for platform in ("meta", "google"):
        assert f"{ASKED} to {LIMIT} is beyond the 37 months {platform} keeps: not synced; " \
               f"synced from {KEPT}" in limits.warnings(platform)


def test_sync_never_asks_for_a_breakdown_day_before_the_limit(limits: Limits) -> None:
    old = [request for request in limits.meta_requests if request["account_id"] == "1010000001"]
    asked = {(request["breakdowns"], json.loads(request["time_range"])["since"]) for request in old}
    assert {breakdown for breakdown, _ in asked} == {"age", "gender",
                                                     "publisher_platform,impression_device"}
    assert min(since for _, since in asked) == KEPT.isoformat()
    assert len(limits.google_queries) >= 3  # age, gender and device
    assert all(f"'{KEPT}' AND '{UNTIL}'" in query for query in limits.google_queries), \
        limits.google_queries
    held = limits.sql("SELECT MIN(b.date) FROM metric_breakdown_daily b JOIN ad_account a "
                      "ON a.id = b.account_id WHERE a.external_id IN ('act_1010000001', '2020000001')")
    assert held == [(KEPT.isoformat(),)]


def test_sync_names_the_days_without_a_breakdown_per_platform_and_dimension(limits: Limits) -> None:
    for platform in ("meta", "google"):
        for dimension in ("age", "gender", "device"):
            assert f"breakdown by {dimension}: {ASKED} to {LIMIT} is unavailable, not synced " \
                   f"({platform} keeps breakdowns from {LIMIT}; synced from {KEPT})" \
                   in limits.warnings(platform)


def test_status_shows_the_last_sync_breakdown_warnings(limits: Limits,
                                                       workbook_copy: Callable[..., Any]) -> None:
    shown = workbook_copy("status", "--json")
    accounts = {account["account_id"]: account for account in json.loads(shown.stdout)["accounts"]}
    assert any(warning.startswith(f"breakdown by age: {ASKED} to {LIMIT} is unavailable")
               for warning in accounts["act_1010000001"]["last_sync"]["warnings"])
    text = workbook_copy("status").stdout
    assert f"breakdown by age: {ASKED} to {LIMIT} is unavailable" in text


def test_metrics_by_age_names_the_days_without_a_breakdown(limits: Limits,
                                                           workbook_copy: Callable[..., Any]) -> None:
    run = workbook_copy("metrics", "--client", MASALA, "--by", "age", "--since", ASKED.isoformat(),
                        "--until", UNTIL.isoformat(), "--json")

    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)  # the days that have one are there
    assert f"No breakdown by age for {ASKED} to {LIMIT}: " in run.stderr
    kept = workbook_copy("metrics", "--client", MASALA, "--by", "age", "--since", KEPT.isoformat(),
                         "--until", UNTIL.isoformat(), "--json")
    assert kept.exit_code == 0 and "No breakdown" not in kept.stderr


def test_sync_breakdowns_come_from_the_client_else_its_agency(limits: Limits) -> None:
    held = limits.sql("SELECT c.name, GROUP_CONCAT(DISTINCT b.dimension) FROM metric_breakdown_daily b "
                      "JOIN ad_account a ON a.id = b.account_id JOIN client c ON c.id = a.client_id "
                      "GROUP BY 1 ORDER BY 1")
    assert {name: set(dimensions.split(",")) for name, dimensions in held} == {
        BLOOM: {"age", "gender"}, MASALA: {"age", "gender", "device"}, PEAK: {"device"}}


def test_meta_impression_device_lines_sum_the_platforms_with_reach_unknown(limits: Limits) -> None:
    rows = limits.sql("SELECT b.value, b.reach FROM metric_breakdown_daily b JOIN ad_account a "
                      "ON a.id = b.account_id WHERE a.platform = 'meta' AND b.dimension = 'device'")
    assert rows and {value for value, _ in rows} <= IMPRESSION_DEVICES
    assert {reach for _, reach in rows} == {None}
    mismatched = limits.sql(
        "SELECT m.date, m.entity_id FROM metric_daily m JOIN ad_account a ON a.id = m.account_id "
        "LEFT JOIN (SELECT account_id, date, entity_id, SUM(spend_micros) s, SUM(impressions) i, "
        "SUM(clicks) c FROM metric_breakdown_daily WHERE dimension = 'device' GROUP BY 1, 2, 3) b "
        "ON b.account_id = m.account_id AND b.date = m.date AND b.entity_id = m.entity_id "
        "WHERE a.external_id IN ('act_1010000001', 'act_1010000002') AND m.level = 'campaign' "
        "AND m.impressions > 0 AND "
        "(b.s IS NOT m.spend_micros OR b.i IS NOT m.impressions OR b.c IS NOT m.clicks)")
    assert mismatched == []


def test_metrics_by_age_shows_reach_for_one_day_only(limits: Limits,
                                                     workbook_copy: Callable[..., Any]) -> None:
    def lines(since: dt.date, until: dt.date) -> list[dict[str, Any]]:
        run = workbook_copy("metrics", "--client", BLOOM, "--by", "age", "--since", since.isoformat(),
                            "--until", until.isoformat(), "--json")
        assert run.exit_code == 0, run.stderr
        return json.loads(run.stdout)

    one_day = lines(RECENT[0], RECENT[0])
    assert one_day and all(isinstance(line["reach"], int) and line["reach"] > 0 for line in one_day)
    two_days = lines(*RECENT)
    assert two_days and all(line["reach"] is None for line in two_days)
    assert sum(line["impressions"] for line in two_days) > sum(line["impressions"] for line in one_day)
    table = workbook_copy("metrics", "--client", BLOOM, "--by", "age", "--since",
                          RECENT[0].isoformat(), "--until", RECENT[1].isoformat())
    assert "n/a" in table.stdout


@pytest.mark.parametrize("value", ["impression_device", "publisher_platform,device_platform"])
def test_meta_device_breakdown_setting_refused_is_a_config_error_and_nothing_syncs(
        limits: Limits, workbook_copy: Callable[..., Any], home: Path, value: str) -> None:
    (home / "datadrip.toml").write_text(f'[meta]\ndevice_breakdown = "{value}"\n', encoding="utf-8")
    runs = limits.sql("SELECT COUNT(*) FROM sync_run")

    assert_bad_input(workbook_copy("sync", "--client", PEAK), "device_breakdown",
                     "publisher_platform,impression_device")
    assert sql(home / "workbook.db", "SELECT COUNT(*) FROM sync_run") == runs


def test_sync_window_wholly_beyond_37_months_syncs_nothing_and_says_so(
        limits: Limits, workbook_copy: Callable[..., Any]) -> None:
    until = LIMIT - dt.timedelta(days=10)
    run = workbook_copy("sync", "--client", MASALA, "--since", ASKED.isoformat(), "--until",
                        until.isoformat(), "--dry-run", "--json")

    assert run.exit_code == 0, run.stderr
    accounts = json.loads(run.stdout)["accounts"]
    assert [account["levels"] for account in accounts] == [[], []]
    assert all(f"{ASKED} to {until} is beyond the 37 months {account['platform']} keeps (from "
               f"{KEPT}): nothing to sync, breakdowns neither" in account["warnings"]
               for account in accounts), accounts


def test_metrics_note_on_days_without_a_breakdown_names_five_runs_and_counts_the_rest() -> None:
    from datadrip.analytics.breakdowns import days_without_note
    from datadrip.core.periods import Period

    first = dt.date(2026, 1, 1)
    runs = [Period(first + dt.timedelta(days=3 * n), first + dt.timedelta(days=3 * n + (n % 2)),
                   "custom") for n in range(7)]
    note = days_without_note(runs, "country")
    assert note.startswith("No breakdown by country for 2026-01-01, 2026-01-04 to 2026-01-05, "
                           "2026-01-07, 2026-01-10 to 2026-01-11, 2026-01-13 and 2 more: ")
    assert days_without_note([], "country") == ""
