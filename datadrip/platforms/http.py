"""The connectors' shared HTTP behaviour: timeouts, retries with jittered backoff, server-told waits.
Each platform's own rules (what is worth retrying, usage pacing) live in platforms/<name>/retry.py."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol

from datadrip.core.errors import DataDripError

if TYPE_CHECKING:
    import ssl

    import httpx
    from tenacity import RetryCallState

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]

# A wait longer than this is told to the caller's `on_wait` (shown, logged, recorded): shorter ones
# are the ordinary rhythm of retries and polls, not a stall anyone needs to hear about.
NOTICEABLE_WAIT = 2.0


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. `max_wait` caps any single wait, a server-told one included: a server that
    asks for longer gets a RetryLaterError instead of a sleeping process."""

    attempts: int = 5
    timeout: float = 60.0  # seconds, per attempt (connect, read, write, pool)
    first_backoff: float = 1.0
    max_backoff: float = 30.0
    max_wait: float = 120.0
    # seconds one request may spend waiting between its attempts, all waits together (counted as
    # asked of `sleep`, not by the wall clock)
    max_total: float = 900.0


@dataclass(frozen=True)
class Wait:
    """A pause before the next call to a service, as told to `on_wait` before it starts.

    `kind`: "rate_limit" (the service asked for it), "retry" (backoff after a failure), "pace"
    (slowing down as Meta's usage rises) or "poll" (a report run still being prepared). `reason`
    says why in a few words ("ad account usage 100%", "HTTP 503"): never a token or a URL."""

    service: str
    seconds: float
    reason: str
    kind: str


WaitFn = Callable[[Wait], None]


def http_client(timeout: float, **options: Any) -> httpx.Client:
    """An HTTP client as every part of DataDrip opens one: with the process's one TLS context."""
    import httpx

    return httpx.Client(timeout=timeout, verify=tls_context(), **options)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The certificate store, loaded once per process (it takes ~15 ms, and a sync opens a client
    per account, a report run one per message): httpx's default context (certifi, or
    SSL_CERT_FILE / SSL_CERT_DIR), shared by every client, which TLS contexts allow."""
    import httpx

    return httpx.create_ssl_context()


def tell_wait(on_wait: WaitFn | None, wait: Wait) -> None:
    """Tell `on_wait` about a wait, if there is one to tell and the wait is long enough to matter."""
    if on_wait is not None and wait.seconds > NOTICEABLE_WAIT:
        on_wait(wait)


class TrafficLog(Protocol):
    """Where `send` counts what it did (FetchNotes is one): HTTP requests made, and seconds waited
    because the server said so (rate limits), as opposed to backoff after failures."""

    requests: int
    throttled_seconds: float


@dataclass(frozen=True)
class Retryable:
    """Why a response is worth another try, and how long the server asked us to wait (if it did).

    `reason` ends up in an error message: it must never hold a token or a URL."""

    reason: str
    after: float | None = None


Classifier = Callable[["httpx.Response"], "Retryable | None"]


class RetriesExhaustedError(DataDripError):
    """A remote service kept failing in a retryable way until the attempts ran out."""


class RetryLaterError(DataDripError):
    """The remote service asked for a longer pause than we are willing to sleep: `retry_after`
    seconds, so until `retry_at` (UTC). `service` and `reason` as in a Wait."""

    def __init__(self, message: str, *, retry_after: float, hint: str | None = None,
                 retry_at: dt.datetime | None = None, service: str = "", reason: str = "") -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after
        self.retry_at = retry_at or dt.datetime.now(dt.UTC) + dt.timedelta(seconds=retry_after)
        self.service = service
        self.reason = reason


def send(http: httpx.Client, method: str, url: str, *, service: str, classify: Classifier,
         params: Mapping[str, str] | None = None, json_body: Any = None,
         data: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
         policy: RetryPolicy | None = None, sleep: Sleep = time.sleep,
         traffic: TrafficLog | None = None, on_wait: WaitFn | None = None) -> httpx.Response:
    """Send one request, retrying network failures and what `classify` calls retryable.

    Returns the last response, successful or not (the caller reads platform errors); raises
    RetriesExhaustedError, RetryLaterError, or a DataDripError when the service cannot be reached.
    `service` names it in messages ("Meta", "Google Ads"); URLs never appear in them, since a
    URL can carry a token. `data` is a form body. The waits between attempts stop at
    `policy.max_total` seconds in all; `traffic` counts requests and server-told waits; `on_wait`
    hears of every wait longer than NOTICEABLE_WAIT before it starts.
    """
    import httpx
    from tenacity import Retrying, stop_after_attempt

    policy = policy or RetryPolicy()
    # Configuration mistakes (a bad scheme) would fail the same way every time.
    transient = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError,
                 httpx.ProxyError)

    tries: list[int] = []
    waited: list[float] = []
    # The wait before the next attempt is decided with the verdict (in `retry`, which tenacity
    # asks first in every version), so the budget check sees it before anything sleeps.
    planned: list[tuple[float, bool, str]] = []  # (seconds, told by the server, why)
    over_budget: list[bool] = []

    def attempt() -> tuple[httpx.Response, Retryable | None]:
        tries.append(1)
        if traffic is not None:
            traffic.requests += 1
        request = http.build_request(method, url, params=params, json=json_body, data=data,
                                     headers=headers, timeout=policy.timeout)
        response = http.send(request)
        return response, (classify(response) if response.status_code >= 400 else None)

    def plan(state: RetryCallState) -> bool:
        planned.clear()
        outcome = state.outcome
        if outcome is None:
            return False
        if outcome.failed:
            if not isinstance(outcome.exception(), transient):
                return False
            told = None
        else:
            verdict = outcome.result()[1]
            if verdict is None or (verdict.after is not None and verdict.after > policy.max_wait):
                return False
            told = verdict.after
        seconds = backoff(policy, state.attempt_number) if told is None else told
        if sum(waited) + seconds > policy.max_total:
            over_budget.append(True)
            return False
        planned.append((seconds, told is not None, _what_failed(state)))
        return True

    def wait(state: RetryCallState) -> float:
        seconds = planned[0][0] if planned else 0.0
        log.info("%s: attempt %d failed (%s); waiting %.1f s", service, state.attempt_number,
                 _what_failed(state), seconds)
        return seconds

    def pause(seconds: float) -> None:
        waited.append(seconds)
        told = bool(planned and planned[0][1])
        if traffic is not None and told:
            traffic.throttled_seconds += seconds
        tell_wait(on_wait, Wait(service, seconds, planned[0][2] if planned else "unknown",
                                "rate_limit" if told else "retry"))
        sleep(seconds)

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts), wait=wait, sleep=pause, retry=plan,
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None)
    try:
        response, verdict = retrying(attempt)
    except httpx.HTTPError as exc:
        # The exception's text is not used: it may hold the URL, and the URL a token.
        spent = f" and {duration(sum(waited))} of waiting" if over_budget else ""
        raise DataDripError(f"the connection to {service} failed ({type(exc).__name__}) after "
                            f"{_attempts(len(tries))}{spent}",
                            hint="Check the network connection (or the proxy) and the configured "
                                 "URL, then try again.") from None
    if verdict is None:
        return response
    spent = f" and {duration(sum(waited))} of waiting" if over_budget else ""
    if verdict.after is not None and (verdict.after > policy.max_wait or over_budget):
        after = f" after {_attempts(len(tries))}{spent}" if spent else ""
        raise retry_later(service, verdict.after, verdict.reason, after)
    raise RetriesExhaustedError(f"{service} kept failing ({verdict.reason}) after "
                                f"{_attempts(len(tries))}{spent}",
                                hint="The service is having trouble; try again in a few minutes.")


def retry_later(service: str, seconds: float, reason: str, after: str = "") -> RetryLaterError:
    """The error for a wait longer than we are willing to sleep; `reason` goes in brackets after
    "before the next call", then `after` (no URL, no token)."""
    retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return RetryLaterError(f"{service} asks to wait {duration(seconds)} before the next call "
                           f"({reason}){after}",
                           retry_after=seconds, retry_at=retry_at, service=service,
                           reason=reason,
                           hint=f"Try again after {retry_at:%H:%M} UTC.")


def _attempts(count: int) -> str:
    return f"{count} attempt" + ("s" if count != 1 else "")


def backoff(policy: RetryPolicy, attempt: int) -> float:
    """first·2ⁿ⁻¹ capped at max_backoff, plus up to `first_backoff` of jitter (added after the cap,
    so that parallel syncs stuck at the cap still don't retry in step)."""
    exponential = policy.first_backoff * 2.0 ** (attempt - 1)
    return min(policy.max_backoff, exponential) + random.uniform(0, policy.first_backoff)


def _what_failed(state: RetryCallState) -> str:
    outcome = state.outcome
    if outcome is None:
        return "unknown"
    if outcome.failed:
        return type(outcome.exception()).__name__
    verdict = outcome.result()[1]
    return verdict.reason if verdict is not None else "unknown"


def duration(seconds: float) -> str:
    """A wait as people say it: "40 seconds", "about 5 minutes", "about 1.5 hours"."""
    if seconds < 90:
        return f"{math.ceil(seconds)} seconds"
    if seconds < 5400:
        return f"about {math.ceil(seconds / 60)} minutes"
    return f"about {round(seconds / 3600, 1):g} hours"


# --- reading what servers say about waiting ------------------------------------------------------

def retry_after(headers: Mapping[str, str], now: dt.datetime | None = None) -> float | None:
    """The `Retry-After` header in seconds (delta-seconds or an HTTP date), if there is one."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def response_json(response: httpx.Response) -> Any:
    """The response's JSON body; None when it is not JSON."""
    try:
        return response.json()
    except ValueError:  # not JSON, or not UTF-8
        return None


def longest_wait(*waits: float | None) -> float | None:
    """The longest of the waits a server told (None: it told none)."""
    known = [w for w in waits if w is not None]
    return max(known) if known else None


OAUTH_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def oauth_retryable(response: httpx.Response) -> Retryable | None:
    """An OAuth 2 token or revocation endpoint (RFC 6749 §5.2 errors): 429 and HTTP 500/502/503/504
    are worth another try, honouring Retry-After; a 400 (invalid_grant, invalid_client …) is an
    answer, never retried."""
    if response.status_code not in OAUTH_RETRY_STATUSES:
        return None
    body = response_json(response)
    error = body.get("error") if isinstance(body, dict) else None
    # An RFC 6749 error code is a short ASCII word; anything else is not repeated in messages.
    known = isinstance(error, str) and re.fullmatch(r"[a-z_]{1,40}", error) is not None
    label = f"HTTP {response.status_code}" + (f" {error}" if known else "")
    return Retryable(label, retry_after(response.headers))
