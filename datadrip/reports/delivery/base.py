"""Sending a report e-mail through the configured provider, retrying only what is safe to retry.

Providers (outbox, smtp, resend, sendgrid) live in outbox.py, smtp.py and
http.py; each raises one of three errors, and `deliver` decides:

- TransientError: nothing was delivered (refused connection, 4xx before DATA, HTTP 429/5xx, or
  a timeout where the provider de-duplicates by idempotency key): tried again after a backoff
  with jitter, or after the provider's Retry-After, up to `attempts` in all. The backoff, the
  reading of Retry-After and the wording of a wait are the platforms' HTTP client's own
  (platforms.http: `backoff`, `retry_after`, `duration`), with its default RetryPolicy.
- PermanentError: the provider said no for good (bad recipient, wrong key, 5xx SMTP reply): no
  retry.
- UnknownOutcomeError: the request may have reached the provider (the SMTP connection dropped
  after the message body was sent; an HTTP read timeout at SendGrid, which has no idempotency
  key). Never retried: a client must never get the same report twice. DeliveryError says
  maybe_sent, and the caller records it so that nobody resends blindly.

Messages never hold API keys or passwords.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from datadrip.core.errors import DataDripError, ExitCode
from datadrip.platforms.http import RetryPolicy, backoff, duration
from datadrip.reports.delivery.mail import check_message

if TYPE_CHECKING:
    from datadrip.reports.delivery.mail import OutgoingEmail

log = logging.getLogger(__name__)

# What the outbox writes as From when [email] from is empty: ".invalid" is reserved (RFC 2606), so
# a file sent on by hand can never pass for someone's real address.
OUTBOX_SENDER = "reports@localhost.invalid"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


@dataclass(frozen=True)
class Delivery:
    """A report e-mail the provider accepted."""

    provider: str  # outbox | smtp | resend | sendgrid
    message_id: str
    provider_id: str | None  # Resend's id, SendGrid's X-Message-Id, the .eml path, None for SMTP
    attempts: int
    refused: tuple[str, ...] = ()  # recipients an SMTP server refused while accepting the others


class DeliveryError(DataDripError):
    """The report e-mail was not (or may not have been) delivered."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None, permanent: bool, attempts: int,
                 maybe_sent: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.permanent = permanent
        self.attempts = attempts
        self.maybe_sent = maybe_sent


class ProviderError(Exception):
    """What a provider's `send` raises. The message names the provider and the reason (never a
    secret); `hint` says what to do; `retry_after` is a wait the provider asked for, in seconds."""

    def __init__(self, message: str, *, hint: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.retry_after = retry_after


class TransientError(ProviderError):
    """Nothing was delivered and trying again may work."""


class PermanentError(ProviderError):
    """The provider refused the message; trying again will not help."""


class UnknownOutcomeError(ProviderError):
    """The provider may have accepted the message: it must not be sent again automatically."""


def _nothing() -> None:
    return None


class Provider(Protocol):
    name: str

    def send(self, message: OutgoingEmail,
             handover: Callable[[], None] = _nothing) -> tuple[str | None, tuple[str, ...]]:
        """Send once: (provider id, refused recipients). Calls `handover` just before the point
        after which the provider may have the message (the SMTP body, the HTTP request, the
        outbox file). Raises TransientError, PermanentError or UnknownOutcomeError."""
        ...


def deliver(provider: Provider, message: OutgoingEmail, *, attempts: int,
            sleep: Callable[[float], None] = time.sleep, max_wait: float = 60.0,
            on_handover: Callable[[bool], None] | None = None) -> Delivery:
    """Send `message` through `provider`, trying up to `attempts` times while failures are
    transient. Raises DeliveryError (permanent, maybe_sent, attempts) otherwise.

    `on_handover(True)` is called before each attempt's point of no return, and
    `on_handover(False)` when that attempt then failed in a way that delivered nothing (a
    transient or a permanent error), so that a process killed in between leaves a true record."""
    check_message(message)
    # 1, 2, 4 … seconds capped at 30 between attempts, plus up to a second of jitter so that
    # parallel sends don't retry in step: the platforms' defaults.
    policy = RetryPolicy(attempts=max(1, attempts), max_wait=max_wait)
    attempts = policy.attempts
    last: TransientError | None = None
    for attempt in range(1, attempts + 1):
        handover = _Handover(on_handover)
        try:
            provider_id, refused = provider.send(message, handover)
        except PermanentError as exc:
            handover.taken_back()
            raise DeliveryError(exc.message, hint=exc.hint, permanent=True, attempts=attempt) from None
        except UnknownOutcomeError as exc:
            raise DeliveryError(exc.message, hint=exc.hint or _unknown_hint(message), permanent=False,
                                attempts=attempt, maybe_sent=True) from None
        except TransientError as exc:
            handover.taken_back()
            last = exc
            if attempt == attempts:
                break
            wait = exc.retry_after if exc.retry_after is not None else backoff(policy, attempt)
            if wait > policy.max_wait:
                retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
                raise DeliveryError(
                    f"{exc.message}; the provider asks to wait {duration(wait)}, longer than "
                    f"{duration(policy.max_wait)}", hint=f"Send the report again after {retry_at:%H:%M} UTC.",
                    permanent=False, attempts=attempt) from None
            log.info("%s: attempt %d of %d failed (%s); trying again in %.1f s", provider.name,
                     attempt, attempts, exc.message, wait)
            sleep(wait)
        else:
            return Delivery(provider.name, message.message_id, provider_id, attempt, tuple(refused))
    assert last is not None  # the loop ran at least once and only breaks on a transient error
    raise DeliveryError(f"{last.message} (gave up after {_attempts(attempts)})",
                        hint=last.hint or "The provider is having trouble; try again in a few minutes.",
                        permanent=False, attempts=attempts)


class _Handover:
    """One attempt's hand-over, told to `deliver`'s caller once each way."""

    def __init__(self, tell: Callable[[bool], None] | None) -> None:
        self.tell = tell
        self.out = False

    def __call__(self) -> None:
        if self.tell is not None and not self.out:
            self.tell(True)
        self.out = True

    def taken_back(self) -> None:
        if self.tell is not None and self.out:
            self.tell(False)
        self.out = False


def _unknown_hint(message: OutgoingEmail) -> str:
    return (f"Ask a recipient whether it arrived (Message-ID {message.message_id}) before sending "
            "the report again.")


def _attempts(count: int) -> str:
    return f"{count} attempt" + ("s" if count != 1 else "")


def is_loopback(host: str) -> bool:
    """Is `host` this machine (where a password in clear never crosses a network)?"""
    import ipaddress

    name = host.strip().lower()
    if name in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False
