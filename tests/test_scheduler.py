"""The daemon's loop in-process with an injected clock, on a real workbook file: what a restart
catches up (once), what the misfire grace leaves alone, runs left running by a dead daemon, and
reports held until their sync succeeded or the deadline passed."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support import isolated_environment

from datadrip.core.config import Loaded
from datadrip.platforms.registry import load_settings
from datadrip.scheduling.daemon import (
    DaemonRequest,
    DaemonRunningError,
    daemon_lock,
    daemon_lock_path,
    run_daemon,
)

KOLKATA = ZoneInfo("Asia/Kolkata")
ONLY_SYNC = {"DATADRIP_SCHEDULE_REFRESH_TOKENS": "", "DATADRIP_SCHEDULE_REPORTS": "",
             "DATADRIP_SCHEDULE_WEEKLY_REPORTS": ""}


def settings(**env: str) -> Loaded:
    return load_settings(env={**os.environ, **env})


def at(clock: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: clock


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=KOLKATA).astimezone(dt.UTC)


def job_runs(workbook: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(workbook) as db:
        return db.execute("SELECT job, scheduled_for, status, detail FROM job_run "
                          "ORDER BY started_at, job").fetchall()


@pytest.fixture
def agency(dd: Callable[..., Any]) -> str:
    assert dd("agency", "add", "Spice Route Media", "--timezone", "Asia/Kolkata").exit_code == 0
    return "Spice Route Media"


def test_scheduler_catch_up_after_two_days_runs_once(agency: str, workbook_path: Path) -> None:
    loaded = settings(**ONLY_SYNC)
    day = dt.date(2026, 12, 1)
    first = run_daemon(loaded, DaemonRequest(once=True), clock=at(local(day, 5, 31)))
    # The daemon was down for two days: the 2 and 3 December syncs were missed.
    later = run_daemon(loaded, DaemonRequest(once=True), clock=at(local(day + dt.timedelta(days=2), 9)))
    again = run_daemon(loaded, DaemonRequest(once=True), clock=at(local(day + dt.timedelta(days=2), 9, 5)))

    assert [(d.job, d.scheduled_for, status) for d, status in first.runs] == \
        [("sync", local(day, 5, 30), "succeeded")]
    assert [(d.job, d.scheduled_for) for d, _ in later.runs] == \
        [("sync", local(day + dt.timedelta(days=2), 5, 30))]
    assert again.runs == []
    assert [row[:3] for row in job_runs(workbook_path)] == [
        ("sync", "2026-12-01 00:00:00.000000", "succeeded"),
        ("sync", "2026-12-03 00:00:00.000000", "succeeded")]


def test_scheduler_missed_beyond_the_grace_is_left_to_the_next_run(agency: str,
                                                                   workbook_path: Path) -> None:
    loaded = settings(**ONLY_SYNC, DATADRIP_SCHEDULE_MISFIRE_GRACE_MINUTES="60")

    late = run_daemon(loaded, DaemonRequest(once=True), clock=at(local(dt.date(2026, 12, 3), 7)))
    in_time = run_daemon(loaded, DaemonRequest(once=True), clock=at(local(dt.date(2026, 12, 4), 6)))

    assert late.runs == []
    assert [d.scheduled_for for d, _ in in_time.runs] == [local(dt.date(2026, 12, 4), 5, 30)]


def test_scheduler_run_left_running_is_abandoned_and_run_again(agency: str, workbook_path: Path) -> None:
    loaded = settings(**ONLY_SYNC)
    clock = local(dt.date(2026, 12, 3), 6)
    run_daemon(loaded, DaemonRequest(once=True), clock=at(clock))
    with sqlite3.connect(workbook_path) as db:  # as a daemon killed with SIGKILL mid-job leaves it
        db.execute("UPDATE job_run SET status = 'running', finished_at = NULL")

    restarted = run_daemon(loaded, DaemonRequest(once=True), clock=at(clock + dt.timedelta(minutes=5)))

    assert [status for _, status in restarted.runs] == ["succeeded"]
    assert [row[2] for row in job_runs(workbook_path)] == ["abandoned", "succeeded"]
    assert "the daemon stopped during this run" in job_runs(workbook_path)[0][3]


def test_scheduler_second_daemon_on_the_workbook_is_refused(agency: str) -> None:
    loaded = settings()

    with daemon_lock(daemon_lock_path(loaded)), pytest.raises(DaemonRunningError) as refused:
        run_daemon(loaded, DaemonRequest(once=True))

    assert refused.value.exit_code == 1
    assert f"(process {os.getpid()})" in refused.value.message


def test_scheduler_sync_shares_the_lock_of_datadrip_sync(agency: str, workbook_path: Path) -> None:
    from datadrip.sync.lock import lock_path, sync_lock

    loaded = settings(**ONLY_SYNC)
    with sync_lock(lock_path(loaded.workbook_target, loaded.paths.data_dir), wait=False):
        # `datadrip sync` from cron holds the workbook: the daemon's sync does not run beside it.
        outcome = run_daemon(loaded, DaemonRequest(once=True), clock=at(local(dt.date(2026, 12, 3), 6)))

    assert [status for _, status in outcome.runs] == ["failed"]
    detail = json.loads(job_runs(workbook_path)[0][3])
    assert detail["error"].startswith("another sync is already running on this workbook")


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo home (six clients connected to the sandbox, synced, their reports sent), made
    once per module; each test works on a copy."""
    from datadrip.demo import run_demo

    base = tmp_path_factory.mktemp("scheduler")
    with isolated_environment(base):
        run_demo(base / "demo")
    return base / "demo"


@pytest.fixture
def held_back(demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dt.date]:
    """A demo workbook whose clients synced today at 06:00, but for Masala Mornings, whose sync
    did not succeed; no report sent yet."""
    import shutil

    home = tmp_path / "demo"
    shutil.copytree(demo_template, home)
    workbook = home / "workbook.db"
    today = dt.datetime.now(KOLKATA).date()
    with sqlite3.connect(workbook) as db:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM report")
        db.execute("UPDATE sync_run SET finished_at = ?", (_stored(local(today, 6)),))
        db.execute(f"DELETE FROM sync_run WHERE account_id IN ({MASALA_ACCOUNTS})")
    monkeypatch.setenv("DATADRIP_HOME", str(home))
    return workbook, today


# The demo's clients but Masala Mornings, by name.
BUT_MASALA = ("Bloom Botanics", "Harbour Dental", "Kettle & Crumb", "Peak Trail Outfitters",
              "Sakura Tea House")
MASALA_ACCOUNTS = ("SELECT a.id FROM ad_account a JOIN client c ON c.id = a.client_id "
                   "WHERE c.name = 'Masala Mornings'")


def _stored(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")


def _reports_only() -> Loaded:
    return settings(DATADRIP_SCHEDULE_REFRESH_TOKENS="", DATADRIP_SCHEDULE_SYNC="",
                    DATADRIP_SCHEDULE_WEEKLY_REPORTS="", DATADRIP_SCHEDULE_REPORT_DEADLINE="10:00")


def test_scheduler_reports_wait_for_their_sync_until_the_deadline(held_back: tuple[Path, dt.date]) -> None:
    workbook, today = held_back
    loaded = _reports_only()

    def once(hour: int, minute: int = 0) -> list[tuple[Any, str]]:
        return run_daemon(loaded, DaemonRequest(once=True), clock=at(local(today, hour, minute))).runs

    at_seven, at_nine, at_deadline, after = once(7, 5), once(9), once(10, 1), once(11)

    details = [json.loads(row[3]) for row in job_runs(workbook)]
    assert [status for _, status in at_seven] == ["partial"]
    assert details[0]["waiting"] == ["Masala Mornings"]
    assert details[0]["sent"] == [*BUT_MASALA]
    assert at_nine == [] and after == []
    assert [(d.follow_up, status) for d, status in at_deadline] == [(True, "succeeded")]
    assert details[1]["sent"] == ["Masala Mornings"]
    assert details[1]["sent_before_sync"] == ["Masala Mornings"]
    assert details[1]["skipped"] == [*BUT_MASALA]  # sent once only
    with sqlite3.connect(workbook) as db:
        assert db.execute("SELECT count(*) FROM report WHERE status = 'sent'").fetchone() == (6,)


def test_scheduler_reports_go_on_past_a_client_that_fails_and_record_why(
        held_back: tuple[Path, dt.date]) -> None:
    workbook, today = held_back
    with sqlite3.connect(workbook) as db:
        db.execute("DELETE FROM fx_rate")  # Bloom Botanics (INR) has euro accounts

    [(_, status)] = run_daemon(_reports_only(), DaemonRequest(once=True),
                               clock=at(local(today, 10, 1))).runs

    assert status == "partial"
    [detail] = [json.loads(row[3]) for row in job_runs(workbook)]
    assert detail["sent"] == ["Harbour Dental", "Kettle & Crumb", "Masala Mornings",
                              "Peak Trail Outfitters", "Sakura Tea House"]
    [failed] = detail["failed"]
    assert failed.startswith("Bloom Botanics: no exchange rate from EUR to INR")
    with sqlite3.connect(workbook) as db:
        rows = db.execute("SELECT c.name, r.status, r.error FROM report r JOIN client c "
                          "ON c.id = r.client_id ORDER BY c.name").fetchall()
    assert [(name, state) for name, state, _ in rows] == [
        ("Bloom Botanics", "failed"), ("Harbour Dental", "sent"), ("Kettle & Crumb", "sent"),
        ("Masala Mornings", "sent"), ("Peak Trail Outfitters", "sent"), ("Sakura Tea House", "sent")]
    assert rows[0][2].startswith("no exchange rate from EUR to INR")


def test_scheduler_report_held_back_goes_once_its_sync_succeeds(held_back: tuple[Path, dt.date]) -> None:
    workbook, today = held_back
    loaded = _reports_only()

    def once(hour: int, minute: int = 0) -> list[tuple[Any, str]]:
        return run_daemon(loaded, DaemonRequest(once=True), clock=at(local(today, hour, minute))).runs

    once(7, 5)
    with sqlite3.connect(workbook) as db:  # `datadrip sync --client "Masala Mornings"` at 08:00
        db.execute("INSERT INTO sync_run (id, account_id, started_at, finished_at, status, rows, "
                   f"requests, warnings) SELECT lower(hex(randomblob(16))), id, ?, ?, 'succeeded', 0, 0, "
                   f"'[]' FROM ({MASALA_ACCOUNTS})", (_stored(local(today, 8)), _stored(local(today, 8))))
    at_eight, at_deadline = once(8, 1), once(10, 1)

    details = [json.loads(row[3]) for row in job_runs(workbook)]
    assert [(d.follow_up, status) for d, status in at_eight] == [(True, "succeeded")]
    assert details[1]["sent"] == ["Masala Mornings"] and details[1]["sent_before_sync"] == []
    assert at_deadline == []


def _added_at_midnight(workbook: Path, today: dt.date) -> None:
    """The clients were there before the morning's run (the demo made them a moment ago)."""
    with sqlite3.connect(workbook) as db:
        db.execute("UPDATE client SET created_at = ?", (_stored(local(today, 0)),))


def _status_at(loaded: Loaded, moment: dt.datetime) -> Any:
    from datadrip.status import check_status
    from datadrip.workbook.session import open_session

    with open_session(loaded) as wb:
        return check_status(wb.session, schedule=loaded.settings.schedule, now=moment)


def test_status_names_each_report_the_daemon_left_unsent_past_the_deadline(
        held_back: tuple[Path, dt.date]) -> None:
    workbook, today = held_back
    loaded = _reports_only()
    _added_at_midnight(workbook, today)
    # 07:05: Masala Mornings waits for its sync; no daemon is running at the 10:00 deadline.
    run_daemon(loaded, DaemonRequest(once=True), clock=at(local(today, 7, 5)))
    yesterday = today - dt.timedelta(days=1)

    before_deadline = _status_at(loaded, local(today, 9, 30))
    after_deadline = _status_at(loaded, local(today, 10, 30))
    run_daemon(loaded, DaemonRequest(once=True), clock=at(local(today, 10, 31)))  # the follow-up
    once_sent = _status_at(loaded, local(today, 10, 40))

    assert before_deadline.missed_reports == []
    [missed] = after_deadline.missed_reports
    assert (missed.client, missed.kind, missed.since, missed.until) == \
        ("Masala Mornings", "daily", yesterday, yesterday)
    assert missed.problem == (
        f'Masala Mornings · daily report {yesterday} was not sent by the daemon\'s run of {today} 07:00; '
        f'send it: datadrip report send "Masala Mornings" --kind daily --since {yesterday} '
        f'--until {yesterday}')
    assert missed.problem in after_deadline.problems and not after_deadline.ok
    assert after_deadline.record()["counts"]["missed_reports"] == 1
    assert once_sent.missed_reports == []


def test_status_holds_only_the_daemons_own_agencies_to_the_timetable(held_back: tuple[Path, dt.date]) -> None:
    workbook, today = held_back
    _added_at_midnight(workbook, today)

    # No run of the reports job in the workbook: these reports go out by hand (or by cron).
    checked = _status_at(_reports_only(), local(today, 10, 30))

    assert checked.missed_reports == []


def test_daemon_a_bug_in_one_job_fails_that_run_and_the_others_go_on(
        agency: str, workbook_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug is planted in the login check (the one place a test replaces our code: there is no
    input that makes DataDrip raise an unexpected error, which is what this is about)."""
    import datadrip.scheduling.jobs

    secret = "https://graph.example/v24.0/me?access_token=EAAB-not-for-logs"

    def bug(*_args: Any) -> Any:
        raise KeyError(secret)

    monkeypatch.setattr(datadrip.scheduling.jobs, "_refresh_tokens", bug)
    loaded = settings(DATADRIP_SCHEDULE_REPORTS="", DATADRIP_SCHEDULE_WEEKLY_REPORTS="")
    log = tmp_path / "daemon.log"
    day = dt.date(2026, 12, 1)

    outcome = run_daemon(loaded, DaemonRequest(once=True, log_file=log), clock=at(local(day, 6, 5)))
    checked = _status_at(loaded, local(day, 6, 10))

    assert [(d.job, status) for d, status in outcome.runs] == [("sync", "succeeded"),
                                                              ("refresh_tokens", "failed")]
    [(_, _, _, detail)] = [row for row in job_runs(workbook_path) if row[0] == "refresh_tokens"]
    error = json.loads(detail)["error"]
    assert json.loads(detail)["hint"] == ('Run it by hand to see the whole error, and report it: '
                                          'datadrip --debug account check --agency "Spice Route Media"')
    assert re.fullmatch(r"unexpected KeyError in datadrip/scheduling/jobs\.py line \d+ \(run_job\)",
                        error), error
    text = log.read_text(encoding="utf-8")
    assert ("ERROR refresh_tokens · Spice Route Media: unexpected KeyError in "
            "datadrip/scheduling/jobs.py") in text
    assert 'File "' in text and "in run_job" in text  # the frames, for the bug report
    assert secret not in text and secret not in detail and "EAAB" not in text
    [run] = checked.daemon_runs
    assert run.problem == (
        f"Spice Route Media · the daemon's refresh_tokens run of 2026-12-01 06:00 failed: {error}; "
        'do it by hand: datadrip account check --agency "Spice Route Media"')
    assert run.problem in checked.problems and not checked.ok


def _killed_twice(workbook: Path, *, sent_while_running: bool) -> None:
    """The morning's reports run as two runs killed one after the other (SIGKILL, restart, SIGKILL)
    leave it: both abandoned, Masala Mornings never sent; the others sent during the first run, or,
    with `sent_while_running` false, before either began (neither got anywhere)."""
    with sqlite3.connect(workbook) as db:
        db.execute("PRAGMA foreign_keys = ON")
        (run_id, agency_id, job, scheduled, started, finished) = db.execute(
            "SELECT id, agency_id, job, scheduled_for, started_at, finished_at FROM job_run").fetchone()
        db.execute("UPDATE job_run SET status = 'abandoned', detail = ? WHERE id = ?",
                   ('{"error": "the daemon stopped during this run"}', run_id))
        db.execute("INSERT INTO job_run (id, job, agency_id, scheduled_for, started_at, finished_at, "
                   "status, detail) VALUES ('second', ?, ?, ?, ?, ?, 'abandoned', ?)",
                   (job, agency_id, scheduled, finished, finished,
                    '{"error": "the daemon stopped during this run"}'))
        db.execute("DELETE FROM report_delivery WHERE report_id IN (SELECT r.id FROM report r "
                   "JOIN client c ON c.id = r.client_id WHERE c.name = 'Masala Mornings')")
        db.execute("DELETE FROM report WHERE client_id IN "
                   "(SELECT id FROM client WHERE name = 'Masala Mornings')")
        # (The runs' times come from the test's clock, the sends' from the real one: set them.)
        began = dt.datetime.fromisoformat(started).replace(tzinfo=dt.UTC)
        sent_at = began if sent_while_running else began - dt.timedelta(minutes=1)
        db.execute("UPDATE report SET sent_at = ?", (sent_at.strftime("%Y-%m-%d %H:%M:%S.%f"),))


def _sent(workbook: Path) -> list[str]:
    with sqlite3.connect(workbook) as db:
        return [name for (name,) in db.execute(
            "SELECT c.name FROM report r JOIN client c ON c.id = r.client_id "
            "WHERE r.status = 'sent' ORDER BY c.name")]


def test_daemon_killed_twice_while_sending_reports_sends_the_rest_at_its_next_start(
        held_back: tuple[Path, dt.date]) -> None:
    workbook, today = held_back
    loaded = _reports_only()
    run_daemon(loaded, DaemonRequest(once=True), clock=at(local(today, 10, 1)))  # past the deadline
    _killed_twice(workbook, sent_while_running=True)

    restarted = run_daemon(loaded, DaemonRequest(once=True), clock=at(local(today, 10, 5)))

    assert [(d.job, status) for d, status in restarted.runs] == [("reports", "succeeded")]
    assert _sent(workbook) == sorted([*BUT_MASALA, "Masala Mornings"])


def test_daemon_killed_twice_in_a_reports_run_that_got_nowhere_leaves_it_to_status(
        held_back: tuple[Path, dt.date]) -> None:
    workbook, today = held_back
    _added_at_midnight(workbook, today)
    loaded = _reports_only()
    run_daemon(loaded, DaemonRequest(once=True), clock=at(local(today, 10, 1)))
    _killed_twice(workbook, sent_while_running=False)  # as a report that kills its daemon would

    restarted = run_daemon(loaded, DaemonRequest(once=True), clock=at(local(today, 10, 5)))
    checked = _status_at(loaded, local(today, 10, 6))

    assert restarted.runs == []  # not a third time: it could loop
    assert _sent(workbook) == [*BUT_MASALA]
    [missed] = checked.missed_reports
    assert missed.client == "Masala Mornings"
    [run] = checked.daemon_runs
    assert (run.job, run.status) == ("reports", "abandoned")
