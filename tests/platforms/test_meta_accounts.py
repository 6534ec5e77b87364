"""Meta account discovery against the sandbox's Graph API over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from connector_support import RecordedSleep

from datadrip.core.errors import DataDripError, ExitCode, ReauthRequiredError
from datadrip.platforms.base import AccountRef
from datadrip.platforms.http import RetriesExhaustedError, RetryLaterError, RetryPolicy
from datadrip.platforms.meta.connector import MetaAds, MetaApiError
from datadrip.platforms.meta.login import REAUTH_HINT
from datadrip.sandbox.faults import FaultRule

ACCOUNTS = [
    AccountRef("meta", "act_1010000001", "Masala Mornings", "INR", "Asia/Kolkata", "active"),
    AccountRef("meta", "act_1010000002", "Peak Trail Outfitters", "USD", "America/New_York", "active"),
    AccountRef("meta", "act_1010000003", "Bloom Botanics EU", "EUR", "Europe/Berlin", "active"),
]


def meta(http: httpx.Client, settings: dict[str, Any], sleeps: RecordedSleep, **overrides: Any) -> MetaAds:
    options: dict[str, Any] = {"http": http, "graph_url": settings["graph_url"],
                               "api_version": settings["api_version"],
                               "access_token": settings["access_token"], "sleep": sleeps}
    return MetaAds(**{**options, **overrides})


def watch(http: httpx.Client) -> list[httpx.Request]:
    sent: list[httpx.Request] = []
    http.event_hooks["request"].append(sent.append)
    return sent


def test_given_a_system_user_token_when_listing_accounts_then_all_three_come_back_exactly(
        http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sent = watch(http)

    accounts = meta(http, meta_settings, sleeps).list_accounts()

    assert accounts == ACCOUNTS
    assert len(sent) == 1 and sleeps.waits == []
    assert sent[0].url.path == "/meta/graph/v26.0/me/adaccounts"
    assert dict(sent[0].url.params) == {
        "fields": "id,account_id,name,currency,timezone_name,account_status", "limit": "100",
        "access_token": meta_settings["access_token"]}


def test_given_a_page_limit_of_one_when_listing_accounts_then_every_page_is_followed(
        http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sent = watch(http)

    accounts = meta(http, meta_settings, sleeps, page_limit=1).list_accounts()

    assert accounts == ACCOUNTS
    assert len(sent) == 3
    assert [r.url.params.get("after") for r in sent] == [None, "MAZDZD", "MQZDZD"]
    assert all(r.url.params["limit"] == "1" for r in sent)


def test_given_a_disabled_account_when_listing_then_it_is_marked_disabled(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    from dataclasses import replace

    from datadrip.sandbox.data import World

    world = sandbox.app.world
    accounts = tuple(replace(a, status="disabled") if a.id == "1010000002" else a
                     for a in world.accounts)
    sandbox.app.world = World(world.seed, accounts, epoch=world.epoch)

    found = meta(http, meta_settings, sleeps).list_accounts()

    assert [(a.external_id, a.status) for a in found] == [
        ("act_1010000001", "active"), ("act_1010000002", "disabled"), ("act_1010000003", "active")]


def test_given_a_rate_limit_within_the_cap_when_listing_then_waits_what_meta_says_and_succeeds(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("rate_limit", platform="meta", path="adaccounts", nth=1))

    accounts = meta(http, meta_settings, sleeps, retry=RetryPolicy(max_wait=600)).list_accounts()

    assert accounts == ACCOUNTS
    # The throttled answer says 5 minutes (estimated_time_to_regain_access) and 300 s to reset.
    assert sleeps.waits == [300.0]


def test_given_a_rate_limit_longer_than_the_cap_when_listing_then_gives_up_saying_when_to_retry(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("rate_limit", platform="meta", nth=1))

    with pytest.raises(RetryLaterError, match=r"Meta asks to wait about 5 minutes") as caught:
        meta(http, meta_settings, sleeps).list_accounts()

    assert caught.value.retry_after == 300.0
    assert caught.value.hint is not None and caught.value.hint.startswith("Try again after ")
    assert "Meta error 80000" in caught.value.message
    assert sleeps.waits == []


def test_given_a_transient_503_when_listing_then_backs_off_and_succeeds(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("unavailable", platform="meta", nth=1, times=2))

    assert meta(http, meta_settings, sleeps).list_accounts() == ACCOUNTS
    assert len(sleeps.waits) == 2
    assert 1.0 <= sleeps.waits[0] <= 2.0 and 2.0 <= sleeps.waits[1] <= 3.0  # 1·2ⁿ + jitter ≤ 1


def test_given_500s_that_never_stop_when_listing_then_retries_are_exhausted_with_a_clear_error(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("server_error", platform="meta", nth=1, times=100))
    sent = watch(http)

    with pytest.raises(RetriesExhaustedError, match=r"Meta kept failing \(HTTP 500, Meta error 1\) "
                                                    r"after 5 attempts") as caught:
        meta(http, meta_settings, sleeps).list_accounts()

    assert len(sent) == 5 and len(sleeps.waits) == 4
    assert sleeps.waits == sorted(sleeps.waits) and all(w <= 31 for w in sleeps.waits)
    assert caught.value.exit_code == ExitCode.FAILED


def test_given_a_truncated_body_when_listing_then_the_broken_connection_is_retried(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("truncated", platform="meta", nth=1))

    assert meta(http, meta_settings, sleeps).list_accounts() == ACCOUNTS
    assert len(sleeps.waits) == 1


def test_given_a_malformed_body_when_listing_then_a_clear_error(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("malformed", platform="meta", nth=1))

    with pytest.raises(DataDripError, match=r"Meta answered me/adaccounts with something that is "
                                            r"not a JSON object \(HTTP 200\)"):
        meta(http, meta_settings, sleeps).list_accounts()


def test_given_an_expired_token_when_listing_then_reauth_is_required(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("expired_token", platform="meta", nth=1))

    with pytest.raises(ReauthRequiredError, match=r"Meta no longer accepts the stored login "
                                                  r"\(error 190/463: Error validating access token: "
                                                  r"Session has expired") as caught:
        meta(http, meta_settings, sleeps).list_accounts()

    assert caught.value.exit_code == ExitCode.LOGIN_NEEDED == 4
    assert caught.value.hint == REAUTH_HINT
    assert sleeps.waits == []


def test_given_a_token_meta_never_issued_when_listing_then_reauth_is_required(
        http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    with pytest.raises(ReauthRequiredError, match=r"error 190/467"):
        meta(http, meta_settings, sleeps, access_token="EAAB-not-issued-here").list_accounts()


def test_given_a_login_without_permission_when_listing_then_says_ads_read_is_missing(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("permission", platform="meta", nth=1))

    with pytest.raises(MetaApiError, match=r"the Meta login lacks the ads_read permission .*"
                                           r"\(error 200: \(#200\) Requires") as caught:
        meta(http, meta_settings, sleeps).list_accounts()

    assert caught.value.code == 200 and caught.value.status == 403
    assert caught.value.hint is not None and "ads_read" in caught.value.hint
    assert sleeps.waits == []


def test_given_a_sunset_api_version_when_listing_then_names_the_setting(
        http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    with pytest.raises(MetaApiError, match=r"error 2635, HTTP 400\): \(#2635\) You are calling a "
                                           r"deprecated version") as caught:
        meta(http, meta_settings, sleeps, api_version="v19.0").list_accounts()

    assert caught.value.hint is not None and "[meta] api_version" in caught.value.hint


def test_given_any_failure_when_listing_then_no_message_or_repr_holds_the_token(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    token = meta_settings["access_token"]
    failures: list[BaseException] = []
    for kind in ("expired_token", "permission", "malformed", "server_error", "rate_limit",
                 "unavailable", "truncated"):
        sandbox.app.faults.clear()
        sandbox.app.faults.add(FaultRule(kind, platform="meta", nth=1, times=100))
        with pytest.raises(DataDripError) as caught:
            meta(http, meta_settings, sleeps).list_accounts()
        failures.append(caught.value)
    sandbox.app.faults.clear()
    with pytest.raises(DataDripError) as unreachable:
        meta(http, {**meta_settings, "graph_url": "http://127.0.0.1:9/meta/graph"}, sleeps,
             retry=RetryPolicy(attempts=2)).list_accounts()
    failures.append(unreachable.value)

    for failure in failures:
        texts = [str(failure), repr(failure), str(getattr(failure, "hint", ""))]
        cause = failure.__cause__
        while cause is not None:
            texts += [str(cause), repr(cause)]
            cause = cause.__cause__
        assert all(token not in text for text in texts), failure
        assert failure.__suppress_context__ or failure.__context__ is None
    assert token not in repr(meta(http, meta_settings, sleeps))
