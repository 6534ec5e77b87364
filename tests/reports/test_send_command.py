"""`datadrip report send`: each client's report goes to its recipients once; sending again is a
no-op unless forced; a copy (--to) is not the client's send; a send cut short is not repeated
blindly; nothing is kept by a dry run. Delivered here through the outbox (the default provider)."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from datadrip.platforms.registry import load_settings
from datadrip.workbook.session import open_session
from tests.analytics.analytics_support import fill_workbook
from tests.reports.report_support import add_campaign_day

DAY = ("--kind", "daily", "--since", "2026-11-01", "--until", "2026-11-01")
MASALA = "Masala Mornings"
LOGO = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAA"
                        "AABJRU5ErkJggg==")  # a 1×1 PNG


@pytest.fixture
def ready(dd: Callable[..., Any]) -> Callable[..., Any]:
    """The hand-made workbook, with rates and recipients for Masala Mornings and Peak Trail, and
    numbers for Peak Trail on 1 Nov (a report with none is not sent)."""
    fill_workbook(dd)
    assert dd("fx", "set", "USD", "INR", "83.10").exit_code == 0
    assert dd("client", "edit", MASALA, "--recipients", "owner@masala.example,cfo@masala.example") \
        .exit_code == 0
    assert dd("client", "edit", "Peak Trail", "--recipients", "team@peaktrail.example").exit_code == 0
    add_campaign_day("Peak Trail", "act_2", "Trail", dt.date(2026, 11, 1), "15", currency="USD")
    return dd


def outbox(home: Path) -> list[Path]:
    return sorted((home / "outbox").glob("*.eml"))


def parsed(path: Path) -> Any:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def send(dd: Callable[..., Any], *args: str) -> Any:
    return dd("report", "send", *args, "--json")


def execute(sql: str, **params: Any) -> list[Any]:
    with open_session(load_settings(), write=True) as wb:
        result = wb.session.execute(sa.text(sql), params)
        return list(result) if result.returns_rows else []


def test_send_delivers_the_report_to_the_clients_recipients_and_records_it(ready, home):
    run = send(ready, MASALA, *DAY)

    assert run.exit_code == 0, run.stderr
    result = run.json()
    assert (result["sent"], result["skipped"], result["failed"]) == (1, 0, 0)
    report = result["reports"][0]
    assert report["status"] == "sent"
    assert report["recipients"] == ["owner@masala.example", "cfo@masala.example"]
    assert report["subject"] == "Masala Mornings — daily report, 1 Nov 2026"
    [eml] = outbox(home)
    assert report["provider"] == "outbox" and report["provider_id"] == str(eml)
    message = parsed(eml)
    assert message["To"] == "owner@masala.example, cfo@masala.example"
    assert message["Subject"] == "Masala Mornings — daily report, 1 Nov 2026"
    assert message["From"] == "Spice Route Media <reports@localhost.invalid>"
    assert message["Message-ID"] == report["message_id"]
    html = message.get_body(("html",)).get_content()
    assert "₹2,031.00" in html and 'src="cid:trend@datadrip"' in html
    listed = ready("report", "list", "--json").json()
    assert [(r["status"], r["message_id"], r["provider"]) for r in listed] == \
        [("sent", report["message_id"], "outbox")]


def test_send_again_is_a_no_op_that_says_so(ready, home):
    first = send(ready, MASALA, *DAY).json()["reports"][0]

    again = send(ready, MASALA, *DAY)

    assert again.exit_code == 0
    report = again.json()["reports"][0]
    assert report["status"] == "skipped"
    assert report["reason"].startswith("already sent on ")
    assert report["message_id"] == first["message_id"]
    assert len(outbox(home)) == 1
    table = ready("report", "send", MASALA, *DAY, "--verbose")
    assert "skipped" in table.stdout and "already sent on" in table.stdout
    quiet = ready("report", "send", MASALA, *DAY)  # piped, as under cron: nothing to say
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")


def test_send_force_sends_again_and_keeps_both_deliveries(ready, home):
    first = send(ready, MASALA, *DAY).json()["reports"][0]

    forced = send(ready, MASALA, *DAY, "--force").json()["reports"][0]

    assert forced["status"] == "sent" and forced["message_id"] != first["message_id"]
    assert len(outbox(home)) == 2
    shown = ready("report", "show", forced["report_id"], "--json").json()
    assert [(d["status"], d["forced"]) for d in shown["deliveries"]] == [("sent", False), ("sent", True)]
    assert shown["message_id"] == forced["message_id"]


def test_send_dry_run_keeps_and_sends_nothing(ready, home):
    run = send(ready, "--all", *DAY, "--dry-run")

    assert run.exit_code == 0, run.stderr
    result = run.json()
    assert result["dry_run"] is True
    assert [(r["client"], r["status"]) for r in result["reports"]] == \
        [("Masala Mornings", "would_send"), ("Peak Trail", "would_send")]
    assert outbox(home) == []
    assert ready("report", "list", "--json").json() == []


def test_send_to_an_address_is_a_copy_that_leaves_the_clients_send_to_do(ready, home):
    copy = send(ready, MASALA, *DAY, "--to", "me@agency.example")

    assert copy.exit_code == 0, copy.stderr
    assert copy.json()["reports"][0]["recipients"] == ["me@agency.example"]
    assert parsed(outbox(home)[0])["To"] == "me@agency.example"
    assert ready("report", "list", "--json").json()[0]["status"] == "built"
    real = send(ready, MASALA, *DAY).json()["reports"][0]
    assert real["status"] == "sent"
    assert len(outbox(home)) == 2


def test_send_all_goes_to_every_active_client_with_recipients_and_skips_the_rest(ready, home):
    assert ready("client", "edit", "Dormant", "--active").exit_code == 0

    run = send(ready, "--all", *DAY)

    assert run.exit_code == 0, run.stderr
    by_client = {r["client"]: r for r in run.json()["reports"]}
    assert by_client["Masala Mornings"]["status"] == "sent"
    assert by_client["Peak Trail"]["status"] == "sent"
    assert by_client["Dormant"]["status"] == "skipped"
    assert by_client["Dormant"]["reason"] == "Dormant has no report recipients"
    assert len(outbox(home)) == 2


def test_send_to_one_client_without_recipients_exits_2_with_the_command_to_add_them(ready, home):
    run = ready("report", "send", "Dormant", *DAY)

    assert run.exit_code == 2
    assert "error: Dormant has no report recipients" in run.stderr
    assert 'Hint: Add them: datadrip client edit "Dormant" --recipients' in run.stderr
    assert run.stdout == ""
    assert outbox(home) == []


@pytest.mark.parametrize("args", [(), (MASALA, "--all")], ids=["neither", "both"])
def test_send_needs_a_client_or_all_but_not_both(ready, args):
    run = ready("report", "send", *args)

    assert run.exit_code == 2
    assert "error: name a client, or give --all for every active client" in run.stderr


def test_send_to_a_bad_address_exits_2_before_anything_is_built(ready, home):
    run = ready("report", "send", MASALA, *DAY, "--to", "me@agency.example\nBcc: x@evil.example")

    assert run.exit_code == 2
    assert "--to" in run.stderr and "is not an e-mail address" in run.stderr
    assert ready("report", "list", "--json").json() == []


def test_send_all_hands_every_message_the_sender_and_reply_to_checked_once(ready, home, monkeypatch):
    monkeypatch.setenv("DATADRIP_EMAIL_FROM", "  reports@SpiceRoute.example ")
    monkeypatch.setenv("DATADRIP_EMAIL_REPLY_TO", "priya@SpiceRoute.example")

    run = send(ready, "--all", *DAY)

    assert run.exit_code == 0, run.stderr
    messages = [parsed(path) for path in outbox(home)]
    assert len(messages) == 2
    assert {(m["From"], m["Reply-To"]) for m in messages} == {
        ("Spice Route Media <reports@spiceroute.example>", "priya@spiceroute.example")}
    assert all(m["Message-ID"].endswith("@spiceroute.example>") for m in messages)


def test_send_with_a_malformed_reply_to_exits_2_and_keeps_nothing(ready, home, monkeypatch):
    monkeypatch.setenv("DATADRIP_EMAIL_REPLY_TO", "Priya <priya@spiceroute.example>")

    run = ready("report", "send", MASALA, *DAY)

    assert run.exit_code == 2
    assert "error: [email] reply_to 'Priya <priya@spiceroute.example>' is not an e-mail address" in run.stderr
    assert outbox(home) == [] and ready("report", "list", "--json").json() == []


def test_send_claim_of_a_dead_sender_that_never_handed_over_is_taken_over_and_sent(ready, home):
    assert ready("report", "build", MASALA, *DAY, "--format", "json").exit_code == 0
    # A claim made a moment ago by a sender that holds no send lock: it died before the hand-over.
    execute("UPDATE report SET sending_since = :at", at=dt.datetime.now(dt.UTC).replace(tzinfo=None))

    run = send(ready, MASALA, *DAY)

    assert run.exit_code == 0, run.stderr
    assert run.json()["reports"][0]["status"] == "sent"
    assert len(outbox(home)) == 1
    [listed] = ready("report", "list", "--json").json()
    assert (listed["status"], listed["sending_since"]) == ("sent", None)


def test_send_claim_of_a_dead_sender_after_the_hand_over_is_uncertain_until_forced(ready, home):
    assert ready("report", "build", MASALA, *DAY, "--format", "json").exit_code == 0
    execute("UPDATE report SET sending_since = :at, status = 'uncertain', message_id = '<m.1@x>', "
            "provider = 'outbox', error = 'handed over to outbox at 2026-11-02 03:30:00 UTC, and the "
            "sender stopped before the answer was recorded: it may have reached its recipients'",
            at=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    command = (f'datadrip report send "{MASALA}" --kind daily --since 2026-11-01 --until 2026-11-01 '
               "--force")

    run = ready("report", "send", MASALA, *DAY)

    assert run.exit_code == 1
    assert "uncertain: handed over to outbox at 2026-11-02 03:30:00 UTC" in run.stderr
    assert "<m.1@x>" in run.stderr and command in run.stderr
    assert outbox(home) == []
    [listed] = ready("report", "list", "--json").json()
    assert (listed["status"], listed["sending_since"]) == ("uncertain", None)
    status = ready("status")
    assert status.exit_code == 1
    assert "may have been sent" in status.stderr and command in status.stderr
    forced = send(ready, MASALA, *DAY, "--force")
    assert forced.exit_code == 0 and forced.json()["reports"][0]["status"] == "sent"
    assert len(outbox(home)) == 1
    assert ready("status").exit_code == 0


def test_send_skips_a_report_another_live_datadrip_is_sending_now(ready, home):
    from datadrip.reports.claims import report_key, send_locks

    assert ready("report", "build", MASALA, *DAY, "--format", "json").exit_code == 0
    [(report_id, client_id)] = execute("SELECT id, client_id FROM report")
    execute("UPDATE report SET sending_since = :at", at=dt.datetime(2026, 11, 2, 3, 30))
    key = report_key(client_id, "daily", dt.date(2026, 11, 1), dt.date(2026, 11, 1))

    with send_locks(load_settings()) as locks:  # another sender, alive: it holds the send lock
        assert locks.take(key)
        run = send(ready, MASALA, *DAY)
        status = ready("status", "--json")

    assert run.exit_code == 0
    report = run.json()["reports"][0]
    assert report["status"] == "skipped"
    assert report["reason"].startswith("another DataDrip (process ")
    assert report["reason"].endswith("has been sending this report since 2026-11-02 03:30 UTC")
    assert outbox(home) == []
    assert [r["state"] for r in status.json()["reports"] if r["id"] == report_id] == ["sending"]
    assert send(ready, MASALA, *DAY).json()["reports"][0]["status"] == "sent"  # let go: taken over


def test_send_to_an_unwritable_outbox_records_the_failure_and_a_later_send_succeeds(ready, home,
                                                                                     monkeypatch):
    blocker = home / "not-a-folder"
    blocker.write_text("a file where the outbox should be")
    monkeypatch.setenv("DATADRIP_EMAIL_OUTBOX_DIR", str(blocker))

    failed = ready("report", "send", MASALA, *DAY)

    assert failed.exit_code == 1
    assert "error: Masala Mornings:" in failed.stderr
    [listed] = ready("report", "list", "--json").json()
    assert listed["status"] == "failed" and listed["error"]
    monkeypatch.setenv("DATADRIP_EMAIL_OUTBOX_DIR", str(home / "outbox"))
    retried = send(ready, MASALA, *DAY)
    assert retried.exit_code == 0 and retried.json()["reports"][0]["status"] == "sent"
    shown = ready("report", "show", listed["id"], "--json").json()
    assert [d["status"] for d in shown["deliveries"]] == ["failed", "sent"]


def test_send_with_a_provider_missing_its_key_exits_2_and_keeps_nothing(ready, home, monkeypatch):
    monkeypatch.setenv("DATADRIP_EMAIL_PROVIDER", "resend")
    monkeypatch.setenv("DATADRIP_EMAIL_FROM", "reports@spiceroute.example")

    run = ready("report", "send", MASALA, *DAY)

    assert run.exit_code == 2
    assert "email.resend_api_key" in run.stderr
    assert ready("report", "list", "--json").json() == []


def test_send_json_keys_are_stable(ready):
    result = send(ready, MASALA, *DAY).json()

    assert list(result) == ["dry_run", "sent", "skipped", "failed", "reports"]
    assert list(result["reports"][0]) == [
        "client", "kind", "period", "status", "recipients", "subject", "report_id", "provider",
        "message_id", "provider_id", "attempts", "reason", "maybe_sent", "warnings"]


def test_send_with_a_malformed_from_address_exits_2_and_keeps_nothing(ready, home, monkeypatch):
    monkeypatch.setenv("DATADRIP_EMAIL_FROM", "Spice Route <reports@spiceroute.example>")

    run = ready("report", "send", MASALA, *DAY)

    assert run.exit_code == 2
    assert "[email] from" in run.stderr and "is not an e-mail address" in run.stderr
    assert outbox(home) == [] and ready("report", "list", "--json").json() == []


def test_send_to_a_client_whose_stored_recipient_is_malformed_fails_that_client_only(ready, home):
    execute("UPDATE client SET report_recipients = :bad WHERE name = 'Peak Trail'",
            bad='["team@peaktrail.example\\nBcc: x@evil.example"]')

    run = send(ready, "--all", *DAY)

    assert run.exit_code == 3
    by_client = {r["client"]: r for r in run.json()["reports"]}
    assert by_client[MASALA]["status"] == "sent"
    assert by_client["Peak Trail"]["status"] == "failed"
    assert "is not an e-mail address" in by_client["Peak Trail"]["reason"]
    assert len(outbox(home)) == 1


def test_send_shows_the_agencys_logo_inline_and_goes_on_without_it_once_the_file_is_gone(ready, home,
                                                                                        tmp_path):
    logo = tmp_path / "logo.png"
    logo.write_bytes(LOGO)
    assert ready("agency", "edit", "Spice Route Media", "--logo", str(logo)).exit_code == 0

    sent = send(ready, MASALA, *DAY)

    assert sent.exit_code == 0, sent.stderr
    message = parsed(outbox(home)[0])
    html = message.get_body(("html",)).get_content()
    assert 'src="cid:logo@datadrip"' in html
    parts = {part["Content-ID"]: part for part in message.walk() if part["Content-ID"]}
    assert parts["<logo@datadrip>"].get_content() == LOGO
    page = ready("report", "show", sent.json()["reports"][0]["report_id"], "--html").stdout
    assert "data:image/png;base64," + base64.b64encode(LOGO).decode() in page
    logo.unlink()
    copy = send(ready, MASALA, *DAY, "--to", "me@agency.example")
    assert copy.exit_code == 0, copy.stderr
    [mine] = [parsed(path) for path in outbox(home) if parsed(path)["To"] == "me@agency.example"]
    assert "logo@datadrip" not in mine.get_body(("html",)).get_content()
    assert "Spice Route Media" in mine.get_body(("html",)).get_content()
