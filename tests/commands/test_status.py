"""`datadrip status`: each active client's accounts (last sync, age, outcome, a login needed) and
latest reports; exit 1 when anything is stale, failing or needs a login, 0 when all is well.

Sync runs are written by the sync's own start_run/finish_run (then aged: the sync stamps them
with the real clock); reports are sent by `report send` through the outbox, the default provider."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datadrip.platforms.registry import load_settings
from datadrip.workbook.session import open_session
from tests.analytics.analytics_support import fill_workbook
from tests.commands.status_support import ACCOUNTS, all_synced, execute, sync_run
from tests.reports.report_support import add_campaign_day
from tests.support import pinned_clock

ANSI = re.compile(r"\x1b\[|\x1b\]|\x1b\(")
DAY1 = ("--kind", "daily", "--since", "2026-11-01", "--until", "2026-11-01")
DAY2 = ("--kind", "daily", "--since", "2026-11-02", "--until", "2026-11-02")


@pytest.fixture
def filled(dd: Callable[..., Any]) -> Callable[..., Any]:
    """The hand-made workbook (Dormant is inactive), with a rate and recipients to send to."""
    fill_workbook(dd)
    assert dd("fx", "set", "USD", "INR", "83.10").exit_code == 0
    assert dd("client", "edit", "Masala Mornings", "--recipients", "owner@masala.example").exit_code == 0
    assert dd("client", "edit", "Peak Trail", "--recipients", "team@peaktrail.example").exit_code == 0
    for day in (1, 2):  # a report with no numbers is not sent
        add_campaign_day("Peak Trail", "act_2", "Trail", dt.date(2026, 11, day), "15", currency="USD")
    return dd


def status(dd: Callable[..., Any], *args: str) -> Any:
    run = dd("status", *args, "--json")
    assert "Traceback" not in run.stderr
    return run


def by_account(run: Any) -> dict[str, dict[str, Any]]:
    return {account["account_id"]: account for account in run.json()["accounts"]}


def test_status_all_synced_and_sent_exits_0_with_a_one_line_verdict(filled, home):
    all_synced()
    assert filled("report", "send", "--all", *DAY1, "--json").exit_code == 0

    run = status(filled)

    assert run.exit_code == 0, run.stderr
    result = run.json()
    assert result["ok"] is True and result["problems"] == []
    assert sorted(by_account(run)) == sorted(ACCOUNTS)  # Dormant is inactive: not checked
    masala = by_account(run)["act_1"]
    assert masala["state"] == "ok" and masala["last_sync"]["status"] == "succeeded"
    assert 1.9 <= masala["hours_since_success"] <= 2.1
    reports = {r["client"]: r for r in result["reports"]}
    assert set(reports) == {"Masala Mornings", "Peak Trail"}
    assert reports["Peak Trail"]["status"] == "sent" and reports["Peak Trail"]["sent_at"]
    assert reports["Peak Trail"]["period"] == {"since": "2026-11-01", "until": "2026-11-01"}
    assert run.stderr == "ok: 3 accounts synced within 36 h, 2 latest reports sent\n"


def test_status_an_account_without_a_success_for_36_hours_is_stale_and_exits_1(filled):
    all_synced()
    sync_run("act_2", "succeeded", 40)
    execute("DELETE FROM sync_run WHERE finished_at > :cut AND account_id IN "
            "(SELECT id FROM ad_account WHERE external_id = 'act_2')",
            cut=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=30))

    run = status(filled)

    assert run.exit_code == 1
    peak = by_account(run)["act_2"]
    assert peak["state"] == "stale" and 39.9 <= peak["hours_since_success"] <= 40.1
    [problem] = run.json()["problems"]
    assert problem.startswith("Peak Trail · meta act_2 has not synced since ")
    assert run.stderr.startswith("not ok: 1 problem: Peak Trail · meta act_2 has not synced since ")
    assert len(run.stderr.splitlines()) == 1


def test_status_35_hours_after_a_success_is_not_stale_yet(filled):
    for account in ACCOUNTS:
        sync_run(account, "succeeded", 35)

    run = status(filled)

    assert run.exit_code == 0, run.stdout
    assert {a["state"] for a in run.json()["accounts"]} == {"ok"}


def test_status_a_failed_last_sync_is_failing_even_after_a_recent_success(filled):
    all_synced(3)
    sync_run("1234567890", "failed", 1, error="Google Ads answered 500 five times")

    run = status(filled)

    assert run.exit_code == 1
    google = by_account(run)["1234567890"]
    assert google["state"] == "failing"
    assert google["last_sync"]["error"] == "Google Ads answered 500 five times"
    assert run.json()["problems"] == [
        "Masala Mornings · google 1234567890 failed its last sync: Google Ads answered 500 five times"]


def test_status_an_account_needing_a_login_names_the_connect_command(filled):
    all_synced()
    execute("UPDATE ad_account SET status = 'needs_reauth' WHERE external_id = 'act_2'")

    run = status(filled)

    assert run.exit_code == 1
    peak = by_account(run)["act_2"]
    assert peak["state"] == "needs_login" and peak["connect"] == 'datadrip connect meta "Peak Trail"'
    assert run.json()["counts"]["needs_login"] == 1
    assert 'needs a login: datadrip connect meta "Peak Trail"' in run.stderr
    table = filled("status")
    assert table.exit_code == 1
    assert 'sync\tPeak Trail\tmeta act_2\tneeds_login\t2 h ago\tdatadrip connect meta "Peak Trail"' \
        in table.stdout.splitlines()


def test_status_a_new_account_waits_for_its_first_sync_and_an_old_one_never_synced_fails(filled):
    all_synced()
    execute("DELETE FROM sync_run WHERE account_id IN "
            "(SELECT id FROM ad_account WHERE external_id = 'act_1')")

    fresh = status(filled)
    assert fresh.exit_code == 0 and by_account(fresh)["act_1"]["state"] == "waiting"

    execute("UPDATE ad_account SET created_at = :at WHERE external_id = 'act_1'",
            at=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=3))
    old = status(filled)
    assert old.exit_code == 1
    assert old.json()["problems"] == ["Masala Mornings · meta act_1 has never synced"]
    assert by_account(old)["act_1"]["last_sync"] is None


def break_outbox(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The outbox pointed at a file: a report sent there fails."""
    blocker = home / "not-a-folder"
    blocker.write_text("a file where the outbox should be")
    monkeypatch.setenv("DATADRIP_EMAIL_OUTBOX_DIR", str(blocker))


def test_status_a_failed_report_exits_1_until_it_is_sent(filled, home, monkeypatch):
    all_synced()
    break_outbox(home, monkeypatch)
    assert filled("report", "send", "Peak Trail", *DAY1, "--json").exit_code == 1

    failed = status(filled)

    assert failed.exit_code == 1
    [report] = failed.json()["reports"]
    assert (report["client"], report["kind"], report["status"]) == ("Peak Trail", "daily", "failed")
    assert report["error"] and report["sent_at"] is None
    assert failed.json()["problems"][0].startswith("Peak Trail · daily report 2026-11-01 failed: ")
    monkeypatch.setenv("DATADRIP_EMAIL_OUTBOX_DIR", str(home / "outbox"))
    assert filled("report", "send", "Peak Trail", *DAY1, "--json").exit_code == 0
    assert status(filled).exit_code == 0


def test_status_names_a_skipped_report_and_why_without_calling_it_a_problem(filled):
    all_synced()
    assert filled("client", "add", "Fresh Start", "--recipients", "hi@fresh.example").exit_code == 0
    assert filled("report", "send", "--all", *DAY1, "--json").exit_code == 0

    run = status(filled)

    assert run.exit_code == 0, run.stderr
    [fresh] = [r for r in run.json()["reports"] if r["client"] == "Fresh Start"]
    assert (fresh["status"], fresh["error"], fresh["problem"]) == ("skipped", "no accounts", None)
    assert run.json()["counts"]["skipped_reports"] == 1
    assert run.stderr == ("ok: 3 accounts synced within 36 h, 2 latest reports sent, "
                          "1 skipped: Fresh Start (no accounts)\n")
    assert "report\tFresh Start\tdaily 2026-11-01\tskipped\t" in filled("status").stdout


def test_status_looks_at_each_clients_latest_report_of_each_kind(filled, home, monkeypatch):
    all_synced()
    break_outbox(home, monkeypatch)
    assert filled("report", "send", "Peak Trail", *DAY1, "--json").exit_code == 1
    monkeypatch.setenv("DATADRIP_EMAIL_OUTBOX_DIR", str(home / "outbox"))
    assert filled("report", "send", "Peak Trail", *DAY2, "--json").exit_code == 0
    assert filled("report", "send", "Peak Trail", "--kind", "weekly", "--since", "2026-10-26",
                  "--until", "2026-11-01", "--json").exit_code == 0

    run = status(filled)

    assert run.exit_code == 0, run.stderr  # the failed day is behind a sent one
    assert [(r["kind"], r["period"]["since"], r["status"]) for r in run.json()["reports"]] == [
        ("daily", "2026-11-02", "sent"), ("weekly", "2026-10-26", "sent")]


def test_status_json_keys_are_stable(filled):
    all_synced()
    assert filled("report", "send", "Peak Trail", *DAY1, "--json").exit_code == 0

    result = status(filled).json()

    assert list(result) == ["ok", "checked_at", "stale_after_hours", "problems", "counts", "accounts",
                            "reports", "next_runs", "missed_reports", "daemon_runs", "warnings"]
    assert list(result["counts"]) == ["needs_login", "failing", "stale", "never_synced",
                                      "failed_reports", "skipped_reports", "missed_reports",
                                      "failed_daemon_runs"]
    assert list(result["accounts"][0]) == [
        "agency", "client", "platform", "account_id", "name", "account_status", "state", "last_sync",
        "last_success_at", "hours_since_success", "connect", "wait", "problem"]
    assert list(result["accounts"][0]["last_sync"]) == ["status", "started_at", "finished_at", "rows",
                                                       "error", "warnings"]
    assert list(result["reports"][0]) == ["agency", "client", "id", "kind", "period", "status",
                                          "state", "sent_at", "built_at", "error", "message_id",
                                          "command", "problem"]


def test_status_piped_is_tab_separated_lines_named_by_their_first_field(filled):
    all_synced()
    sync_run("act_2", "failed", 1, error="Meta answered 500")
    assert filled("report", "send", "Masala Mornings", *DAY1, "--json").exit_code == 0

    run = filled("status")

    assert run.exit_code == 1
    lines = [line.split("\t") for line in run.stdout.splitlines()]
    assert all(len(fields) == 6 for fields in lines)
    assert [fields[:4] for fields in lines if fields[0] != "next"] == [
        ["sync", "Masala Mornings", "google 1234567890", "ok"],
        ["sync", "Masala Mornings", "meta act_1", "ok"],
        ["sync", "Peak Trail", "meta act_2", "failing"],
        ["report", "Masala Mornings", "daily 2026-11-01", "sent"]]
    assert lines[2][5] == "Meta answered 500" and lines[0][4] == "2 h ago"
    assert sorted(fields[2] for fields in lines if fields[0] == "next") == [
        "refresh_tokens", "reports", "sync", "weekly_reports"]
    assert run.stderr.startswith("not ok: 1 problem: ") and len(run.stderr.splitlines()) == 1


def test_status_for_one_agency_and_for_an_unknown_one(filled):
    all_synced()
    assert filled("agency", "add", "Other Agency").exit_code == 0

    assert status(filled, "--agency", "Spice Route Media").exit_code == 0
    other = status(filled, "--agency", "Other Agency")
    assert other.exit_code == 0 and other.json()["accounts"] == []
    unknown = filled("status", "--agency", "Nobody")
    assert unknown.exit_code == 2 and "error: no agency 'Nobody'" in unknown.stderr


def test_status_in_a_real_process_under_cron_has_no_ansi_and_exits_1_on_a_problem(filled, dd_process,
                                                                                   monkeypatch):
    all_synced()
    sync_run("act_2", "failed", 1, error="Meta answered 500")
    for name in ("FORCE_COLOR", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    env = {"TERM": "xterm-256color", "COLUMNS": "120"}

    run = dd_process("status", env=env)

    assert run.exit_code == 1
    assert "sync\tPeak Trail\tmeta act_2\tfailing" in run.stdout
    assert not ANSI.search(run.stdout + run.stderr)
    execute("DELETE FROM sync_run WHERE status = 'failed'")
    assert dd_process("status", env=env).exit_code == 0


def test_status_lists_each_agencys_next_scheduled_runs_in_its_time_and_utc(filled, monkeypatch):
    all_synced()
    monkeypatch.setenv("DATADRIP_SCHEDULE_WEEKLY_REPORTS", "")  # turned off
    monkeypatch.setenv("DATADRIP_SCHEDULE_SYNC", "15 4 * * *")

    run = status(filled)

    assert run.exit_code == 0, run.stderr
    planned = {item["job"]: item for item in run.json()["next_runs"]}
    assert set(planned) == {"refresh_tokens", "sync", "reports"}
    sync = planned["sync"]
    assert (sync["agency"], sync["timezone"]) == ("Spice Route Media", "Asia/Kolkata")
    local, utc = dt.datetime.fromisoformat(sync["local"]), dt.datetime.fromisoformat(sync["utc"])
    assert (local.hour, local.minute, local.utcoffset()) == (4, 15, dt.timedelta(hours=5, minutes=30))
    assert local == utc and utc > dt.datetime.now(dt.UTC)
    assert utc - dt.datetime.now(dt.UTC) <= dt.timedelta(days=1)
    [line] = [line for line in filled("status").stdout.splitlines() if line.startswith("next\t")
              and "\tsync\t" in line]
    assert line.startswith("next\tSpice Route Media\tsync\tscheduled\t") and " IST (22:45 UTC)" in line


def test_status_at_a_given_moment_computes_ages_and_the_next_runs_from_it(filled):
    from datadrip.core.config import ScheduleSettings
    from datadrip.status import check_status

    all_synced()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=40)

    with open_session(load_settings()) as wb:
        checked = check_status(wb.session, schedule=ScheduleSettings(), now=later)

    assert {account.state for account in checked.accounts} == {"stale"}
    assert not checked.ok and len(checked.problems) == 3
    assert all(run.utc > later for run in checked.next_runs)
    assert [run.job for run in checked.next_runs if run.job == "sync"] == ["sync"]


# --- API versions near their sunset --------------------------------------------------------------

def test_status_warns_when_a_connected_platforms_api_version_nears_its_sunset(filled, monkeypatch):
    monkeypatch.setenv("DATADRIP_GOOGLE_API_VERSION", "v22")  # sunset 2026-10-07
    monkeypatch.setenv("DATADRIP_META_API_VERSION", "v21.0")  # sunset 2027-01-21
    with pinned_clock(dt.date(2026, 8, 20)):
        all_synced()
        early = status(filled)
    with pinned_clock(dt.date(2026, 11, 26)):
        all_synced()
        late = status(filled)
        table = filled("status")

    assert early.exit_code == 0, early.stderr  # a warning, not a problem
    assert early.json()["warnings"] == [
        "the Google Ads API v22 stops answering on 2026-10-07 (in 48 days); set [google] "
        "api_version to a newer version"]
    assert late.json()["warnings"] == [
        "the Google Ads API v22 stopped answering on 2026-10-07; set [google] api_version to a "
        "newer version",
        "the Meta API v21.0 stops answering on 2027-01-21 (in 56 days); set [meta] api_version to a "
        "newer version"]
    assert not [p for p in late.json()["problems"] if "api_version" in p]
    assert "warning: the Google Ads API v22 stopped answering on 2026-10-07; set [google] api_version" \
        in table.stderr
    api_lines = [line.split("\t") for line in table.stdout.splitlines() if line.startswith("api\t")]
    assert [line[1:5] for line in api_lines] == [["Google Ads", "v22", "ended", "2026-10-07"],
                                                ["Meta", "v21.0", "ending", "2027-01-21"]]


def test_status_says_nothing_of_versions_far_from_their_sunset_or_of_unconnected_platforms(
        filled, monkeypatch):
    monkeypatch.setenv("DATADRIP_GOOGLE_API_VERSION", "v23")  # sunset 2027-02-01: 67 days away
    with pinned_clock(dt.date(2026, 11, 26)):
        all_synced()
        run = status(filled)
        assert run.json()["warnings"] == []
        execute("DELETE FROM ad_account WHERE platform = 'google'")
        monkeypatch.setenv("DATADRIP_GOOGLE_API_VERSION", "v19")  # ended, but nothing uses Google
        assert status(filled).json()["warnings"] == []
