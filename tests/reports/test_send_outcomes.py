"""`report send --all` attempts every client and records what happened to each: a failure (a
missing exchange rate) with its reason, a report with nothing in it skipped with the reason, and
an exit code and a summary that say which clients were sent, skipped or failed.

The hand-made workbook: Masala Mornings (INR) has a Google account in dollars, so its report
needs a USD→INR rate; Peak Trail (USD) has data on 3 Nov only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import assert_bad_input

from tests.analytics.analytics_support import fill_workbook
from tests.commands.status_support import synced_through
from tests.reports.report_support import add_campaign_day
from tests.reports.test_send_command import execute, outbox

MASALA = "Masala Mornings"
NOV_1_3 = ("--since", "2026-11-01", "--until", "2026-11-03")
DAY1 = ("--kind", "daily", "--since", "2026-11-01", "--until", "2026-11-01")


@pytest.fixture
def no_rate(dd: Callable[..., Any]) -> Callable[..., Any]:
    """The hand-made workbook with recipients, but no exchange rate: Masala Mornings fails."""
    fill_workbook(dd)
    assert dd("client", "edit", MASALA, "--recipients", "owner@masala.example").exit_code == 0
    assert dd("client", "edit", "Peak Trail", "--recipients", "team@peaktrail.example").exit_code == 0
    return dd


def by_client(run: Any) -> dict[str, dict[str, Any]]:
    return {report["client"]: report for report in run.json()["reports"]}


def test_send_all_goes_on_past_a_client_without_an_exchange_rate_and_exits_3(no_rate, home):
    run = no_rate("report", "send", "--all", *NOV_1_3, "--json")

    assert run.exit_code == 3, run.stderr
    reports = by_client(run)
    assert reports[MASALA]["status"] == "failed"
    assert reports[MASALA]["reason"].startswith("no exchange rate from USD to INR")
    assert reports["Peak Trail"]["status"] == "sent"
    assert len(outbox(home)) == 1
    assert "error: Masala Mornings: no exchange rate from USD to INR" in run.stderr
    assert "datadrip fx set USD INR" in run.stderr


def test_send_all_records_the_failure_in_the_reports_history_and_status_names_it(no_rate, home):
    assert no_rate("report", "send", "--all", *NOV_1_3, "--json").exit_code == 3

    failed = no_rate("report", "list", "--status", "failed", "--json")

    assert failed.exit_code == 0, failed.stderr
    [row] = failed.json()
    assert (row["client"], row["status"]) == (MASALA, "failed")
    assert row["period"] == {"since": "2026-11-01", "until": "2026-11-03"}
    assert row["error"].startswith("no exchange rate from USD to INR")
    assert [r["client"] for r in no_rate("report", "list", "--status", "sent", "--json").json()] \
        == ["Peak Trail"]
    status = no_rate("status", "--json")
    assert status.exit_code == 1
    assert any(problem.startswith("Masala Mornings · custom report 2026-11-01..2026-11-03 failed: "
                                  "no exchange rate from USD to INR")
               for problem in status.json()["problems"])
    # Once the rate is there, the same command sends the one that failed, and only that one.
    assert no_rate("fx", "set", "USD", "INR", "83").exit_code == 0
    again = no_rate("report", "send", "--all", *NOV_1_3, "--json")
    assert again.exit_code == 0, again.stderr
    assert {c: r["status"] for c, r in by_client(again).items()} == \
        {MASALA: "sent", "Peak Trail": "skipped"}
    assert len(outbox(home)) == 2
    assert no_rate("report", "list", "--status", "failed", "--json").json() == []


def test_send_all_exits_1_when_every_client_failed(no_rate, home):
    execute("UPDATE client SET report_recipients = :bad WHERE name = 'Peak Trail'",
            bad='["team@peaktrail.example\\nBcc: x@evil.example"]')

    run = no_rate("report", "send", "--all", *NOV_1_3, "--json")

    assert run.exit_code == 1, run.stderr
    assert {c: r["status"] for c, r in by_client(run).items()} == \
        {MASALA: "failed", "Peak Trail": "failed"}
    assert "error: 2 reports failed: Masala Mornings, Peak Trail" in run.stderr
    assert outbox(home) == []


def test_send_all_summary_says_the_others_were_already_sent_not_sent(no_rate, home):
    assert no_rate("fx", "set", "USD", "INR", "83").exit_code == 0
    assert no_rate("report", "send", MASALA, *NOV_1_3).exit_code == 0
    execute("UPDATE client SET report_recipients = :bad WHERE name = 'Peak Trail'",
            bad='["team@peaktrail.example\\nBcc: x@evil.example"]')

    run = no_rate("report", "send", "--all", *NOV_1_3)

    assert run.exit_code == 3
    assert "error: 1 of 2 reports failed: Peak Trail; already sent: Masala Mornings" in run.stderr
    assert "the others were sent" not in run.stderr


def test_send_all_summary_names_what_happened_to_each_client(no_rate, home):
    assert no_rate("client", "add", "Fresh Start", "--recipients", "hi@fresh.example").exit_code == 0
    assert no_rate("report", "send", "Peak Trail", *NOV_1_3).exit_code == 0
    assert no_rate("client", "add", "Zest Foods", "--recipients", "hi@zest.example").exit_code == 0
    add_campaign_day("Zest Foods", "act_9", "Launch", dt.date(2026, 11, 2), "50")

    run = no_rate("report", "send", "--all", *NOV_1_3)

    assert run.exit_code == 3
    assert ("error: 1 of 4 reports failed: Masala Mornings; sent: Zest Foods; already sent: "
            "Peak Trail; skipped: Fresh Start (no accounts)") in run.stderr


# Item: an empty report is not e-mailed.

@pytest.fixture
def ready(no_rate: Callable[..., Any]) -> Callable[..., Any]:
    """With the rate, every account synced up to 30 November: a day without numbers is empty."""
    assert no_rate("fx", "set", "USD", "INR", "83").exit_code == 0
    synced_through(dt.date(2026, 11, 30))
    return no_rate


def test_send_skips_a_client_with_no_accounts_and_records_why(ready, home):
    assert ready("client", "add", "Fresh Start", "--recipients", "hi@fresh.example").exit_code == 0

    run = ready("report", "send", "--all", *NOV_1_3, "--json")

    assert run.exit_code == 0, run.stderr
    reports = by_client(run)
    assert reports["Fresh Start"]["status"] == "skipped"
    assert reports["Fresh Start"]["reason"] == "no accounts"
    assert [r["client"] for r in run.json()["reports"] if r["status"] == "sent"] == \
        [MASALA, "Peak Trail"]
    assert len(outbox(home)) == 2
    [row] = ready("report", "list", "--status", "skipped", "--json").json()
    assert (row["client"], row["error"]) == ("Fresh Start", "no accounts")
    shown = ready("report", "show", row["id"]).stdout
    assert "Status:     skipped\n" in shown and "Skipped:    no accounts\n" in shown


def test_send_skips_a_client_whose_accounts_have_no_data_for_the_period(ready, home):
    run = ready("report", "send", "--all", *DAY1, "--json")

    assert run.exit_code == 0, run.stderr
    reports = by_client(run)
    assert reports[MASALA]["status"] == "sent"
    assert reports["Peak Trail"]["status"] == "skipped"
    assert reports["Peak Trail"]["reason"] == "no data for 1 Nov 2026"
    assert [parsed_to(path) for path in outbox(home)] == ["owner@masala.example"]
    status = ready("status", "--json").json()
    [peak] = [r for r in status["reports"] if r["client"] == "Peak Trail"]
    assert (peak["status"], peak["error"]) == ("skipped", "no data for 1 Nov 2026")
    table = ready("report", "send", "--all", *DAY1, "--verbose")
    assert "no data for 1 Nov 2026" in table.stdout


def test_send_says_a_whole_month_without_data_by_its_name(ready, home):
    run = ready("report", "send", "Peak Trail", "--kind", "monthly", "--since", "2026-10-01",
                "--until", "2026-10-31", "--json")

    assert run.exit_code == 0, run.stderr
    [report] = run.json()["reports"]
    assert (report["status"], report["reason"]) == ("skipped", "no data for October 2026")
    assert outbox(home) == []


def test_send_empty_reports_when_send_empty_is_set(ready, home, monkeypatch):
    monkeypatch.setenv("DATADRIP_REPORTS_SEND_EMPTY", "true")

    run = ready("report", "send", "--all", *DAY1, "--json")

    assert run.exit_code == 0, run.stderr
    assert {c: r["status"] for c, r in by_client(run).items()} == {MASALA: "sent", "Peak Trail": "sent"}
    assert len(outbox(home)) == 2


def test_send_dry_run_says_an_empty_report_would_be_skipped_and_keeps_nothing(ready, home):
    run = ready("report", "send", "--all", *DAY1, "--dry-run", "--json")

    assert run.exit_code == 0, run.stderr
    assert {c: (r["status"], r["reason"]) for c, r in by_client(run).items()} == {
        MASALA: ("would_send", None), "Peak Trail": ("skipped", "no data for 1 Nov 2026")}
    assert ready("report", "list", "--json").json() == []


def test_send_a_skipped_report_goes_out_once_its_data_arrives(ready, home):
    assert ready("report", "send", "Peak Trail", *DAY1).exit_code == 0
    add_campaign_day("Peak Trail", "act_2", "Trail", dt.date(2026, 11, 1), "12", currency="USD")

    run = ready("report", "send", "Peak Trail", *DAY1, "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["reports"][0]["status"] == "sent"
    [row] = ready("report", "list", "--client", "Peak Trail", "--json").json()
    assert (row["status"], row["error"]) == ("sent", None)


def test_send_fails_a_report_whose_numbers_are_missing_because_its_account_is_behind(no_rate, home):
    """Not an empty period: Peak Trail's account has synced up to 31 October only (its syncs since
    failed), so its report for 1 November is failed, named by status, and sent once synced."""
    assert no_rate("fx", "set", "USD", "INR", "83").exit_code == 0
    synced_through(dt.date(2026, 10, 31))

    run = no_rate("report", "send", "Peak Trail", *DAY1, "--json")

    assert run.exit_code == 1, run.stderr
    [report] = run.json()["reports"]
    assert (report["status"], report["reason"]) == (
        "failed", "no data for 1 Nov 2026: Meta act_2 holds data up to 31 Oct 2026 only.")
    assert ('Hint: Sync its accounts (datadrip sync --client "Peak Trail"), then send it: datadrip '
            'report send "Peak Trail" --kind daily --since 2026-11-01 --until 2026-11-01') in run.stderr
    assert outbox(home) == []
    problems = no_rate("status", "--json").json()["problems"]
    assert "Peak Trail · daily report 2026-11-01 failed: no data for 1 Nov 2026: Meta act_2 holds data " \
           "up to 31 Oct 2026 only." in problems
    execute("UPDATE sync_cursor SET synced_through = :day", day=dt.date(2026, 11, 1))  # a sync at last
    add_campaign_day("Peak Trail", "act_2", "Trail", dt.date(2026, 11, 1), "12", currency="USD")
    assert no_rate("report", "send", "Peak Trail", *DAY1).exit_code == 0
    assert [parsed_to(path) for path in outbox(home)] == ["team@peaktrail.example"]


def parsed_to(path: Path) -> str:
    import email
    import email.policy

    return str(email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["To"])


def test_report_list_refuses_an_unknown_status(ready):
    assert_bad_input(ready("report", "list", "--status", "lost"), "--status", "'lost'")
