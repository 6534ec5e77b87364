"""`datadrip report send` through a real SMTP server (aiosmtpd on 127.0.0.1): the whole report
e-mail arrives once; a busy server is retried; a refusal fails that client alone (exit 3); an
answer lost after the message was handed over is never followed by a second copy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.analytics.analytics_support import fill_workbook
from tests.reports.mail_support import SmtpServer, start_smtp
from tests.reports.report_support import add_campaign_day

DAY = ("--kind", "daily", "--since", "2026-11-01", "--until", "2026-11-01")
MASALA = "Masala Mornings"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    for server in start_smtp():
        for key, value in {"PROVIDER": "smtp", "FROM": "reports@spiceroute.example",
                           "REPLY_TO": "priya@spiceroute.example", "SMTP_HOST": server.host,
                           "SMTP_PORT": str(server.port), "SMTP_STARTTLS": "false",
                           "TIMEOUT_SECONDS": "2"}.items():
            monkeypatch.setenv(f"DATADRIP_EMAIL_{key}", value)
        yield server


@pytest.fixture
def ready(dd: Callable[..., Any], smtp: SmtpServer) -> Callable[..., Any]:
    fill_workbook(dd)
    assert dd("fx", "set", "USD", "INR", "83.10").exit_code == 0
    assert dd("client", "edit", MASALA, "--recipients", "owner@masala.example").exit_code == 0
    assert dd("client", "edit", "Peak Trail", "--recipients", "team@peaktrail.example").exit_code == 0
    add_campaign_day("Peak Trail", "act_2", "Trail", dt.date(2026, 11, 1), "15", currency="USD")
    return dd


def test_send_by_smtp_delivers_one_whole_report_email(ready, smtp):
    run = ready("report", "send", MASALA, *DAY, "--json")

    assert run.exit_code == 0, run.stderr
    [received] = smtp.handler.received
    assert received.mail_from == "reports@spiceroute.example"
    assert received.rcpt_tos == ["owner@masala.example"]
    message = received.message()
    assert message["Subject"] == "Masala Mornings — daily report, 1 Nov 2026"
    assert message["From"] == "Spice Route Media <reports@spiceroute.example>"
    assert message["Reply-To"] == "priya@spiceroute.example"
    assert message["Message-ID"] == run.json()["reports"][0]["message_id"]
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.get_payload()
    assert plain.get_content_type() == "text/plain" and "₹2,031.00" in plain.get_content()
    assert related.get_content_type() == "multipart/related"
    html, *images = related.get_payload()
    assert "₹2,031.00" in html.get_content()
    assert {image["Content-ID"] for image in images} == {"<trend@datadrip>", "<channels@datadrip>"}
    assert all(image.get_content_type() == "image/png" for image in images)
    assert all(f'src="cid:{image["Content-ID"][1:-1]}"' in html.get_content() for image in images)


def test_send_by_smtp_retries_a_busy_server_and_delivers_once(ready, smtp):
    smtp.handler.busy_mail = 1

    run = ready("report", "send", MASALA, *DAY, "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["reports"][0]["attempts"] == 2
    assert len(smtp.handler.received) == 1


def test_send_all_by_smtp_goes_on_after_a_refused_client_and_exits_3(ready, smtp):
    smtp.handler.refuse["team@peaktrail.example"] = "550 5.1.1 No such mailbox"

    run = ready("report", "send", "--all", *DAY, "--json")

    assert run.exit_code == 3
    by_client = {r["client"]: r for r in run.json()["reports"]}
    assert by_client[MASALA]["status"] == "sent"
    assert by_client["Peak Trail"]["status"] == "failed"
    assert by_client["Peak Trail"]["attempts"] == 1  # a refusal is not retried
    assert "error: Peak Trail:" in run.stderr and "550" in run.stderr
    assert [r.rcpt_tos for r in smtp.handler.received] == [["owner@masala.example"]]
    smtp.handler.refuse.clear()
    again = ready("report", "send", "--all", *DAY, "--json")
    assert again.exit_code == 0, again.stderr
    assert [(r["client"], r["status"]) for r in again.json()["reports"]] == [
        (MASALA, "skipped"), ("Peak Trail", "sent")]
    assert len(smtp.handler.received) == 2


def test_send_by_smtp_whose_answer_is_lost_is_not_sent_twice(ready, smtp):
    smtp.handler.hang_after_data = 4  # longer than timeout_seconds: the answer never comes

    run = ready("report", "send", MASALA, *DAY)

    assert run.exit_code == 1
    assert "error: Masala Mornings: uncertain: the SMTP server" in run.stderr and "may have" in run.stderr
    assert ('Only if it did not arrive: datadrip report send "Masala Mornings" --kind daily --since '
            "2026-11-01 --until 2026-11-01 --force") in run.stderr
    assert "error: 1 report uncertain (may have been sent): Masala Mornings" in run.stderr
    assert len(smtp.handler.received) == 1
    smtp.handler.hang_after_data = 0
    again = ready("report", "send", MASALA, *DAY)
    assert again.exit_code == 1
    assert "uncertain: the SMTP server" in again.stderr and "took the whole message" in again.stderr
    assert ('datadrip report send "Masala Mornings" --kind daily --since 2026-11-01 --until 2026-11-01 '
            "--force") in again.stderr
    assert len(smtp.handler.received) == 1
    [listed] = ready("report", "list", "--json").json()
    assert (listed["status"], listed["sending_since"]) == ("uncertain", None)
    assert ready("status").exit_code == 1
    forced = ready("report", "send", MASALA, *DAY, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert len(smtp.handler.received) == 2


def test_send_by_smtp_to_a_closed_port_fails_cleanly_after_its_attempts(ready, smtp, monkeypatch):
    from tests.reports.mail_support import free_port

    monkeypatch.setenv("DATADRIP_EMAIL_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("DATADRIP_EMAIL_ATTEMPTS", "2")

    run = ready("report", "send", MASALA, *DAY, "--json")

    assert run.exit_code == 1
    report = run.json()["reports"][0]
    assert (report["status"], report["attempts"], report["maybe_sent"]) == ("failed", 2, False)
    assert "Traceback" not in run.stderr
    [listed] = ready("report", "list", "--json").json()
    assert listed["status"] == "failed" and listed["sending_since"] is None
