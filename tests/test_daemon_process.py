"""`datadrip daemon` as a real process on a real workbook: a compressed schedule (every job due this
minute) run with --once against the sandbox over HTTP, JSON log lines, SIGTERM on an idle daemon
and in the middle of a sync, a second daemon refused; and `datadrip schedule` as a process."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from datadrip.sandbox.faults import FaultRule

# The demo's clients by name (each gets a daily report).
DEMO_CLIENTS = ["Bloom Botanics", "Harbour Dental", "Kettle & Crumb", "Masala Mornings",
                "Peak Trail Outfitters", "Sakura Tea House"]
EVERY_MINUTE = {"DATADRIP_SCHEDULE_REFRESH_TOKENS": "* * * * *", "DATADRIP_SCHEDULE_SYNC": "* * * * *",
                "DATADRIP_SCHEDULE_REPORTS": "* * * * *", "DATADRIP_SCHEDULE_WEEKLY_REPORTS": ""}
NOTHING = {f"DATADRIP_SCHEDULE_{job}": "" for job in ("REFRESH_TOKENS", "SYNC", "REPORTS",
                                                      "WEEKLY_REPORTS")}
Process = subprocess.Popen[str]


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A demo home (six clients connected to the sandbox and synced), made once per module."""
    from datadrip.demo import run_demo

    home = tmp_path_factory.mktemp("daemon") / "demo"
    return home, run_demo(home).sandbox_port


@pytest.fixture
def demo(demo_template: tuple[Path, int], tmp_path: Path) -> Iterator[tuple[Path, Any]]:
    """A copy of the demo home with no report sent yet, pointed at a sandbox serving again (on a
    free port: another test run may hold the demo's)."""
    import shutil

    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer

    template, port = demo_template
    home = tmp_path / "demo"
    shutil.copytree(template, home)
    shutil.rmtree(home / "outbox", ignore_errors=True)
    with sqlite3.connect(home / "workbook.db") as db:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM report")
    with SandboxServer(SandboxConfig(seed=7, story_accounts=True)) as server:  # the demo's
        config = home / "datadrip.toml"
        text = config.read_text(encoding="utf-8")
        assert f"http://127.0.0.1:{port}/" in text
        config.write_text(text.replace(f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{server.port}/"),
                          encoding="utf-8")
        yield home, server


def _wait_for(path: Path, text: str, process: Process, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and text in path.read_text(encoding="utf-8")):
        if process.poll() is not None:
            pytest.fail(f"the daemon ended (exit {process.returncode}): {process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {text!r} in {path} after {timeout:.0f} s")
        time.sleep(0.02)


def _rows(workbook: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(workbook) as db:
        return db.execute(query).fetchall()


def test_daemon_once_syncs_then_sends_reports_with_json_logs(demo: tuple[Path, Any], dd_start) -> None:
    home, _server = demo
    env = {"DATADRIP_HOME": str(home), **EVERY_MINUTE}

    process = dd_start("daemon", "--once", "--json-logs", env=env)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    assert stdout == ""
    logs = [json.loads(line) for line in stderr.splitlines()]
    assert [(log["event"], log.get("job")) for log in logs] == [
        ("daemon_start", None),
        ("job_start", "refresh_tokens"), ("job_end", "refresh_tokens"),
        ("job_start", "sync"), ("job_end", "sync"),
        ("job_start", "reports"), ("job_end", "reports"),
        ("daemon_stop", None)]
    ends = {log["job"]: log for log in logs if log["event"] == "job_end"}
    assert {job: log["status"] for job, log in ends.items()} == \
        dict.fromkeys(("refresh_tokens", "sync", "reports"), "succeeded")
    assert ends["sync"]["detail"]["accounts"] == 10 and ends["sync"]["detail"]["rows"] > 0
    assert ends["sync"]["detail"]["insight_notes"] == []  # suggestions made after the sync
    assert isinstance(ends["sync"]["detail"]["insights"], int)
    assert ends["reports"]["detail"]["sent"] == DEMO_CLIENTS
    assert all(log["agency"] == "Spice Route Media" for log in logs if "job" in log)
    assert len(list((home / "outbox").glob("*.eml"))) == 6
    assert _rows(home / "workbook.db", "SELECT job, status FROM job_run ORDER BY started_at") == [
        ("refresh_tokens", "succeeded"), ("sync", "succeeded"), ("reports", "succeeded")]

    again = dd_start("daemon", "--once", env={**env, "DATADRIP_SCHEDULE_SYNC": "",
                                           "DATADRIP_SCHEDULE_REFRESH_TOKENS": ""})
    _out, again_err = again.communicate(timeout=60)
    assert again.returncode == 0, again_err
    assert len(list((home / "outbox").glob("*.eml"))) == 6  # nothing sent twice


def test_daemon_sigterm_during_a_sync_abandons_it_cleanly_and_exits_0(demo: tuple[Path, Any],
                                                                      dd_start) -> None:
    home, server = demo
    server.app.faults.add(FaultRule("slow", rate=1.0, delay=0.3))
    log = home / "daemon.log"
    env = {"DATADRIP_HOME": str(home), **EVERY_MINUTE, "DATADRIP_SCHEDULE_REFRESH_TOKENS": "",
           "DATADRIP_SYNC_CONCURRENCY": "1"}

    process = dd_start("daemon", "--log-file", str(log), env=env)
    _wait_for(log, "start sync", process)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _out, stderr = process.communicate(timeout=30)

    assert process.returncode == 0, stderr
    text = log.read_text(encoding="utf-8")
    assert "end sync · Spice Route Media: abandoned" in text
    assert "daemon stopped (SIGTERM)" in text
    assert "start reports" not in text  # no job is taken after the signal
    workbook = home / "workbook.db"
    assert _rows(workbook, "SELECT job, status FROM job_run") == [("sync", "abandoned")]
    assert _rows(workbook, "SELECT count(*) FROM sync_run WHERE status = 'running'") == [(0,)]
    assert not (home / "workbook.db.sync-lock").exists() or \
        (home / "workbook.db.sync-lock").read_text() == ""


def test_daemon_idle_stops_on_sigterm_and_a_second_one_is_refused(dd, home: Path, dd_start) -> None:
    assert dd("agency", "add", "Spice Route Media", "--timezone", "Asia/Kolkata").exit_code == 0
    log = home / "logs" / "daemon.log"

    first = dd_start("daemon", "--log-file", str(log), env=NOTHING)
    _wait_for(log, "daemon started", first)
    second = dd_start("daemon", env=NOTHING)
    _out, refused = second.communicate(timeout=30)
    first.send_signal(signal.SIGTERM)
    _out, first_err = first.communicate(timeout=30)
    after = dd_start("daemon", "--once", env=NOTHING)
    _out, after_err = after.communicate(timeout=30)

    assert second.returncode == 1
    assert refused.splitlines()[0] == ("error: another datadrip daemon is already running on this "
                                       f"workbook (process {first.pid})")
    assert first.returncode == 0, first_err
    assert first_err == ""  # the log went to the file
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and lines[-1].endswith("INFO daemon stopped (SIGTERM)")
    assert after.returncode == 0, after_err  # the lock went with the first daemon


def test_schedule_show_json_and_cron_as_processes(dd, dd_process) -> None:
    assert dd("agency", "add", "Hudson Media", "--timezone", "America/New_York").exit_code == 0

    shown = dd_process("schedule", "show", "--json")
    cron = dd_process("schedule", "cron")
    utc = dd_process("schedule", "cron", "--utc")
    unit = dd_process("schedule", "systemd")

    assert shown.exit_code == cron.exit_code == utc.exit_code == unit.exit_code == 0, shown.stderr
    records = json.loads(shown.stdout)
    assert [record["job"] for record in records if record["job"] == "sync"] == ["sync"]
    sync = next(record for record in records if record["job"] == "sync")
    assert sync["next_run_local"][11:] in ("05:30-05:00", "05:30-04:00")
    assert set(sync) == {"agency", "timezone", "job", "cron", "next_run_local", "next_run_utc",
                         "last_status", "last_started_at"}
    assert "CRON_TZ=America/New_York\n" in cron.stdout
    assert " sync --agency 'Hudson Media' && " in cron.stdout
    assert " insight generate --agency 'Hudson Media'\n" in cron.stdout
    assert "CRON_TZ" not in utc.stdout.replace("CRON_TZ=<zone>", "")
    assert "changes its clocks" in utc.stdout
    assert "daemon\n" in unit.stdout and "Restart=on-failure\n" in unit.stdout
    assert f"Environment=DATADRIP_HOME={os.environ['DATADRIP_HOME']}\n" in unit.stdout


def test_daemon_sync_wait_is_logged_and_status_shows_it_while_it_lasts(demo: tuple[Path, Any],
                                                                      dd_start, dd_process) -> None:
    home, server = demo
    # Masala Mornings' Meta account is rate limited for 8 seconds on its first insights call.
    server.app.faults.add(FaultRule("rate_limit", platform="meta", path="act_1010000001/insights",
                                    nth=1, regain=8))
    env = {"DATADRIP_HOME": str(home), **NOTHING, "DATADRIP_SCHEDULE_SYNC": "* * * * *"}

    process = dd_start("daemon", "--once", "--json-logs", env=env)
    deadline = time.monotonic() + 30
    while True:
        status = dd_process("status", "--json", env=env)
        waits = {a["account_id"]: a["wait"] for a in json.loads(status.stdout)["accounts"]}
        if (waits.get("act_1010000001") or {}).get("waiting"):
            break
        assert process.poll() is None and time.monotonic() < deadline, "no wait seen while it lasted"
        time.sleep(0.2)
    _out, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    during = waits["act_1010000001"]
    assert (during["service"], during["kind"], during["seconds"], during["gave_up"]) == \
        ("Meta", "rate_limit", 8.0, False)
    assert during["text"].startswith("Meta asks us to wait 8 seconds (HTTP 400, Meta error 80000: "
                                     "rate limited, ad account usage 102%); resuming at ")
    assert during["text"].endswith(" (Asia/Kolkata)")
    logs = [json.loads(line) for line in stderr.splitlines()]
    told = [log for log in logs if log["event"] == "sync_wait"]
    assert [(log["level"], log["client"], log["account_id"], log["wait"]["text"]) for log in told] == [
        ("info", "Masala Mornings", "act_1010000001", during["text"])]
    assert told[0]["message"] == ("sync · Spice Route Media: Masala Mornings · meta act_1010000001: "
                                  + during["text"])
    end = next(log for log in logs if log["event"] == "job_end")
    assert end["status"] == "succeeded"
    after = dd_process("status", "--json", env=env)
    last = {a["account_id"]: a["wait"] for a in json.loads(after.stdout)["accounts"]}["act_1010000001"]
    assert last == {**during, "waiting": False}  # the last wait, kept after the run


# --- the daemon killed while it sends the reports ----------------------------------------------------

REPORTS_ONLY = {**NOTHING, "DATADRIP_SCHEDULE_REPORTS": "* * * * *"}


@pytest.fixture
def held_smtp() -> Iterator[Any]:
    """A real SMTP server on 127.0.0.1 that can hold a dialogue (see Recorder.hold_at)."""
    from tests.reports.mail_support import start_smtp

    for server in start_smtp():
        yield server
        server.handler.let_go()


def _smtp_env(home: Path, server: Any) -> dict[str, str]:
    return {"DATADRIP_HOME": str(home), **REPORTS_ONLY, "DATADRIP_EMAIL_PROVIDER": "smtp",
            "DATADRIP_EMAIL_FROM": "reports@spiceroute.example", "DATADRIP_EMAIL_SMTP_HOST": server.host,
            "DATADRIP_EMAIL_SMTP_PORT": str(server.port), "DATADRIP_EMAIL_SMTP_STARTTLS": "false",
            "DATADRIP_EMAIL_TIMEOUT_SECONDS": "60"}


def _killed_when_held(process: Process, server: Any) -> None:
    """SIGKILL the process once the SMTP server holds its dialogue, then let the server go on."""
    while not server.handler.held.wait(0.05):
        assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    server.handler.let_go()


def _json_lines(stderr: str) -> list[dict[str, Any]]:
    """The daemon's JSON log lines (its last words, "error: …", are for people)."""
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def _subjects(server: Any) -> list[str]:
    return sorted(str(received.message()["Subject"]).split(" — ")[0] for received in server.handler.received)


def test_daemon_killed_before_a_report_is_handed_over_sends_it_when_restarted(
        demo: tuple[Path, Any], dd_start, held_smtp) -> None:
    home, _server = demo
    env = _smtp_env(home, held_smtp)
    held_smtp.handler.hold_at = "rcpt"  # the first client's message, before it is handed over
    _killed_when_held(dd_start("daemon", "--once", env=env), held_smtp)
    assert held_smtp.handler.received == []
    status = dd_start("status", "--json", env=env)
    out, _err = status.communicate(timeout=60)
    assert status.returncode == 1
    assert [r["state"] for r in json.loads(out)["reports"]] == ["cut_short"]

    again = dd_start("daemon", "--once", env=env)
    _out, err = again.communicate(timeout=60)

    assert again.returncode == 0, err
    assert _subjects(held_smtp) == DEMO_CLIENTS
    assert _rows(home / "workbook.db", "SELECT job, status FROM job_run ORDER BY started_at") == [
        ("reports", "abandoned"), ("reports", "succeeded")]
    assert _rows(home / "workbook.db", "SELECT DISTINCT status FROM report") == [("sent",)]
    status = dd_start("status", env=env)
    _out, err = status.communicate(timeout=60)
    assert status.returncode == 0, err


def test_daemon_killed_after_a_report_is_handed_over_never_sends_it_twice_and_says_so(
        demo: tuple[Path, Any], dd_start, held_smtp) -> None:
    home, _server = demo
    env = _smtp_env(home, held_smtp)
    held_smtp.handler.hold_at = "data"  # the server has the first message; its answer never comes
    _killed_when_held(dd_start("daemon", "--once", env=env), held_smtp)

    again = dd_start("daemon", "--once", "--json-logs", env=env)
    _out, err = again.communicate(timeout=60)

    assert again.returncode == 3  # partly done
    assert _subjects(held_smtp) == DEMO_CLIENTS
    [end] = [log for log in _json_lines(err) if log["event"] == "job_end"]
    assert end["status"] == "partial"
    assert end["detail"]["sent"] == DEMO_CLIENTS[1:]
    assert [item.split(":")[0] for item in end["detail"]["failed"]] == ["Bloom Botanics"]
    status = dd_start("status", env=env)
    _out, err = status.communicate(timeout=60)
    assert status.returncode == 1
    assert "Bloom Botanics · daily report" in err and "may have been sent" in err
    assert 'datadrip report send "Bloom Botanics" --kind daily --since ' in err and "--force" in err


def test_daemon_next_run_sends_a_report_whose_send_was_cut_short_on_an_earlier_day(
        demo: tuple[Path, Any], dd_start, held_smtp) -> None:
    home, _server = demo
    env = _smtp_env(home, held_smtp)
    held_smtp.handler.hold_at = "rcpt"
    # A week ago in the agency's zone: a day the demo (synced on today's clock) has data for.
    day = (dt.datetime.now(ZoneInfo("Asia/Kolkata")) - dt.timedelta(days=7)).date().isoformat()
    _killed_when_held(dd_start("report", "send", "Bloom Botanics", "--kind", "daily", "--since",
                               day, "--until", day, env=env), held_smtp)

    daemon = dd_start("daemon", "--once", "--json-logs", env=env)
    _out, err = daemon.communicate(timeout=60)

    assert daemon.returncode == 0, err
    [end] = [log for log in _json_lines(err) if log["event"] == "job_end"]
    assert end["detail"]["sent"] == [*DEMO_CLIENTS, f"Bloom Botanics ({day})"]
    assert len(held_smtp.handler.received) == 7
    assert _rows(home / "workbook.db", "SELECT count(*) FROM report WHERE sending_since IS NOT NULL") \
        == [(0,)]
