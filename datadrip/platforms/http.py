"""The connectors' shared HTTP behaviour: timeouts, retries with jittered backoff, server-told waits,
and pacing by Meta's usage headers."""

from __future__ import annotations

import datetime as dt
import functools
import json
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

# Meta: dlt's retry list plus the business-use-case family (reference §5).
META_RETRY_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, *range(80000, 80015)})
META_THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
GOOGLE_RETRY_STATUSES = frozenset({500, 502, 503, 504})
GOOGLE_RETRY_CODES = frozenset({"RESOURCE_TEMPORARILY_EXHAUSTED", "TRANSIENT_ERROR", "INTERNAL_ERROR",
                                "DEADLINE_EXCEEDED"})
# Meta's "Please reduce the amount of data you're asking for" (code 1, HTTP 500): asking the same
# again gets the same answer, so it is not retried; callers ask for less (a smaller page, a report
# run) instead.
META_REDUCE_DATA = "reduce the amount of data"

# Pacing by Meta's usage headers: from USAGE_PACE_FROM percent on, a pause before the next call of
# USAGE_PACE_FIRST seconds that doubles every USAGE_PACE_DOUBLING points (10 s at 75 %, 80 s at
# 90 %, 320 s at 100 %), so a busy sync slows down before Meta stops it. Peers: Airbyte pauses 2
# minutes from 85 % and 10 minutes from 95 %.
USAGE_PACE_FROM = 75.0
USAGE_PACE_FIRST = 10.0
USAGE_PACE_DOUBLING = 5.0


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


def google_duration(value: Any) -> float | None:
    """A protobuf Duration in its JSON form ("30s", "1.5s") in seconds."""
    found = re.fullmatch(r"(\d+(?:\.\d+)?)s", value.strip()) if isinstance(value, str) else None
    return float(found.group(1)) if found else None


def meta_throttle_wait(headers: Mapping[str, str]) -> float | None:
    """How long Meta's usage headers say access is withheld: the largest
    `estimated_time_to_regain_access` (minutes) in X-Business-Use-Case-Usage, or
    `reset_time_duration` (seconds) in X-Ad-Account-Usage. None when they say nothing."""
    waits: list[float] = []
    business = _json_header(headers.get("x-business-use-case-usage"))
    if isinstance(business, dict):
        for entries in business.values():
            for entry in entries if isinstance(entries, list) else []:
                minutes = _number(entry.get("estimated_time_to_regain_access")) \
                    if isinstance(entry, dict) else None
                if minutes is not None:
                    waits.append(minutes * 60)
    account = _json_header(headers.get("x-ad-account-usage"))
    reset = _number(account.get("reset_time_duration")) if isinstance(account, dict) else None
    if reset is not None:
        waits.append(reset)
    longest = max(waits, default=0.0)
    return longest if longest > 0 else None


def _json_header(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # not JSON, or not UTF-8
        return None


def _longest(*waits: float | None) -> float | None:
    known = [w for w in waits if w is not None]
    return max(known) if known else None


# --- what is worth retrying, per platform --------------------------------------------------------

def meta_retryable(response: httpx.Response) -> Retryable | None:
    """Meta: HTTP 5xx, codes 1, 2, 4, 17, 32, 341, 613, 80000–80014, or `is_transient`; never
    code 1 about the client secret (a wrong secret stays wrong) nor "reduce the amount of data"
    (the same request gets the same answer: the caller asks for less)."""
    body = _json(response)
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    if code == 1 and is_meta_reduce_data(error):
        return None
    message = str(error.get("message", ""))
    if code == 1 and "client secret" in message.lower():
        return None
    wait = _longest(retry_after(response.headers), meta_throttle_wait(response.headers))
    known = isinstance(code, int) and not isinstance(code, bool)
    label = f"HTTP {response.status_code}" + (f", Meta error {code}" if known else "")
    if known and code in META_THROTTLE_CODES:
        usage = meta_usage(response.headers)
        return Retryable(f"{label}: rate limited" + (f", {usage.describe()}" if usage.percent else ""),
                         wait)
    if (known and code in META_RETRY_CODES) or error.get("is_transient") is True \
            or response.status_code >= 500:
        return Retryable(label, wait)
    return None


def is_meta_reduce_data(error: Mapping[str, Any]) -> bool:
    """Is this Graph error object Meta's "Please reduce the amount of data…" (code 1)?"""
    return error.get("code") == 1 and META_REDUCE_DATA in str(error.get("message", "")).lower()


@dataclass(frozen=True)
class MetaUsage:
    """What Meta's usage headers say: the highest utilisation in percent (0 when none is given),
    which usage that is ("ad account usage", "ads insights usage" …), and how many seconds until
    access is regained (0 when not limited)."""

    percent: float = 0.0
    regain_seconds: float = 0.0
    what: str = ""

    def describe(self) -> str:
        """"ad account usage 100%": the highest utilisation, in words."""
        return f"{self.what or 'usage'} {self.percent:g}%"


def meta_usage(headers: Mapping[str, str]) -> MetaUsage:
    """Read X-Business-Use-Case-Usage, X-Ad-Account-Usage, X-App-Usage and
    x-fb-ads-insights-throttle (JSON; every key optional; a header that is not JSON is ignored).
    Of equal percentages the ad account's names the usage, then the business use case's."""
    percents: list[tuple[float, str]] = []
    regain: list[float] = []
    account = _json_header(headers.get("x-ad-account-usage"))
    if isinstance(account, dict):
        account_pct = _numbers(account, "acc_id_util_pct")
        percents += [(pct, "ad account usage") for pct in account_pct]
        # reset_time_duration counts down even while usage is low: it is a wait only at the limit.
        if any(pct >= 100 for pct in account_pct):
            regain += _numbers(account, "reset_time_duration")
    business = _json_header(headers.get("x-business-use-case-usage"))
    for entries in business.values() if isinstance(business, dict) else []:
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            use = entry.get("type")
            what = f"{use.replace('_', ' ')} usage" if isinstance(use, str) and \
                re.fullmatch(r"[a-z_]{1,40}", use) else "business use case usage"
            percents += [(pct, what) for pct in _numbers(entry, "call_count", "total_cputime",
                                                          "total_time")]
            regain += [minutes * 60 for minutes in _numbers(entry, "estimated_time_to_regain_access")]
    app = _json_header(headers.get("x-app-usage"))
    if isinstance(app, dict):
        percents += [(pct, "app usage") for pct in _numbers(app, "call_count", "total_cputime",
                                                             "total_time")]
    throttle = _json_header(headers.get("x-fb-ads-insights-throttle"))
    if isinstance(throttle, dict):
        percents += [(pct, "insights usage") for pct in _numbers(throttle, "app_id_util_pct",
                                                                 "acc_id_util_pct")]
    top = max((pct for pct, _ in percents), default=0.0)
    what = next((name for pct, name in percents if pct == top), "")
    return MetaUsage(top, max(regain, default=0.0), what)


def usage_pace(percent: float) -> float:
    """Seconds to pause before the next call at this utilisation: 0 below USAGE_PACE_FROM, then
    USAGE_PACE_FIRST doubling every USAGE_PACE_DOUBLING points."""
    if percent < USAGE_PACE_FROM:
        return 0.0
    return float(USAGE_PACE_FIRST * 2.0 ** ((min(percent, 100.0) - USAGE_PACE_FROM) / USAGE_PACE_DOUBLING))


def meta_usage_pause(headers: Mapping[str, str]) -> float:
    """Seconds to pause before the next Meta call after an answer with these headers: the usage
    pace, or the time until access is regained when that is longer; 0 when all is well."""
    usage = meta_usage(headers)
    return max(usage_pace(usage.percent), usage.regain_seconds)


def _numbers(values: Mapping[str, Any], *keys: str) -> list[float]:
    return [number for key in keys if (number := _number(values.get(key))) is not None]


def google_errors(body: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The google.rpc.Status and its GoogleAdsFailure errors, from a unary body or searchStream's
    array-wrapped one; empty when the body is neither."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    status = body.get("error") if isinstance(body, dict) else None
    if not isinstance(status, dict):
        return {}, []
    errors: list[dict[str, Any]] = []
    for detail in status.get("details") or []:
        if isinstance(detail, dict) and isinstance(detail.get("errors"), list):
            errors.extend(e for e in detail["errors"] if isinstance(e, dict))
    return status, errors


def google_error_codes(errors: list[dict[str, Any]]) -> list[str]:
    """["quotaError.RESOURCE_EXHAUSTED", …] from GoogleAdsFailure errors."""
    codes: list[str] = []
    for error in errors:
        code = error.get("errorCode")
        if isinstance(code, dict):
            codes.extend(f"{category}.{value}" for category, value in code.items())
    return codes


def google_retryable(response: httpx.Response) -> Retryable | None:
    """Google Ads: 429 RESOURCE_TEMPORARILY_EXHAUSTED (or RESOURCE_EXHAUSTED with a retryDelay),
    HTTP 500/502/503/504, and internalError TRANSIENT_ERROR / INTERNAL_ERROR / DEADLINE_EXCEEDED."""
    status, errors = google_errors(_json(response))
    codes = google_error_codes(errors)
    names = {code.partition(".")[2] for code in codes}
    delays = [google_duration(((e.get("details") or {}).get("quotaErrorDetails") or {})
                              .get("retryDelay")) for e in errors if isinstance(e.get("details"), dict)]
    told = _longest(retry_after(response.headers), *delays)
    label = f"HTTP {response.status_code}" + (f" {codes[0]}" if codes else
                                              f" {status['status']}" if status.get("status") else "")
    if response.status_code == 429:
        # RESOURCE_EXHAUSTED without a delay is the daily quota: retrying soon won't help.
        if "quotaError.RESOURCE_EXHAUSTED" in codes and told is None:
            return None
        return Retryable(label, told)
    if response.status_code in GOOGLE_RETRY_STATUSES or names & GOOGLE_RETRY_CODES:
        return Retryable(label, told)
    return None


OAUTH_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def oauth_retryable(response: httpx.Response) -> Retryable | None:
    """An OAuth 2 token or revocation endpoint (RFC 6749 §5.2 errors): 429 and HTTP 500/502/503/504
    are worth another try, honouring Retry-After; a 400 (invalid_grant, invalid_client …) is an
    answer, never retried."""
    if response.status_code not in OAUTH_RETRY_STATUSES:
        return None
    body = _json(response)
    error = body.get("error") if isinstance(body, dict) else None
    # An RFC 6749 error code is a short ASCII word; anything else is not repeated in messages.
    known = isinstance(error, str) and re.fullmatch(r"[a-z_]{1,40}", error) is not None
    label = f"HTTP {response.status_code}" + (f" {error}" if known else "")
    return Retryable(label, retry_after(response.headers))
