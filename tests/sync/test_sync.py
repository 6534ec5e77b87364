"""`datadrip sync` against the sandbox over real HTTP, into a real SQLite workbook: exact totals,
idempotent re-syncs, restated conversions, incremental windows, per-account failures, the lock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import assert_bad_input
from sync_support import ACCOUNTS, LEVELS, metric_snapshot, sql, workbook_totals, world_totals

from datadrip.platforms.base import DateWindow


def _synced(run: Any) -> dict[str, dict[str, Any]]:
    assert run.exit_code == 0, run.stderr
    return {account["account_id"]: account for account in run.json()["accounts"]}


def test_sync_totals_equal_the_platforms_to_the_micro_at_every_level(
        connected: dict[str, Any], dd: Callable[..., Any], sandbox: Any, workbook_path: Path) -> None:
    accounts = _synced(dd("sync", "--json"))

    assert set(accounts) == set(ACCOUNTS)
    for external_id, account in accounts.items():
        assert account["status"] == "succeeded"
        assert account["levels"] == list(LEVELS)
        since, until = dt.date.fromisoformat(account["since"]), dt.date.fromisoformat(account["until"])
        assert (until - since).days + 1 == 90  # [sync] initial_days on a first sync
        expected = world_totals(sandbox, external_id, since, until)
        assert expected[0] > 0
        for level in LEVELS:
            assert workbook_totals(workbook_path, external_id, level, since, until) == expected, \
                (external_id, level)
    currencies = {row[0] for row in sql(workbook_path, "SELECT currency FROM ad_account")}
    assert currencies == {"INR", "USD", "EUR"}


def test_sync_again_changes_nothing(connected: dict[str, Any], dd: Callable[..., Any],
                                    workbook_path: Path) -> None:
    first = _synced(dd("sync", "--json"))
    before = metric_snapshot(workbook_path)

    again = _synced(dd("sync", "--json"))

    assert metric_snapshot(workbook_path) == before
    assert sum(a["rows"] for a in first.values()) == len(before)
    # Incremental: only the lookback window is read again (Meta 28 days, Google 30, plus today).
    assert {external_id: (dt.date.fromisoformat(a["until"]) - dt.date.fromisoformat(a["since"])).days
            for external_id, a in again.items()} == {
        external_id: 28 if external_id.startswith("act_") else 30 for external_id in ACCOUNTS}


def test_sync_picks_up_restated_conversions_inside_the_lookback(
        connected: dict[str, Any], dd: Callable[..., Any], sandbox: Any, workbook_path: Path) -> None:
    _synced(dd("sync", "--json", "--level", "campaign"))
    day = sandbox.app.state.clock.today_in("Asia/Kolkata") - dt.timedelta(days=3)
    early = workbook_totals(workbook_path, "act_1010000001", "campaign", day, day)

    sandbox.app.state.clock.advance(dt.timedelta(days=10))  # conversions of that day kept arriving
    later = world_totals(sandbox, "act_1010000001", day, day)
    assert later[3] > early[3]  # the platform now reports more conversions for that day

    # The sandbox moved on ten days; sync plans from the real today, so ask for the window.
    _synced(dd("sync", "--json", "--level", "campaign", "--since", day.isoformat()))
    assert workbook_totals(workbook_path, "act_1010000001", "campaign", day, day)[3] == later[3]


def test_sync_dry_run_shows_the_plan_and_writes_nothing(connected: dict[str, Any],
                                                         dd: Callable[..., Any],
                                                         workbook_path: Path) -> None:
    run = dd("sync", "--dry-run", "--json", "--client", "Masala Mornings", "--platform", "meta")

    assert run.exit_code == 0, run.stderr
    document = run.json()
    assert document["dry_run"] is True
    assert [(a["account_id"], a["status"]) for a in document["accounts"]] == [
        ("act_1010000001", "planned")]
    assert sql(workbook_path, "SELECT COUNT(*) FROM metric_daily") == [(0,)]
    assert sql(workbook_path, "SELECT COUNT(*) FROM sync_run") == [(0,)]


def test_sync_writes_a_sync_run_per_account(connected: dict[str, Any], dd: Callable[..., Any],
                                            workbook_path: Path) -> None:
    accounts = _synced(dd("sync", "--json", "--level", "campaign"))

    runs = sql(workbook_path, "SELECT a.external_id, r.status, r.window_start, r.window_end, r.rows, "
                              "r.levels, r.error, r.finished_at >= r.started_at, r.requests "
                              "FROM sync_run r JOIN ad_account a ON a.id = r.account_id")
    assert sorted(run[:7] for run in runs) == sorted(
        (external_id, "succeeded", a["since"], a["until"], a["rows"], "campaign", None)
        for external_id, a in accounts.items())
    assert all(run[7] == 1 and run[8] >= 1 for run in runs)


def test_sync_records_the_attribution_setting_meta_applied(connected: dict[str, Any],
                                                            dd: Callable[..., Any]) -> None:
    accounts = _synced(dd("sync", "--json", "--level", "campaign", "--platform", "meta"))

    assert {a["attribution_setting"] for a in accounts.values()} == {"7d_click_1d_view"}
    listed = dd("account", "list", "--json").json()
    assert {a["account_id"]: a["attribution_setting"] for a in listed if a["platform"] == "meta"} == {
        "act_1010000001": "7d_click_1d_view", "act_1010000002": "7d_click_1d_view",
        "act_1010000003": "7d_click_1d_view"}


def test_sync_client_conversion_actions_choose_what_counts(connected: dict[str, Any],
                                                           dd: Callable[..., Any], sandbox: Any,
                                                           workbook_path: Path) -> None:
    assert dd("client", "edit", "Masala Mornings", "--conversion-actions", "link_click").exit_code == 0

    account = _synced(dd("sync", "--json", "--level", "campaign", "--client", "Masala Mornings",
                         "--platform", "meta"))["act_1010000001"]

    since, until = dt.date.fromisoformat(account["since"]), dt.date.fromisoformat(account["until"])
    spend, impressions, clicks, conversions, value = workbook_totals(
        workbook_path, "act_1010000001", "campaign", since, until)
    purchases = world_totals(sandbox, "act_1010000001", since, until)[3]
    assert 0 < conversions <= clicks  # link clicks, not purchases
    assert conversions != purchases
    assert value == 0  # link clicks carry no value


def test_account_edit_finds_an_account_by_any_id_form_its_platform_accepts(
        connected: dict[str, Any], dd: Callable[..., Any]) -> None:
    google = dd("account", "edit", "202-000-0001", "--lookback-days", "45", "--json")
    meta = dd("account", "edit", "1010000001", "--lookback-days", "40", "--json")

    assert (google.exit_code, meta.exit_code) == (0, 0), google.stderr + meta.stderr
    assert (google.json()["account_id"], meta.json()["account_id"]) == ("2020000001", "act_1010000001")


def test_sync_account_lookback_setting_widens_the_incremental_window(connected: dict[str, Any],
                                                                      dd: Callable[..., Any]) -> None:
    _synced(dd("sync", "--json", "--level", "campaign"))
    edited = dd("account", "edit", "2020000001", "--lookback-days", "60", "--json")
    assert edited.exit_code == 0, edited.stderr
    assert edited.json()["lookback_days"] == 60

    again = _synced(dd("sync", "--json", "--level", "campaign", "--platform", "google"))

    days = {external_id: (dt.date.fromisoformat(a["until"]) - dt.date.fromisoformat(a["since"])).days
            for external_id, a in again.items()}
    assert days == {"2020000001": 60, "2020000002": 30}


def test_sync_skips_inactive_clients_unless_named(connected: dict[str, Any],
                                                  dd: Callable[..., Any]) -> None:
    assert dd("client", "edit", "Peak Trail Outfitters", "--inactive").exit_code == 0

    everyone = _synced(dd("sync", "--dry-run", "--json"))
    named = _synced(dd("sync", "--dry-run", "--json", "--client", "Peak Trail Outfitters"))

    assert set(everyone) == {"act_1010000001", "2020000001"}
    assert set(named) == {"act_1010000002", "act_1010000003", "2020000002"}


# --- failures ------------------------------------------------------------------------------------

def test_sync_one_failing_account_does_not_stop_the_others_and_exits_3(
        connected: dict[str, Any], dd: Callable[..., Any], sandbox: Any, workbook_path: Path) -> None:
    from datadrip.sandbox.faults import FaultRule

    sandbox.app.faults.add(FaultRule("permission", platform="google", path="2020000002", nth=1,
                                     times=10_000))

    run = dd("sync", "--level", "campaign")

    assert run.exit_code == 3, run.stderr
    assert "Peak Trail Outfitters · google 2020000002:" in run.stderr
    assert "error: 1 of 5 accounts failed; the others are saved" in run.stderr
    statuses = dict(sql(workbook_path, "SELECT a.external_id, r.status FROM sync_run r "
                                       "JOIN ad_account a ON a.id = r.account_id"))
    assert statuses.pop("2020000002") == "failed"
    assert set(statuses.values()) == {"succeeded"}
    saved = dict(sql(workbook_path, "SELECT a.external_id, COUNT(*) FROM metric_daily m "
                                    "JOIN ad_account a ON a.id = m.account_id GROUP BY 1"))
    assert set(saved) == set(ACCOUNTS) - {"2020000002"}


def test_sync_revoked_login_marks_the_accounts_and_names_the_connect_command(
        connected: dict[str, Any], dd: Callable[..., Any], sandbox: Any) -> None:
    for token in sandbox.app.state.tokens.values():
        if token.platform == "google":
            token.revoked = True

    run = dd("sync", "--level", "campaign", "--platform", "google")

    assert run.exit_code == 4, run.stderr
    assert "datadrip connect google 'Masala Mornings'" in run.stderr or \
        'datadrip connect google "Masala Mornings"' in run.stderr
    listed = {a["account_id"]: a["status"] for a in dd("account", "list", "--json").json()}
    assert listed["2020000001"] == listed["2020000002"] == "needs_reauth"
    assert listed["act_1010000001"] == "active"

    # Later syncs do not call the platform for it again; they say what to do, and the rest syncs:
    # a login needed wins over "partly done" (exit 4, not 3).
    mixed = dd("sync", "--level", "campaign", "--json")
    assert mixed.exit_code == 4
    assert "error: 2 of 5 accounts failed: a login is needed; the others are saved" in mixed.stderr
    failed = [a for a in mixed.json()["accounts"] if a["status"] == "failed"]
    assert {a["account_id"] for a in failed} == {"2020000001", "2020000002"}
    assert all(a["needs_login"] and a["hint"].startswith("run: datadrip connect google") for a in failed)


def test_sync_refuses_bad_arguments(connected: dict[str, Any], dd: Callable[..., Any]) -> None:
    assert_bad_input(dd("sync", "--since", "2026-11-20", "--until", "2026-11-01"), "--until")
    assert_bad_input(dd("sync", "--client", "Nobody"), "no client 'Nobody'")
    assert_bad_input(dd("sync", "--since", "yesterday"), "--since")
    assert_bad_input(dd("sync", "--level", "keyword"), "--level")


def test_sync_without_connected_accounts_says_how_to_connect(agency: dict[str, Any],
                                                             dd: Callable[..., Any]) -> None:
    run = dd("sync")

    assert_bad_input(run, "no connected ad accounts to sync")
    assert "datadrip connect" in run.stderr


def test_sync_a_second_sync_reports_the_lock_and_exits_1(connected: dict[str, Any],
                                                         dd: Callable[..., Any],
                                                         workbook_path: Path) -> None:
    from datadrip.sync.lock import lock_path, sync_lock

    with sync_lock(lock_path(str(workbook_path), workbook_path.parent), wait=False):
        run = dd("sync")

    assert run.exit_code == 1
    assert run.stderr.startswith("error: another sync is already running on this workbook")
    assert "--wait" in run.stderr
    assert sql(workbook_path, "SELECT COUNT(*) FROM sync_run") == [(0,)]


def test_account_edit_lookback_refuses_bad_input_and_changes_nothing(connected: dict[str, Any],
                                                                     dd: Callable[..., Any]) -> None:
    before = dd("account", "list", "--json").json()

    assert_bad_input(dd("account", "edit", "act_1010000001", "--lookback-days", "-1"), "--lookback-days")
    assert_bad_input(dd("account", "edit", "act_1010000001", "--lookback-days", "401"), "--lookback-days")
    assert_bad_input(dd("account", "edit", "act_999", "--lookback-days", "7"),
                     "no connected ad account 'act_999'")
    assert_bad_input(dd("account", "edit", "act_1010000001"), "nothing to change")
    assert_bad_input(dd("account", "edit", "act_1010000001", "--lookback-days", "7",
                        "--default-lookback"), "contradict")

    assert dd("account", "list", "--json").json() == before


def test_account_edit_default_lookback_goes_back_to_the_platform_setting(
        connected: dict[str, Any], dd: Callable[..., Any]) -> None:
    assert dd("account", "edit", "1010000001", "--lookback-days", "7").exit_code == 0

    run = dd("account", "edit", "act_1010000001", "--default-lookback", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["lookback_days"] is None
    actions = [e["action"] for e in dd("audit", "--json").json()]
    assert actions.count("account.edit") == 2


def test_sync_a_window_wholly_in_the_future_is_refused(connected: dict[str, Any], dd: Callable[..., Any],
                                                       workbook_path: Path) -> None:
    # No account's calendar reaches 9999: the window is after today wherever the test runs.
    for extra in ((), ("--dry-run",), ("--client", "Masala Mornings", "--json")):
        error = assert_bad_input(dd("sync", "--since", "9999-12-01", *extra),
                                 "--since 9999-12-01 is in the future: today is ",
                                 "so there is nothing to fetch yet")
        if "--client" in extra:  # both of Masala's accounts keep Kolkata's calendar
            assert error.endswith(" in Asia/Kolkata, so there is nothing to fetch yet")
    assert sql(workbook_path, "SELECT count(*) FROM sync_run") == [(0,)]
    assert sql(workbook_path, "SELECT count(*) FROM metric_daily") == [(0,)]


def test_sync_since_after_today_is_judged_in_each_account_time_zone(connected: dict[str, Any]) -> None:
    from datadrip.core.errors import UsageError
    from datadrip.platforms.registry import load_settings
    from datadrip.sync.run import SyncRequest, sync_accounts

    loaded = load_settings()
    # 20:00 UTC on 7 December: already the 8th in Kolkata, still the 7th in New York and Berlin.
    now = dt.datetime(2026, 12, 7, 20, 0, tzinfo=dt.UTC)

    with pytest.raises(UsageError) as caught:
        sync_accounts(loaded, SyncRequest(since=dt.date(2026, 12, 9), now=now, dry_run=True))
    assert caught.value.message == (
        "--since 2026-12-09 is in the future: today is 2026-12-08 in Asia/Kolkata, the latest of the "
        "accounts' time zones, so there is nothing to fetch yet")
    assert caught.value.hint == "Give a --since up to 2026-12-08, or leave it out."

    outcome = sync_accounts(loaded, SyncRequest(since=dt.date(2026, 12, 8), now=now, dry_run=True))
    windows = {a.account_id: (a.window, a.warnings) for a in outcome.accounts}
    today_in_kolkata = DateWindow(dt.date(2026, 12, 8), dt.date(2026, 12, 8))
    assert windows["act_1010000001"] == (today_in_kolkata, [])
    assert windows["2020000001"] == (today_in_kolkata, [])
    for external_id, zone in (("act_1010000002", "America/New_York"), ("act_1010000003", "Europe/Berlin"),
                              ("2020000002", "America/New_York")):
        assert windows[external_id] == (None, [
            f"nothing to fetch: --since 2026-12-08 is after today (2026-12-07 in {zone})"])


def test_sync_platform_that_is_not_installed_exits_2_naming_the_installed_ones(
        dd: Callable[..., Any], workbook_path: Path) -> None:
    run = dd("sync", "--platform", "tiktok", "--json")

    line = assert_bad_input(run, "--platform", "'tiktok' is not an installed platform")
    assert "(installed: google, meta)" in line
    assert not workbook_path.exists()


def test_sync_skips_an_account_whose_platform_is_not_installed_and_syncs_the_others(
        connected: dict[str, Any], dd: Callable[..., Any], workbook_path: Path) -> None:
    from tests.commands.test_platform import add_tiktok_account

    add_tiktok_account(workbook_path)

    run = dd("sync", "--json", "--level", "campaign", "--client", "Masala Mornings")

    assert run.exit_code == 0, run.stderr
    document = run.json()
    statuses = {a["account_id"]: a["status"] for a in document["accounts"]}
    assert statuses == {"act_1010000001": "succeeded", "2020000001": "succeeded", "7000001": "skipped"}
    assert (document["succeeded"], document["failed"]) == (2, 0)
    assert run.stderr.splitlines() == [
        "warning: skipped 1 account(s) whose platform is not installed (see 'datadrip platform "
        "list'): Masala Mornings · tiktok 7000001"]
    assert sql(workbook_path, "SELECT count(*) FROM sync_run WHERE account_id = 'tt1'") == [(0,)]
    assert sql(workbook_path, "SELECT count(*) FROM metric_daily WHERE account_id = 'tt1'") == [(1,)]
