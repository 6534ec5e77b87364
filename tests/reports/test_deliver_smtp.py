"""Delivery over SMTP to a real server (aiosmtpd on 127.0.0.1): TLS, login, refusals, retries, and a
server that goes quiet after taking the message."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datadrip.core.errors import ConfigError
from datadrip.reports.delivery.base import DeliveryError, deliver
from reports.mail_support import (
    PNG,
    SMTP_PASSWORD,
    SMTP_USER,
    OwnCA,
    RecordedSleep,
    SmtpServer,
    free_port,
    make_ca,
    open_from_settings,
    report_email,
    start_smtp,
    text_of,
)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from start_smtp()


@pytest.fixture
def ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OwnCA:
    """Our own CA, trusted by ssl.create_default_context() through SSL_CERT_FILE (as an agency
    would trust its mail server's CA)."""
    own = make_ca(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(own.ca_file))
    return own


def smtp_provider(monkeypatch: pytest.MonkeyPatch, server: SmtpServer, **settings: Any) -> Any:
    values = {"provider": "smtp", "from": "reports@spiceroute.example", "smtp_host": server.host,
              "smtp_port": server.port, "smtp_starttls": False, "timeout_seconds": 5, **settings}
    return open_from_settings(monkeypatch, **values)


def test_smtp_delivers_the_mime_message_to_every_recipient(smtp: SmtpServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    message = report_email()

    delivery = deliver(smtp_provider(monkeypatch, smtp), message, attempts=3, sleep=RecordedSleep())

    assert (delivery.provider, delivery.attempts, delivery.provider_id, delivery.refused) == \
        ("smtp", 1, None, ())
    assert delivery.message_id == message.message_id
    [received] = smtp.handler.received
    assert received.mail_from == "reports@spiceroute.example"
    assert received.rcpt_tos == ["owner@masala.example", "ops@masala.example"]
    parsed = received.message()
    assert parsed["Message-ID"] == message.message_id
    assert parsed["Subject"] == message.subject
    assert text_of(parsed.get_body(("plain",))) == message.text
    [image] = [part for part in parsed.walk() if part.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<trend@datadrip>" and image.get_content() == PNG


def test_smtp_body_lines_starting_with_a_dot_arrive_intact(smtp: SmtpServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Totals\n.\n..hidden\n.end\n"

    deliver(smtp_provider(monkeypatch, smtp), report_email(text=text), attempts=1)

    assert text_of(smtp.handler.received[0].message().get_body(("plain",))) == text


def test_smtp_logs_in_when_a_username_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for server in start_smtp(auth=True):
        provider = smtp_provider(monkeypatch, server, smtp_username=SMTP_USER, smtp_password=SMTP_PASSWORD)

        deliver(provider, report_email(), attempts=1)

        assert server.logins == [(SMTP_USER, SMTP_PASSWORD)]
        assert len(server.handler.received) == 1


def test_smtp_wrong_password_is_permanent_and_never_shows_the_password(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for server in start_smtp(auth=True):
        provider = smtp_provider(monkeypatch, server, smtp_username=SMTP_USER, smtp_password="wrong-pa55")
        sleep = RecordedSleep()

        with pytest.raises(DeliveryError) as failure:
            deliver(provider, report_email(), attempts=3, sleep=sleep)

        assert failure.value.permanent and failure.value.attempts == 1 and sleep.waits == []
        assert "refused the login 535" in failure.value.message
        assert "email.smtp_password" in (failure.value.hint or "")
        assert "wrong-pa55" not in failure.value.message + (failure.value.hint or "")
        assert server.handler.received == []


def test_smtp_starttls_with_a_trusted_certificate_then_login(ca: OwnCA,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for server in start_smtp(tls=ca.server_context(), auth=True):
        provider = smtp_provider(monkeypatch, server, smtp_starttls=True, smtp_username=SMTP_USER,
                                 smtp_password=SMTP_PASSWORD)

        delivery = deliver(provider, report_email(), attempts=1)

        assert delivery.attempts == 1
        assert server.logins == [(SMTP_USER, SMTP_PASSWORD)]  # the server allows AUTH only over TLS
        assert len(server.handler.received) == 1


def test_smtp_tls_from_the_start(ca: OwnCA, monkeypatch: pytest.MonkeyPatch) -> None:
    for server in start_smtp(tls=ca.server_context(), implicit_tls=True):
        provider = smtp_provider(monkeypatch, server, smtp_ssl=True, smtp_starttls=True)

        deliver(provider, report_email(), attempts=1)

        assert len(server.handler.received) == 1


def test_smtp_untrusted_certificate_is_permanent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = make_ca(tmp_path)  # not made trusted
    for server in start_smtp(tls=own.server_context()):
        provider = smtp_provider(monkeypatch, server, smtp_starttls=True)

        with pytest.raises(DeliveryError) as failure:
            deliver(provider, report_email(), attempts=3, sleep=RecordedSleep())

        assert failure.value.permanent and failure.value.attempts == 1
        assert "certificate" in failure.value.message and "not trusted" in failure.value.message
        assert server.handler.received == []


def test_smtp_starttls_wanted_but_not_offered_sends_nothing(smtp: SmtpServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    provider = smtp_provider(monkeypatch, smtp, smtp_starttls=True)

    with pytest.raises(DeliveryError) as failure:
        deliver(provider, report_email(), attempts=3, sleep=RecordedSleep())

    assert failure.value.permanent and failure.value.attempts == 1
    assert "does not offer STARTTLS" in failure.value.message
    assert smtp.handler.received == [] and smtp.handler.rcpt_seen == 0


@pytest.mark.parametrize("busy", ["busy_rcpt", "busy_mail"])
def test_smtp_451_once_is_retried_and_delivered_once(busy: str, smtp: SmtpServer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    setattr(smtp.handler, busy, 1)
    sleep = RecordedSleep()

    delivery = deliver(smtp_provider(monkeypatch, smtp), report_email(), attempts=3, sleep=sleep)

    assert delivery.attempts == 2
    assert len(sleep.waits) == 1 and 1.0 <= sleep.waits[0] <= 2.0  # backoff with jitter
    assert len(smtp.handler.received) == 1


def test_smtp_550_for_every_recipient_is_permanent_and_not_retried(smtp: SmtpServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    smtp.handler.refuse = {"owner@masala.example": "550 5.1.1 No such user",
                           "ops@masala.example": "550 5.1.1 No such user"}
    sleep = RecordedSleep()

    with pytest.raises(DeliveryError) as failure:
        deliver(smtp_provider(monkeypatch, smtp), report_email(), attempts=3, sleep=sleep)

    assert failure.value.permanent and failure.value.attempts == 1 and sleep.waits == []
    assert "refused every recipient" in failure.value.message and "550" in failure.value.message
    assert smtp.handler.received == []


def test_smtp_one_refused_recipient_is_reported_and_the_rest_get_it(smtp: SmtpServer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    smtp.handler.refuse = {"ops@masala.example": "550 5.1.1 No such user"}

    delivery = deliver(smtp_provider(monkeypatch, smtp), report_email(), attempts=3)

    assert delivery.refused == ("ops@masala.example",)
    [received] = smtp.handler.received
    assert received.rcpt_tos == ["owner@masala.example"]


def test_smtp_server_down_is_retried_then_fails_after_every_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = free_port()
    provider = open_from_settings(monkeypatch, provider="smtp", smtp_host="127.0.0.1", smtp_port=closed,
                                  smtp_starttls=False, **{"from": "reports@spiceroute.example"})
    sleep = RecordedSleep()

    with pytest.raises(DeliveryError) as failure:
        deliver(provider, report_email(), attempts=4, sleep=sleep)

    assert not failure.value.permanent and not failure.value.maybe_sent
    assert failure.value.attempts == 4 and len(sleep.waits) == 3
    assert all(2 ** n <= wait <= 2 ** n + 1 for n, wait in enumerate(sleep.waits))  # 1, 2, 4 s + jitter
    assert f"cannot connect to the SMTP server 127.0.0.1:{closed}" in failure.value.message
    assert "gave up after 4 attempts" in failure.value.message


def test_smtp_server_silent_after_the_message_is_maybe_sent_and_never_retried(
        smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    smtp.handler.hang_after_data = 3.0
    provider = smtp_provider(monkeypatch, smtp, timeout_seconds=1)
    sleep = RecordedSleep()
    start = time.monotonic()

    with pytest.raises(DeliveryError) as failure:
        deliver(provider, report_email(), attempts=3, sleep=sleep)

    assert time.monotonic() - start < 2.5
    assert failure.value.maybe_sent and not failure.value.permanent
    assert failure.value.attempts == 1 and sleep.waits == []
    assert "may have been delivered" in failure.value.message
    assert len(smtp.handler.received) == 1  # it did arrive: a retry would have sent it twice


@pytest.mark.parametrize(("server", "told", "sent"), [
    ({}, [True], 1),
    ({"busy_mail": 1}, [True], 1),  # the first attempt stopped before DATA: nothing to take back
    ({"refuse_data": ["451 4.3.0 Try again later"]}, [True, False, True], 1),
    ({"refuse_data": ["554 5.6.0 Message refused"]}, [True, False], 0),
    ({"hang_after_data": 3.0}, [True], 1),  # no answer: it may be out, so never taken back
], ids=["accepted", "busy-before-data", "deferred-after-data", "refused-after-data", "silent"])
def test_smtp_hand_over_is_told_before_the_message_and_taken_back_only_when_nothing_was_taken(
        smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch, server: dict[str, Any], told: list[bool],
        sent: int) -> None:
    for key, value in server.items():
        setattr(smtp.handler, key, value)
    heard: list[bool] = []

    with contextlib.suppress(DeliveryError):
        deliver(smtp_provider(monkeypatch, smtp, timeout_seconds=1), report_email(), attempts=3,
                sleep=RecordedSleep(), on_handover=heard.append)

    assert heard == told
    assert len(smtp.handler.received) == sent


def test_open_provider_smtp_login_without_the_password_secret_is_a_config_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="secret email.smtp_password is not set") as failure:
        open_from_settings(monkeypatch, provider="smtp", smtp_username=SMTP_USER,
                           **{"from": "reports@spiceroute.example"})

    assert failure.value.exit_code == 2
    assert "datadrip secret set email.smtp_password" in (failure.value.hint or "")


def test_open_provider_smtp_refuses_a_password_in_clear_to_another_machine(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="unencrypted") as failure:
        open_from_settings(monkeypatch, provider="smtp", smtp_host="smtp.example.com", smtp_starttls=False,
                           smtp_username=SMTP_USER, smtp_password=SMTP_PASSWORD,
                           **{"from": "reports@spiceroute.example"})

    assert SMTP_PASSWORD not in failure.value.message


@pytest.mark.parametrize(("settings", "needle"), [
    ({}, "[email] from is empty: the smtp provider needs a sender address"),
    ({"from": "Spice <reports@spiceroute.example>"}, "[email] from 'Spice <reports@spiceroute.example>' "
                                                     "is not an e-mail address"),
    ({"from": "reports@spiceroute.example", "reply_to": "priya"}, "[email] reply_to 'priya' is not"),
    ({"from": "reports@spiceroute.example", "smtp_host": " "}, "[email] smtp_host is empty"),
])
def test_open_provider_smtp_settings_mistakes_are_config_errors(
        settings: dict[str, str], needle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as failure:
        open_from_settings(monkeypatch, provider="smtp", **settings)

    assert needle in failure.value.message
