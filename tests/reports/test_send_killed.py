"""`datadrip report send` as a real process, SIGKILLed at a moment the SMTP server chooses (it holds
the dialogue before the message, or after taking it), then run again at once: a send that never
handed its message over is sent by the rerun; one that did is "uncertain", named by `status`
(exit 1) with the command to use, and never sent twice; a live sender is left alone."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.analytics.analytics_support import fill_workbook
from tests.commands.status_support import synced_through
from tests.reports.mail_support import SmtpServer, start_smtp

DAY = ("--kind", "daily", "--since", "2026-11-01", "--until", "2026-11-01")
MASALA = "Masala Mornings"
FORCE = ('datadrip report send "Masala Mornings" --kind daily --since 2026-11-01 --until 2026-11-01 '
         "--force")


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    for server in start_smtp():
        for key, value in {"PROVIDER": "smtp", "FROM": "reports@spiceroute.example",
                           "SMTP_HOST": server.host, "SMTP_PORT": str(server.port),
                           "SMTP_STARTTLS": "false", "TIMEOUT_SECONDS": "60"}.items():
            monkeypatch.setenv(f"DATADRIP_EMAIL_{key}", value)
        yield server
        server.handler.let_go()


def prepared(dd: Callable[..., Any]) -> Callable[..., Any]:
    """The hand-made workbook, every account synced up to 30 November (a day without numbers is
    empty), with a rate, and recipients for Masala Mornings."""
    fill_workbook(dd)
    synced_through(dt.date(2026, 11, 30))
    assert dd("fx", "set", "USD", "INR", "83.10").exit_code == 0
    assert dd("client", "edit", MASALA, "--recipients", "owner@masala.example").exit_code == 0
    return dd


@pytest.fixture
def ready(dd: Callable[..., Any], smtp: SmtpServer) -> Callable[..., Any]:
    return prepared(dd)


def held_sender(dd_start: Callable[..., subprocess.Popen[str]], smtp: SmtpServer,
                point: str) -> subprocess.Popen[str]:
    """`report send` started in the background and held by the server at `point`."""
    smtp.handler.hold_at = point
    process = dd_start("report", "send", MASALA, *DAY)
    while not smtp.handler.held.wait(0.05):
        assert process.poll() is None, process.communicate()
    return process


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def listed(dd: Callable[..., Any]) -> dict[str, Any]:
    [report] = dd("report", "list", "--json").json()
    return dict(report)


def test_send_killed_before_the_hand_over_is_sent_by_the_rerun_at_once(ready, smtp, dd_start):
    kill(held_sender(dd_start, smtp, "rcpt"))
    smtp.handler.let_go()
    assert smtp.handler.received == []
    status = ready("status", "--json")
    assert status.exit_code == 1
    [cut] = status.json()["reports"]
    assert cut["state"] == "cut_short"
    assert cut["command"] == FORCE.removesuffix(" --force")

    rerun = ready("report", "send", MASALA, *DAY, "--json")

    assert rerun.exit_code == 0, rerun.stderr
    assert rerun.json()["reports"][0]["status"] == "sent"
    [received] = smtp.handler.received
    assert received.message()["Message-ID"] == rerun.json()["reports"][0]["message_id"]
    assert (listed(ready)["status"], listed(ready)["sending_since"]) == ("sent", None)
    assert ready("status").exit_code == 0


def test_send_killed_after_the_hand_over_is_uncertain_and_never_sent_twice(ready, smtp, dd_start):
    kill(held_sender(dd_start, smtp, "data"))
    smtp.handler.let_go()
    [received] = smtp.handler.received  # the server has it; the sender never heard back
    assert listed(ready)["status"] == "uncertain"
    status = ready("status")
    assert status.exit_code == 1
    assert "Masala Mornings · daily report 2026-11-01 may have been sent" in status.stderr
    assert received.message()["Message-ID"] in status.stderr and FORCE in status.stderr

    rerun = ready("report", "send", MASALA, *DAY, "--json")

    assert rerun.exit_code == 1
    report = rerun.json()["reports"][0]
    assert (report["status"], report["maybe_sent"]) == ("failed", True)
    assert report["reason"].startswith("uncertain: handed over to smtp at ")
    assert len(smtp.handler.received) == 1
    assert (listed(ready)["status"], listed(ready)["sending_since"]) == ("uncertain", None)
    history = ready("report", "show", listed(ready)["id"], "--json").json()["deliveries"]
    assert [d["status"] for d in history] == ["uncertain"]
    assert ready("status").exit_code == 1
    forced = ready("report", "send", MASALA, *DAY, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert len(smtp.handler.received) == 2
    assert ready("status").exit_code == 0


def test_send_leaves_a_report_a_live_sender_holds_and_it_is_sent_once(ready, smtp, dd_start):
    first = held_sender(dd_start, smtp, "rcpt")

    second = ready("report", "send", MASALA, *DAY, "--json")
    status = ready("status", "--json")
    smtp.handler.let_go()
    _out, err = first.communicate(timeout=60)

    assert second.exit_code == 0
    report = second.json()["reports"][0]
    assert report["status"] == "skipped"
    assert report["reason"].startswith(f"another DataDrip (process {first.pid}) has been sending")
    assert status.exit_code == 0 and status.json()["reports"][0]["state"] == "sending"
    assert first.returncode == 0, err
    assert len(smtp.handler.received) == 1
    assert listed(ready)["status"] == "sent"


def test_send_all_counts_an_uncertain_report_as_a_failure_naming_its_force_command(
        ready, smtp, dd_start):
    kill(held_sender(dd_start, smtp, "data"))
    smtp.handler.let_go()
    assert ready("client", "edit", "Peak Trail", "--recipients", "team@peaktrail.example").exit_code == 0

    run = ready("report", "send", "--all", *DAY)  # piped, as under cron: one line per problem

    assert run.exit_code == 3, run.stderr  # the other client's turn ended well: skipped, empty
    [line] = [line for line in run.stderr.splitlines() if line.startswith("error: Masala")]
    assert line.startswith("error: Masala Mornings: uncertain: handed over to smtp at ")
    assert line.endswith(FORCE)
    assert run.stderr.splitlines()[-1] == (
        "error: 1 of 2 reports uncertain (may have been sent): Masala Mornings; "
        "skipped: Peak Trail (no data for 1 Nov 2026)")
    assert "Run the same command again" not in run.stderr  # it would not send it
    assert len(smtp.handler.received) == 1

    alone = ready("report", "send", "--all", *DAY, "--verbose")

    assert alone.exit_code == 3
    assert "error: 1 of 2 reports uncertain (may have been sent): Masala Mornings; skipped: Peak" \
        in alone.stderr
    assert alone.stderr.rstrip().splitlines()[-1].endswith(FORCE)  # the run's own hint names it too


def test_send_on_a_shared_postgresql_workbook_is_held_by_the_server_and_let_go_by_a_killed_sender(
        dd, smtp, dd_start, postgres_url, monkeypatch, tmp_path):
    """Two data folders stand for two machines sharing the workbook: the claim is the server's
    advisory lock, seen by both, and dropped when the killed sender's connection goes."""
    monkeypatch.setenv("DATADRIP_WORKBOOK_URL", postgres_url)
    prepared(dd)
    first = held_sender(dd_start, smtp, "rcpt")
    other_machine = {"DATADRIP_HOME": str(tmp_path / "other-machine")}
    second = dd_start("report", "send", MASALA, *DAY, "--json", env=other_machine)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert json.loads(out)["reports"][0]["reason"].startswith("another DataDrip has been sending")

    kill(first)
    smtp.handler.let_go()
    rerun = dd_start("report", "send", MASALA, *DAY, "--json", env=other_machine)
    out, err = rerun.communicate(timeout=60)

    assert rerun.returncode == 0, err
    assert json.loads(out)["reports"][0]["status"] == "sent"
    assert len(smtp.handler.received) == 1
