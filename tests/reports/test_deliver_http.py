"""Delivery through Resend and SendGrid, against the sandbox's emulation of both over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from datadrip.core.errors import ConfigError
from datadrip.platforms.http import RetryPolicy
from datadrip.reports.delivery.base import DeliveryError, deliver
from datadrip.sandbox.faults import FaultRule
from datadrip.sandbox.server import SandboxServer
from reports.mail_support import RecordedSleep, open_from_settings, report_email

SENDER = "reports@spiceroute.example"


def provider(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, name: str, **settings: Any) -> Any:
    """The provider DataDrip opens when [email] points at the sandbox, as `sandbox serve` prints it."""
    described = sandbox.app.describe(sandbox.base_url)["email"]
    values = {"provider": name, "from": SENDER, f"{name}_url": described[f"{name}_url"],
              f"{name}_api_key": described[f"{name}_api_key"], **settings}
    return open_from_settings(monkeypatch, **values)


def stored(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return list(httpx.get(f"{sandbox.base_url}/_sandbox/emails", timeout=5).json())


def wait_for(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the sandbox never got there"
        time.sleep(0.05)


@pytest.mark.parametrize("name", ["resend", "sendgrid"])
def test_http_provider_delivers_text_html_and_inline_images(name: str, sandbox: SandboxServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    message = report_email(sender_name='Spice "Route" Média')

    delivery = deliver(provider(monkeypatch, sandbox, name), message, attempts=3, sleep=RecordedSleep())

    [email] = stored(sandbox)
    assert (delivery.provider, delivery.attempts, delivery.provider_id) == (name, 1, email["id"])
    assert email["from"] == ('"Spice \\"Route\\" Média" <reports@spiceroute.example>' if name == "resend"
                             else 'Spice "Route" Média <reports@spiceroute.example>')
    assert email["to"] == ["owner@masala.example", "ops@masala.example"]
    assert email["subject"] == message.subject and email["reply_to"] == "priya@spiceroute.example"
    assert email["has_html"] and email["has_text"]
    assert [(a["filename"], a["content_id"], a["content_type"]) for a in email["attachments"]] == [
        ("trend.png", "trend@datadrip", "image/png")]
    if name == "resend":
        assert email["idempotency_key"] == message.message_id
        assert email["headers"] == {"X-Entity-Ref-ID": message.message_id}
    else:
        assert email["headers"] == {"Message-ID": message.message_id}
        assert email["attachments"][0]["disposition"] == "inline"


@pytest.mark.parametrize(("name", "needle"), [
    ("resend", "API key is invalid (invalid_api_key, HTTP 403)"),
    ("sendgrid", "The provided authorization grant is invalid, expired, or revoked (HTTP 401)")])
def test_http_provider_wrong_key_is_permanent_and_never_shows_the_key(
        name: str, needle: str, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = f"{name}-wrong-key-0123456789"
    sleep = RecordedSleep()

    with pytest.raises(DeliveryError) as failure:
        deliver(provider(monkeypatch, sandbox, name, **{f"{name}_api_key": wrong}), report_email(),
                attempts=3, sleep=sleep)

    assert failure.value.permanent and failure.value.attempts == 1 and sleep.waits == []
    assert needle in failure.value.message
    assert f"email.{name}_api_key" in (failure.value.hint or "")
    assert wrong not in failure.value.message + (failure.value.hint or "") + repr(failure.value)
    assert stored(sandbox) == []


@pytest.mark.parametrize("name", ["resend", "sendgrid"])
def test_http_provider_rate_limited_once_waits_as_told_and_sends_once(
        name: str, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.app.faults.add(FaultRule("rate_limit", platform=name, nth=1))
    sleep = RecordedSleep()

    delivery = deliver(provider(monkeypatch, sandbox, name), report_email(), attempts=3, sleep=sleep)

    assert delivery.attempts == 2 and len(stored(sandbox)) == 1
    [wait] = sleep.waits
    assert wait == 1.0 if name == "resend" else 0.0 <= wait <= 2.0  # retry-after / X-RateLimit-Reset


@pytest.mark.parametrize("name", ["resend", "sendgrid"])
def test_http_provider_server_error_every_time_fails_after_all_attempts(
        name: str, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.app.faults.add(FaultRule("server_error", platform=name, nth=1, times=3))
    sleep = RecordedSleep()

    with pytest.raises(DeliveryError) as failure:
        deliver(provider(monkeypatch, sandbox, name), report_email(), attempts=3, sleep=sleep)

    assert failure.value.attempts == 3 and not failure.value.permanent and not failure.value.maybe_sent
    assert len(sleep.waits) == 2 and "HTTP 500" in failure.value.message
    assert stored(sandbox) == []


@pytest.mark.parametrize("name", ["resend", "sendgrid"])
def test_http_provider_backs_off_as_the_platforms_http_client_does(
        name: str, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """One backoff for every HTTP client: 1, 2, 4 … seconds (the platforms' RetryPolicy) plus
    up to a second of jitter, when the provider names no wait of its own."""
    sandbox.app.faults.add(FaultRule("server_error", platform=name, nth=1, times=3))
    sleep = RecordedSleep()
    policy = RetryPolicy()

    delivery = deliver(provider(monkeypatch, sandbox, name), report_email(), attempts=4, sleep=sleep)

    assert delivery.attempts == 4
    assert len(sleep.waits) == 3
    assert all(0 <= wait - policy.first_backoff * 2 ** n <= policy.first_backoff
               for n, wait in enumerate(sleep.waits))


def test_resend_read_timeout_is_retried_with_the_same_key_and_sent_once(
        sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.app.faults.add(FaultRule("slow", platform="resend", nth=1, delay=1.6))
    message = report_email()
    sleep = RecordedSleep()

    delivery = deliver(provider(monkeypatch, sandbox, "resend", timeout_seconds=1), message, attempts=3,
                       sleep=sleep)

    assert delivery.attempts == 2 and len(sleep.waits) == 1
    wait_for(lambda: stored(sandbox)[0]["replays"] == 1)  # the slow first request arrives last
    [email] = stored(sandbox)
    assert email["id"] == delivery.provider_id and email["idempotency_key"] == message.message_id


def test_resend_answer_cut_short_is_retried_and_the_key_keeps_it_to_one_message(
        sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.app.faults.add(FaultRule("truncated", platform="resend", nth=1))

    delivery = deliver(provider(monkeypatch, sandbox, "resend"), report_email(), attempts=3,
                       sleep=RecordedSleep())

    [email] = stored(sandbox)
    assert delivery.attempts == 2 and email["replays"] == 1 and delivery.provider_id == email["id"]


def test_sendgrid_read_timeout_is_maybe_sent_and_never_retried(sandbox: SandboxServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.app.faults.add(FaultRule("slow", platform="sendgrid", nth=1, delay=1.6))
    sleep = RecordedSleep()

    with pytest.raises(DeliveryError) as failure:
        deliver(provider(monkeypatch, sandbox, "sendgrid", timeout_seconds=1), report_email(), attempts=3,
                sleep=sleep)

    assert failure.value.maybe_sent and failure.value.attempts == 1 and sleep.waits == []
    assert "may have been sent" in failure.value.message
    wait_for(lambda: len(stored(sandbox)) == 1)  # it did go out: a retry would have sent it twice


@pytest.mark.parametrize("name", ["resend", "sendgrid"])
def test_http_provider_unreachable_is_retried_then_fails(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from reports.mail_support import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    sleep = RecordedSleep()
    opened = open_from_settings(monkeypatch, provider=name, **{"from": SENDER, f"{name}_url": closed,
                                                               f"{name}_api_key": "k-123"})

    with pytest.raises(DeliveryError) as failure:
        deliver(opened, report_email(), attempts=2, sleep=sleep)

    assert failure.value.attempts == 2 and not failure.value.maybe_sent and len(sleep.waits) == 1
    assert "ConnectError" in failure.value.message


def test_resend_unverified_domain_is_permanent_with_a_hint_about_from(
        sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.app.faults.add(FaultRule("permission", platform="resend", nth=1))

    with pytest.raises(DeliveryError) as failure:
        deliver(provider(monkeypatch, sandbox, "resend"), report_email(), attempts=3, sleep=RecordedSleep())

    assert failure.value.permanent
    assert "The spiceroute.example domain is not verified" in failure.value.message
    assert "[email] from" in (failure.value.hint or "")


def test_http_provider_asked_to_wait_too_long_fails_without_sleeping(
        sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.app.faults.add(FaultRule("rate_limit", platform="resend", nth=1))
    sleep = RecordedSleep()

    with pytest.raises(DeliveryError) as failure:
        deliver(provider(monkeypatch, sandbox, "resend"), report_email(), attempts=3, sleep=sleep,
                max_wait=0.5)

    assert sleep.waits == [] and failure.value.attempts == 1 and not failure.value.permanent
    assert "asks to wait 1 seconds" in failure.value.message and "after" in (failure.value.hint or "")


@pytest.mark.parametrize("name", ["resend", "sendgrid"])
def test_open_provider_without_the_api_key_secret_is_a_config_error(name: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=f"the secret email.{name}_api_key is not set") as failure:
        open_from_settings(monkeypatch, provider=name, **{"from": SENDER})

    assert f"datadrip secret set email.{name}_api_key" in (failure.value.hint or "")


def test_open_provider_refuses_to_send_a_key_over_plain_http_to_another_machine(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="unencrypted"):
        open_from_settings(monkeypatch, provider="resend", resend_url="http://api.resend.example",
                           resend_api_key="re_123", **{"from": SENDER})
    with pytest.raises(ConfigError, match="is not an http"):
        open_from_settings(monkeypatch, provider="sendgrid", sendgrid_url="ftp://x.example",
                           sendgrid_api_key="SG.123", **{"from": SENDER})


def test_providers_never_show_their_secrets_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = open_from_settings(monkeypatch, provider="resend", resend_api_key="re_top_secret",
                                **{"from": SENDER})

    assert "re_top_secret" not in repr(opened)
