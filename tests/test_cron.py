"""Under cron: real processes with pipes for stdout and stderr and a colour terminal's TERM. The
commands that do work print nothing on success, one line per problem on stderr, and exit as DESIGN
says; nothing carries an ANSI code; on a real terminal NO_COLOR takes the colour away.
(`sync` itself is run this way against the sandbox in tests/sync/test_sync_processes.py.)"""

from __future__ import annotations

import datetime as dt
import os
import pty
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import drain_terminal

from tests.analytics.analytics_support import D3, fill_workbook
from tests.commands.status_support import all_synced, sync_run, synced_through
from tests.reports.report_support import add_campaign_day

ANSI = re.compile(r"\x1b[\[\]()]")
# An SGR sequence that sets a colour (30-37, 38;…, 90-97 and their backgrounds); bold is no colour.
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")
DAY = ("--kind", "daily", "--since", "2026-11-01", "--until", "2026-11-01")
NOV = ("--since", "2026-11-01", "--until", "2026-11-03")


@pytest.fixture
def cron_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """What cron gives a job, plus a colour terminal's TERM that must not tempt anyone."""
    for name in ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    return {"TERM": "xterm-256color", "COLORTERM": "truecolor"}


@pytest.fixture
def filled(dd: Callable[..., Any]) -> Callable[..., Any]:
    """The hand-made workbook, synced two hours ago up to its last day, with recipients."""
    fill_workbook(dd)
    all_synced(2)
    synced_through(D3)
    assert dd("fx", "set", "USD", "INR", "83.10").exit_code == 0
    assert dd("client", "edit", "Masala Mornings", "--recipients", "owner@masala.example").exit_code == 0
    assert dd("client", "edit", "Peak Trail", "--recipients", "team@peaktrail.example").exit_code == 0
    # Numbers for Peak Trail on 1 Nov too: a report with none is not sent.
    add_campaign_day("Peak Trail", "act_2", "Trail", dt.date(2026, 11, 1), "15", currency="USD")
    return dd


def assert_plain(run: Any) -> None:
    assert not ANSI.search(run.stdout), run.stdout
    assert not ANSI.search(run.stderr), run.stderr
    assert "Traceback" not in run.stderr


def test_cron_report_send_all_prints_nothing_when_every_report_goes_out(filled, dd_process, cron_env,
                                                                          home: Path):
    run = dd_process("report", "send", "--all", *DAY, env=cron_env)

    assert (run.exit_code, run.stdout, run.stderr) == (0, "", "")
    assert len(list((home / "outbox").glob("*.eml"))) == 2
    again = dd_process("report", "send", "--all", *DAY, env=cron_env)  # already sent: still quiet
    assert (again.exit_code, again.stdout, again.stderr) == (0, "", "")
    verbose = dd_process("report", "send", "--all", *DAY, "--verbose", env=cron_env)
    assert verbose.exit_code == 0 and verbose.stderr == ""
    assert [line.split("\t")[:5] for line in verbose.stdout.splitlines()] == [
        ["Masala Mornings", "daily", "2026-11-01", "2026-11-01", "skipped"],
        ["Peak Trail", "daily", "2026-11-01", "2026-11-01", "skipped"]]
    assert_plain(verbose)


def test_cron_report_send_with_one_client_failing_exits_3_with_one_line_per_problem(
        filled, dd_process, cron_env, home: Path):
    from datadrip.platforms.registry import load_settings
    from datadrip.workbook.session import open_session

    with open_session(load_settings(), write=True) as wb:
        import sqlalchemy as sa

        wb.session.execute(sa.text("UPDATE client SET report_recipients = :bad WHERE name = 'Peak Trail'"),
                           {"bad": '["team@peaktrail.example\\nBcc: x@evil.example"]'})

    run = dd_process("report", "send", "--all", *DAY, env=cron_env)

    assert run.exit_code == 3
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 2, run.stderr
    assert lines[0].startswith("error: Peak Trail: ") and "is not an e-mail address" in lines[0]
    assert lines[1] == "error: 1 of 2 reports failed: Peak Trail; sent: Masala Mornings"
    assert_plain(run)


def test_cron_report_send_json_is_as_before(filled, dd_process, cron_env):
    run = dd_process("report", "send", "--all", *DAY, "--json", env=cron_env)

    assert run.exit_code == 0 and run.stderr == ""
    assert run.json()["sent"] == 2
    assert_plain(run)


@pytest.mark.parametrize("args", [
    ("dashboard", *NOV), ("dashboard", "--client", "Masala Mornings", *NOV),
    ("metrics", "--by", "campaign", *NOV), ("client", "list"), ("status",), ("account", "list"),
    ("report", "list")], ids=lambda args: " ".join(args[:2]))
def test_cron_piped_output_has_no_ansi_codes(filled, dd_process, cron_env, args):
    assert filled("report", "send", "--all", *DAY, "--json").exit_code == 0

    run = dd_process(*args, env=cron_env)

    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip()
    assert_plain(run)


def test_cron_errors_and_hints_have_no_ansi_codes(filled, dd_process, cron_env):
    for args in (("client", "show", "Nobody"), ("dashboard", "--period", "someday"),
                 ("report", "send", "Dormant", *DAY), ("sync", "--client", "Nobody")):
        run = dd_process(*args, env=cron_env)
        assert run.exit_code == 2, (args, run.stderr)
        assert run.stdout == "" and run.stderr.startswith("error: ")
        assert_plain(run)


def in_terminal(args: list[str], home: Path, **env: str) -> str:
    """`datadrip ARGS` with a pseudo-terminal as stdout and stderr, as a person runs it."""
    leader, follower = pty.openpty()
    environment = {**os.environ, "DATADRIP_HOME": str(home), "COLUMNS": "120",
                   "TERM": "xterm-256color", **env}
    for name in ("NO_COLOR", "FORCE_COLOR"):
        if name not in env:
            environment.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "datadrip", *args], stdout=follower,
                               stderr=follower, env=environment)
    os.close(follower)
    return drain_terminal(leader, process).decode()


@pytest.mark.parametrize("args", [("dashboard", "--client", "Masala Mornings", *NOV),
                                  ("dashboard", *NOV)], ids=["client", "agency"])
def test_cron_no_color_on_a_terminal_takes_the_colour_away(filled, home, args):
    coloured = in_terminal(list(args), home)
    assert COLOUR.search(coloured), "the dashboard has colour on a terminal"

    plain = in_terminal(list(args), home, NO_COLOR="1")

    assert not COLOUR.search(plain), plain
    assert "Masala Mornings" in plain and "ROAS" in plain  # still drawn, only without colour


def test_cron_send_and_status_on_a_terminal_still_show_their_tables(filled, home):
    screen = in_terminal(["report", "send", "--all", *DAY], home, NO_COLOR="1")

    assert "Masala Mornings" in screen and "sent" in screen and "┏" in screen
    assert not COLOUR.search(screen)
    sync_run("act_2", "failed", 1, error="Meta answered 500")
    status = in_terminal(["status"], home, NO_COLOR="1")
    assert "DataDrip status" in status and "daily 2026-11-01" in status and "failing" in status
    assert "not ok: 1 problem: Peak Trail · meta act_2 failed its last sync" in status
    assert not COLOUR.search(status)


def test_cron_a_dry_run_still_shows_its_plan_when_piped(filled, dd_process, cron_env):
    sync = dd_process("sync", "--dry-run", "--level", "campaign", env=cron_env)
    send = dd_process("report", "send", "--all", *DAY, "--dry-run", env=cron_env)

    assert sync.exit_code == 0 and send.exit_code == 0, sync.stderr + send.stderr
    assert sorted(line.split("\t")[2] for line in sync.stdout.splitlines()) == [
        "1234567890", "act_1", "act_2"]  # what would be fetched: asked for, so shown
    assert [line.split("\t")[4] for line in send.stdout.splitlines()] == ["would_send", "would_send"]
    assert_plain(sync)
    assert_plain(send)
