"""The shared HTTP layer: what each platform's answers mean for retrying, and how `send` waits."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from connector_support import RecordedSleep

from datadrip.core.errors import DataDripError
from datadrip.platforms.base import FetchNotes
from datadrip.platforms.google.retry import google_duration, google_retryable
from datadrip.platforms.http import (
    RetriesExhaustedError,
    Retryable,
    RetryLaterError,
    RetryPolicy,
    retry_after,
    send,
)
from datadrip.platforms.meta.retry import (
    MetaUsage,
    meta_retryable,
    meta_throttle_wait,
    meta_usage,
    meta_usage_pause,
    usage_pace,
)
from datadrip.sandbox.faults import FaultRule


def meta_answer(status: int, code: int | None = None, message: str = "boom",
                headers: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
    error: dict[str, Any] = {"message": message, **extra}
    if code is not None:
        error["code"] = code
    return httpx.Response(status, json={"error": error}, headers=headers)


def google_answer(status: int, code: dict[str, str] | None = None, retry_delay: str | None = None,
                  *, stream: bool = False, headers: dict[str, str] | None = None) -> httpx.Response:
    error: dict[str, Any] = {"errorCode": code or {}, "message": "m"}
    if retry_delay is not None:
        error["details"] = {"quotaErrorDetails": {"rateScope": "ACCOUNT", "retryDelay": retry_delay}}
    body: Any = {"error": {"code": status, "message": "x", "status": "S", "details": [
        {"@type": "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
         "errors": [error] if code else []}]}}
    return httpx.Response(status, json=[body] if stream else body, headers=headers)


# --- Meta: what is retryable ---------------------------------------------------------------------

@pytest.mark.parametrize("code", [1, 2, 4, 17, 32, 341, 613, 80000, 80004, 80014])
def test_meta_retryable_codes(code: int) -> None:
    assert meta_retryable(meta_answer(400, code)) is not None


@pytest.mark.parametrize("code", [100, 190, 200, 10, 3018, 2635, 80015])
def test_meta_codes_that_are_not_worth_retrying(code: int) -> None:
    assert meta_retryable(meta_answer(400, code)) is None


def test_meta_transient_flag_and_5xx_are_retryable_whatever_the_code() -> None:
    assert meta_retryable(meta_answer(400, 2601, is_transient=True)) is not None
    assert meta_retryable(meta_answer(502, 12345)) is not None
    assert meta_retryable(httpx.Response(502, text="<html>Bad Gateway</html>")) == Retryable("HTTP 502")


def test_meta_code_1_about_the_client_secret_is_not_retried() -> None:
    assert meta_retryable(meta_answer(400, 1, "Error validating client secret.")) is None
    assert meta_retryable(meta_answer(500, 1, "Error validating client secret.")) is None
    assert meta_retryable(meta_answer(500, 1, "An unknown error occurred")) is not None


def test_meta_reduce_the_amount_of_data_is_not_retried() -> None:
    message = "Please reduce the amount of data you're asking for, then retry your request"
    assert meta_retryable(meta_answer(500, 1, message)) is None


def test_meta_usage_reads_every_header_and_key_it_finds() -> None:
    headers = {
        "x-business-use-case-usage": json.dumps({"1": [{"type": "ads_insights", "call_count": 28,
                                                        "total_cputime": 81, "total_time": 20,
                                                        "estimated_time_to_regain_access": 0}]}),
        "x-ad-account-usage": '{"acc_id_util_pct":9.67,"reset_time_duration":120}',
        "x-app-usage": '{"call_count":12,"total_cputime":3,"total_time":5}',
        "x-fb-ads-insights-throttle": '{"app_id_util_pct":0.01,"acc_id_util_pct":10}'}
    # reset_time_duration is a wait only at 100 %
    assert meta_usage(headers) == MetaUsage(81.0, 0.0, "ads insights usage")
    assert meta_usage(headers).describe() == "ads insights usage 81%"
    assert meta_usage({**headers, "x-ad-account-usage": '{"acc_id_util_pct":100,"reset_time_duration":120}'}
                      ) == MetaUsage(100.0, 120.0, "ad account usage")
    assert meta_usage({"x-app-usage": '{"call_count":96}'}).describe() == "app usage 96%"
    assert meta_usage({"x-fb-ads-insights-throttle": '{"acc_id_util_pct":96.5}'}).percent == 96.5
    assert meta_usage({"x-business-use-case-usage": '{"1":[{"estimated_time_to_regain_access":3}]}'}
                      ) == MetaUsage(0.0, 180.0)
    for broken in ("not json", "[1, 2]", '{"1": "x"}', '{"1": [null, {"call_count": "90"}]}'):
        assert meta_usage({"x-business-use-case-usage": broken, "x-app-usage": broken}) == MetaUsage()
    assert meta_usage({}) == MetaUsage()


def test_usage_pace_grows_from_the_threshold() -> None:
    assert [usage_pace(p) for p in (0, 74.9, 75, 80, 85, 90, 95, 100, 140)] == [
        0, 0, 10, 20, 40, 80, 160, 320, 320]
    assert meta_usage_pause({"x-app-usage": '{"call_count":90}'}) == 80.0
    assert meta_usage_pause({"x-app-usage": '{"call_count":80}', "x-business-use-case-usage":
                             '{"1":[{"estimated_time_to_regain_access":2}]}'}) == 120.0
    assert meta_usage_pause({"x-app-usage": '{"call_count":50}'}) == 0.0


def test_meta_throttle_wait_reads_the_usage_headers() -> None:
    business = {"1": [{"type": "ads_insights", "estimated_time_to_regain_access": 3}],
                "2": [{"type": "ads_management", "estimated_time_to_regain_access": 0}]}
    assert meta_throttle_wait({"x-business-use-case-usage": json.dumps(business)}) == 180.0
    assert meta_throttle_wait({"x-ad-account-usage": '{"acc_id_util_pct":100,"reset_time_duration":42}'}
                              ) == 42.0
    assert meta_throttle_wait({"x-business-use-case-usage": "not json"}) is None
    assert meta_throttle_wait({"x-ad-account-usage": '{"reset_time_duration":0}'}) is None
    verdict = meta_retryable(meta_answer(400, 80000, headers={
        "X-Business-Use-Case-Usage": json.dumps(business)}))
    assert verdict == Retryable("HTTP 400, Meta error 80000: rate limited", 180.0)
    verdict = meta_retryable(meta_answer(400, 80000, headers={
        "X-Ad-Account-Usage": '{"acc_id_util_pct":102,"reset_time_duration":300}'}))
    assert verdict == Retryable("HTTP 400, Meta error 80000: rate limited, ad account usage 102%", 300.0)


# --- Google: what is retryable -------------------------------------------------------------------

def test_google_rate_limit_waits_its_retry_delay_even_array_wrapped() -> None:
    temporarily = {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}
    assert google_retryable(google_answer(429, temporarily, "30s")) == Retryable(
        "HTTP 429 quotaError.RESOURCE_TEMPORARILY_EXHAUSTED", 30.0)
    assert google_retryable(google_answer(429, temporarily, "2.5s", stream=True)) == Retryable(
        "HTTP 429 quotaError.RESOURCE_TEMPORARILY_EXHAUSTED", 2.5)
    assert google_retryable(google_answer(429, temporarily)) == Retryable(
        "HTTP 429 quotaError.RESOURCE_TEMPORARILY_EXHAUSTED")


def test_google_daily_quota_is_retried_only_with_a_retry_delay() -> None:
    exhausted = {"quotaError": "RESOURCE_EXHAUSTED"}
    assert google_retryable(google_answer(429, exhausted)) is None
    assert google_retryable(google_answer(429, exhausted, "60s")) == Retryable(
        "HTTP 429 quotaError.RESOURCE_EXHAUSTED", 60.0)


@pytest.mark.parametrize(("status", "code"), [
    (500, {"internalError": "INTERNAL_ERROR"}), (503, {"internalError": "TRANSIENT_ERROR"}),
    (504, {"internalError": "DEADLINE_EXCEEDED"}), (500, None), (503, None), (504, None),
    (400, {"internalError": "TRANSIENT_ERROR"})])
def test_google_server_errors_are_retryable(status: int, code: dict[str, str] | None) -> None:
    assert google_retryable(google_answer(status, code)) is not None


@pytest.mark.parametrize(("status", "code"), [
    (400, {"queryError": "BAD_VALUE"}), (401, None), (403, {"authorizationError": "CUSTOMER_NOT_ENABLED"}),
    (403, {"authorizationError": "USER_PERMISSION_DENIED"}), (404, None)])
def test_google_client_errors_are_not_retried(status: int, code: dict[str, str] | None) -> None:
    assert google_retryable(google_answer(status, code)) is None


def test_google_duration_and_retry_after_forms() -> None:
    assert google_duration("30s") == 30.0 and google_duration("0.5s") == 0.5
    assert google_duration("30") is None and google_duration(30) is None
    now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    assert retry_after({"retry-after": "120"}) == 120.0
    assert retry_after({"retry-after": "Thu, 26 Nov 2026 12:01:30 GMT"}, now) == 90.0
    assert retry_after({"retry-after": "Thu, 26 Nov 2026 11:00:00 GMT"}, now) == 0.0
    assert retry_after({"retry-after": "soon"}) is None and retry_after({}) is None


# --- send: waiting, capping, giving up -----------------------------------------------------------

def scripted(*answers: httpx.Response | type[Exception]) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose transport plays `answers` in order (a stand-in for servers that send
    Retry-After, which the sandbox does not)."""
    script, sent = list(answers), []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        step = script.pop(0)
        if isinstance(step, type):
            raise step("scripted failure for https://x.example/?access_token=SECRET", request=request)
        return step

    return httpx.Client(transport=httpx.MockTransport(answer)), sent


def call(http: httpx.Client, sleeps: RecordedSleep, classify: Callable[[httpx.Response], Any]
         = google_retryable, **policy: Any) -> httpx.Response:
    return send(http, "GET", "https://x.example/v1/thing", service="Example", classify=classify,
                params={"access_token": "SECRET"}, policy=RetryPolicy(**policy), sleep=sleeps)


def test_send_honours_retry_after_then_returns_the_success(sleeps: RecordedSleep) -> None:
    http, sent = scripted(httpx.Response(503, headers={"Retry-After": "7"}), httpx.Response(200, json={}))

    assert call(http, sleeps).status_code == 200
    assert sleeps.waits == [7.0] and len(sent) == 2


def test_send_gives_up_when_asked_to_wait_longer_than_the_cap(sleeps: RecordedSleep) -> None:
    http, sent = scripted(httpx.Response(429, headers={"Retry-After": "3600"}))

    with pytest.raises(RetryLaterError, match=r"Example asks to wait about 60 minutes before the "
                                              r"next call \(HTTP 429\)") as caught:
        call(http, sleeps, max_wait=120)

    assert caught.value.retry_after == 3600.0 and len(sent) == 1 and sleeps.waits == []
    assert caught.value.hint is not None and caught.value.hint.endswith(" UTC.")


def test_send_backoff_grows_with_jitter_and_is_capped(sleeps: RecordedSleep) -> None:
    http, sent = scripted(*[httpx.Response(500) for _ in range(6)])

    with pytest.raises(RetriesExhaustedError, match=r"Example kept failing \(HTTP 500\) after 6 attempts"):
        call(http, sleeps, attempts=6, first_backoff=1.0, max_backoff=4.0)

    assert len(sent) == 6 and len(sleeps.waits) == 5
    for wait, floor in zip(sleeps.waits, [1, 2, 4, 4, 4], strict=True):
        assert floor <= wait <= floor + 1.0  # plus at most one first_backoff of jitter


def test_send_returns_errors_that_are_not_retryable_at_once(sleeps: RecordedSleep) -> None:
    http, sent = scripted(httpx.Response(400, json={"error": {"code": 100, "message": "bad"}}))

    assert call(http, sleeps, classify=meta_retryable).status_code == 400
    assert len(sent) == 1 and sleeps.waits == []


@pytest.mark.parametrize("failure", [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError])
def test_send_retries_network_failures_and_names_them_without_the_url(
        failure: type[Exception], sleeps: RecordedSleep) -> None:
    http, sent = scripted(failure, failure, failure)

    with pytest.raises(DataDripError) as caught:
        call(http, sleeps, attempts=3)

    assert caught.value.message == (f"the connection to Example failed ({failure.__name__}) after "
                                    "3 attempts")
    assert len(sent) == 3 and len(sleeps.waits) == 2
    assert "SECRET" not in str(caught.value) and "x.example" not in str(caught.value)
    assert caught.value.__suppress_context__


def test_send_does_not_retry_a_url_it_can_never_reach(sleeps: RecordedSleep) -> None:
    with httpx.Client() as http, pytest.raises(DataDripError, match=r"UnsupportedProtocol\) after "
                                                                    r"1 attempt$"):
        send(http, "GET", "ftp://x.example/", service="Example", classify=google_retryable,
             sleep=sleeps)
    assert sleeps.waits == []


def test_send_times_out_a_slow_answer_and_tries_again(sandbox: Any, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("slow", platform="google", nth=1, delay=1.0))
    token = sandbox.app.describe(sandbox.base_url)["google"]["access_token"]

    with httpx.Client() as http:
        response = send(http, "GET", f"{sandbox.base_url}/google/ads/v26/customers:listAccessibleCustomers",
                        service="Google Ads", classify=google_retryable,
                        headers={"Authorization": f"Bearer {token}"},
                        policy=RetryPolicy(timeout=0.2), sleep=sleeps)

    assert response.status_code == 200 and len(sleeps.waits) == 1


def test_send_to_a_closed_port_is_a_clear_error(sleeps: RecordedSleep) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there

    with httpx.Client() as http, pytest.raises(DataDripError, match=r"the connection to Meta failed "
                                                                    r"\(ConnectError\) after 2 attempts"):
        send(http, "GET", f"http://127.0.0.1:{port}/meta/graph/v26.0/me", service="Meta",
             classify=meta_retryable, policy=RetryPolicy(attempts=2), sleep=sleeps)
    assert len(sleeps.waits) == 1


def test_send_stops_when_the_waits_would_pass_the_total_budget(sleeps: RecordedSleep) -> None:
    http, sent = scripted(*[httpx.Response(500) for _ in range(10)])

    with pytest.raises(RetriesExhaustedError, match=r"Example kept failing \(HTTP 500\) after [23] attempts "
                                                    r"and \d\d seconds of waiting$") as caught:
        call(http, sleeps, attempts=10, first_backoff=10.0, max_backoff=10.0, max_total=25)

    # Each wait is 10 s plus up to 10 s of jitter: two fit in 25 s only when both are short.
    assert len(sent) == len(sleeps.waits) + 1 and sum(sleeps.waits) <= 25
    assert f"after {len(sent)} attempts" in caught.value.message


def test_send_budget_counts_server_told_waits_and_ends_with_retry_later(sleeps: RecordedSleep) -> None:
    http, sent = scripted(*[httpx.Response(429, headers={"Retry-After": "60"}) for _ in range(5)])
    traffic = FetchNotes()

    with pytest.raises(RetryLaterError, match=r"Example asks to wait 60 seconds before the next call "
                                              r"\(HTTP 429\) after 3 attempts and about 2 minutes of "
                                              r"waiting$"):
        send(http, "GET", "https://x.example/v1/thing", service="Example", classify=google_retryable,
             policy=RetryPolicy(max_total=150), sleep=sleeps, traffic=traffic)

    assert sleeps.waits == [60.0, 60.0] and len(sent) == 3
    assert (traffic.requests, traffic.throttled_seconds) == (3, 120.0)


def test_send_budget_also_ends_network_retries(sleeps: RecordedSleep) -> None:
    http, sent = scripted(*[httpx.ConnectError] * 5)

    with pytest.raises(DataDripError, match=r"\(ConnectError\) after 2 attempts and \d seconds of waiting$"):
        call(http, sleeps, first_backoff=1.0, max_total=3)

    assert len(sent) == 2


def test_send_counts_requests_but_not_backoff_as_throttling(sleeps: RecordedSleep) -> None:
    http, _ = scripted(httpx.Response(500), httpx.Response(200, json={}))
    traffic = FetchNotes()

    send(http, "GET", "https://x.example/", service="Example", classify=google_retryable, sleep=sleeps,
         traffic=traffic)

    assert (traffic.requests, traffic.throttled_seconds, len(sleeps.waits)) == (2, 0.0, 1)


def test_send_posts_a_form_body(sleeps: RecordedSleep) -> None:
    http, sent = scripted(httpx.Response(200, json={}))

    send(http, "POST", "https://x.example/v1/thing", service="Example", classify=meta_retryable,
         data={"level": "ad", "access_token": "SECRET"}, sleep=sleeps)

    assert sent[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent[0].content == b"level=ad&access_token=SECRET" and not sent[0].url.query
