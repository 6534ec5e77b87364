"""Google Ads account discovery against the sandbox's Ads API and OAuth server over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
from connector_support import RecordedSleep, RefreshingTokens, google, watch

from datadrip.core.errors import AuthRequiredError, DataDripError, ExitCode, ReauthRequiredError
from datadrip.platforms.base import AccountRef
from datadrip.platforms.google.connector import GoogleAds, GoogleAdsApiError
from datadrip.platforms.google.login import REAUTH_HINT
from datadrip.platforms.http import RetriesExhaustedError
from datadrip.sandbox.data import Account, World
from datadrip.sandbox.faults import FaultRule

MCC = "9000000001"
MCC_NAME = "Spice Route Media MCC"
ACCOUNTS = [
    AccountRef("google", "2020000002", "Peak Trail Outfitters Search", "USD", "America/New_York",
               "active"),
    AccountRef("google", "2020000001", "Masala Mornings Search", "INR", "Asia/Kolkata", "active",
               login_customer_id=MCC, manager_name=MCC_NAME),
    AccountRef("google", "2020000003", "Bloom Botanics Search", "EUR", "Europe/Berlin", "active",
               login_customer_id=MCC, manager_name=MCC_NAME),
    AccountRef("google", "2020000004", "Old Client (cancelled)", "INR", "Asia/Kolkata", "disabled",
               login_customer_id=MCC, manager_name=MCC_NAME),
]


def with_accounts(sandbox: Any, *extra: Account) -> None:
    world = sandbox.app.world
    sandbox.app.world = World(world.seed, (*world.accounts, *extra), epoch=world.epoch)


def test_given_a_manager_and_a_direct_account_when_listing_then_clients_come_through_the_manager(
        http: httpx.Client, google_settings: dict[str, Any], google_tokens: RefreshingTokens,
        sleeps: RecordedSleep) -> None:
    sent = watch(http)

    accounts = google(http, google_settings, google_tokens, sleeps).list_accounts()

    assert accounts == ACCOUNTS
    assert [(r.method, r.url.path.removeprefix("/google/ads/v26/"), r.headers.get("login-customer-id"))
            for r in sent] == [
        ("GET", "customers:listAccessibleCustomers", None),
        ("POST", "customers/9000000001/googleAds:search", MCC),
        ("POST", "customers/2020000002/googleAds:search", "2020000002"),
        ("POST", "customers/9000000001/googleAds:search", MCC)]
    assert "FROM customer_client WHERE customer_client.level <= 1" in json.loads(sent[-1].content)["query"]
    assert {r.headers["authorization"] for r in sent} == {f"Bearer {google_tokens.issued[0]}"}
    assert google_tokens.calls == [False] * 4 and sleeps.waits == []


def test_given_no_developer_token_when_listing_then_the_header_is_not_sent(
        http: httpx.Client, google_settings: dict[str, Any], google_tokens: RefreshingTokens,
        sleeps: RecordedSleep) -> None:
    sent = watch(http)

    google(http, google_settings, google_tokens, sleeps).list_accounts()

    assert sent and all("developer-token" not in r.headers for r in sent)


def test_given_a_developer_token_when_listing_then_every_request_carries_it(
        http: httpx.Client, google_settings: dict[str, Any], google_tokens: RefreshingTokens,
        sleeps: RecordedSleep) -> None:
    sent = watch(http)

    accounts = google(http, google_settings, google_tokens, sleeps,
                      developer_token="dev-token-abc123").list_accounts()

    assert accounts == ACCOUNTS
    assert len(sent) == 4 and all(r.headers["developer-token"] == "dev-token-abc123" for r in sent)


def test_given_a_sub_manager_when_listing_then_its_clients_come_through_the_top_manager(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    with_accounts(sandbox,
                  Account("google", "9000000002", "North Desk", "INR", "Asia/Kolkata", manager=True,
                          manager_id=MCC, campaigns=0),
                  Account("google", "2020000006", "Chai Corner Search", "INR", "Asia/Kolkata",
                          manager_id="9000000002"))
    sent = watch(http)

    accounts = google(http, google_settings, google_tokens, sleeps).list_accounts()

    assert accounts == [*ACCOUNTS, AccountRef("google", "2020000006", "Chai Corner Search", "INR",
                                              "Asia/Kolkata", "active", login_customer_id=MCC,
                                              manager_name=MCC_NAME)]
    assert (sent[-1].url.path.endswith("/customers/9000000002/googleAds:search")
            and sent[-1].headers["login-customer-id"] == MCC)


def test_given_a_cancelled_account_reached_directly_when_listing_then_it_is_skipped(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    with_accounts(sandbox, Account("google", "2020000005", "Closed Shop", "USD", "America/New_York",
                                   status="disabled"))

    accounts = google(http, google_settings, google_tokens, sleeps).list_accounts()

    assert accounts == ACCOUNTS


def test_given_a_rate_limit_when_listing_then_waits_the_retry_delay_and_succeeds(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("rate_limit", platform="google", path="googleAds:search", nth=2))

    accounts = google(http, google_settings, google_tokens, sleeps).list_accounts()

    assert accounts == ACCOUNTS
    assert sleeps.waits == [30.0]  # quotaErrorDetails.retryDelay "30s"


def test_given_503s_that_never_stop_when_listing_then_retries_are_exhausted_with_a_clear_error(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("unavailable", platform="google", path="/google/ads/", nth=1,
                                     times=100))
    sent = watch(http)

    with pytest.raises(RetriesExhaustedError, match=r"Google Ads kept failing \(HTTP 503 "
                                                    r"internalError.TRANSIENT_ERROR\) after 5 attempts"):
        google(http, google_settings, google_tokens, sleeps).list_accounts()

    assert len(sent) == 5 and len(sleeps.waits) == 4


def test_given_an_expired_access_token_when_listing_then_it_is_refreshed_once_and_succeeds(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    google_tokens(False)  # an access token from an hour and more ago …
    sandbox.app.state.clock.advance(dt.timedelta(seconds=3700))  # … has expired by now
    google_tokens.calls.clear()

    accounts = google(http, google_settings, google_tokens, sleeps).list_accounts()

    assert accounts == ACCOUNTS
    assert google_tokens.calls == [False, True, False, False, False]
    assert len(google_tokens.issued) == 2 and sleeps.waits == []


def test_given_a_revoked_login_when_listing_then_reauth_is_required_with_exit_code_4(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("revoked_token", platform="google", path="/google/ads/", nth=1))

    with pytest.raises(ReauthRequiredError, match="Google no longer accepts the stored login") as caught:
        google(http, google_settings, google_tokens, sleeps).list_accounts()

    assert caught.value.exit_code == ExitCode.LOGIN_NEEDED == 4
    assert caught.value.hint == REAUTH_HINT
    assert google_tokens.calls == [False, True]


def test_given_an_access_token_never_accepted_when_listing_then_reauth_after_one_refresh(
        http: httpx.Client, google_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    calls: list[bool] = []

    def forged(force_refresh: bool) -> str:
        calls.append(force_refresh)
        return "ya29.forged-token"

    with pytest.raises(ReauthRequiredError, match="even with a fresh access token") as caught:
        google(http, google_settings, forged, sleeps).list_accounts()

    assert calls == [False, True]
    assert caught.value.exit_code == 4 and caught.value.hint == REAUTH_HINT


def test_given_no_permission_when_listing_then_googles_message_is_shown(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("permission", platform="google", path="googleAds:search", nth=1))

    with pytest.raises(GoogleAdsApiError, match=r"Google Ads denied access for googleAds:search on "
                                                r"customer 9000000001: User doesn't have permission "
                                                r"to access customer") as caught:
        google(http, google_settings, google_tokens, sleeps).list_accounts()

    assert caught.value.status == 403
    assert caught.value.codes == ("authorizationError.USER_PERMISSION_DENIED",)
    assert sleeps.waits == []


def test_given_a_malformed_body_when_listing_then_a_clear_error(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("malformed", platform="google", path="/google/ads/", nth=1))

    with pytest.raises(DataDripError, match=r"Google Ads answered listAccessibleCustomers with "
                                            r"something that is not a JSON object \(HTTP 200\)"):
        google(http, google_settings, google_tokens, sleeps).list_accounts()


def test_given_a_sunset_api_version_when_listing_then_names_the_setting(
        http: httpx.Client, google_settings: dict[str, Any], google_tokens: RefreshingTokens,
        sleeps: RecordedSleep) -> None:
    with pytest.raises(GoogleAdsApiError, match=r"requestError.UNSUPPORTED_VERSION\): Version v20 "
                                                r"is deprecated") as caught:
        google(http, google_settings, google_tokens, sleeps, api_version="v20").list_accounts()

    assert caught.value.hint is not None and "[google] api_version" in caught.value.hint


# --- what the sandbox cannot be made to say: a stand-in transport answers instead ----------------

def canned(answers: dict[str, Any]) -> httpx.Client:
    """A client whose transport answers (status, JSON body) from `answers`, keyed by "list" or
    "{customer id} {FROM resource}"."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("listAccessibleCustomers"):
            status, body = answers["list"]
            return httpx.Response(status, json=body)
        cid = request.url.path.split("/")[-2]
        query = json.loads(request.content)["query"]
        status, body = answers[f"{cid} {query.split(' FROM ')[-1].split()[0]}"]
        return httpx.Response(status, json=body)

    return httpx.Client(transport=httpx.MockTransport(answer))


def client_row(cid: str, name: str, level: int, manager: bool = False) -> dict[str, Any]:
    return {"customerClient": {"id": cid, "level": str(level), "manager": manager,
                               "descriptiveName": name, "currencyCode": "INR",
                               "timeZone": "Asia/Kolkata", "status": "ENABLED"}}


def test_given_an_account_reached_directly_and_through_a_manager_when_listing_then_direct_wins(
        sleeps: RecordedSleep) -> None:
    customer = {"customer": {"id": "1111111111", "descriptiveName": "Direct", "currencyCode": "USD",
                             "timeZone": "UTC", "manager": False}}
    mcc = {"customer": {"id": "9999999999", "descriptiveName": "Top", "manager": True}}
    http = canned({
        "list": (200, {"resourceNames": ["customers/9999999999", "customers/1111111111"]}),
        "9999999999 customer": (200, {"results": [mcc]}),
        "1111111111 customer": (200, {"results": [customer]}),
        "9999999999 customer_client": (200, {"results": [
            client_row("9999999999", "Top", 0, True), client_row("1111111111", "Direct via MCC", 1),
            client_row("2222222222", "Client", 1), client_row("2222222222", "Client again", 1)]}),
    })

    accounts = GoogleAds(http=http, api_url="https://ads.example", api_version="v26",
                         get_token=lambda force: "ya29.x", sleep=sleeps).list_accounts()

    assert accounts == [
        AccountRef("google", "1111111111", "Direct", "USD", "UTC"),
        AccountRef("google", "2222222222", "Client", "INR", "Asia/Kolkata",
                   login_customer_id="9999999999", manager_name="Top")]


def test_given_a_google_user_without_ads_when_listing_then_says_to_log_in_with_another_user(
        sleeps: RecordedSleep) -> None:
    body = {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                      "status": "UNAUTHENTICATED", "details": [{
                          "@type": "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
                          "errors": [{"errorCode": {"authenticationError": "NOT_ADS_USER"},
                                      "message": "User in the cookie is not a valid Ads user."}]}]}}
    calls: list[bool] = []
    http = canned({"list": (401, body)})

    with pytest.raises(AuthRequiredError, match="the Google login has no Google Ads account") as caught:
        GoogleAds(http=http, api_url="https://ads.example", api_version="v26",
                  get_token=lambda force: calls.append(force) or "ya29.x", sleep=sleeps).list_accounts()

    assert caught.value.hint is not None and "another Google user" in caught.value.hint
    assert caught.value.exit_code == ExitCode.LOGIN_NEEDED and calls == [False]


def test_given_any_failure_when_listing_then_no_message_or_repr_holds_a_token(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    failures: list[BaseException] = []
    for kind in ("permission", "malformed", "server_error", "unavailable", "truncated",
                 "expired_token", "revoked_token"):
        sandbox.app.faults.clear()
        sandbox.app.faults.add(FaultRule(kind, platform="google", path="/google/ads/", nth=1,
                                         times=100))
        with pytest.raises(DataDripError) as caught:
            google(http, google_settings, google_tokens, sleeps,
                   developer_token="dev-token-abc123").list_accounts()
        failures.append(caught.value)
    secrets = {*google_tokens.issued, google_settings["refresh_token"],
               google_settings["client_secret"], "dev-token-abc123"}

    for failure in failures:
        texts = [str(failure), repr(failure), str(getattr(failure, "hint", ""))]
        assert all(secret not in text for secret in secrets for text in texts), failure
        assert failure.__suppress_context__ or failure.__context__ is None
    ads = google(http, google_settings, google_tokens, sleeps, developer_token="dev-token-abc123")
    assert all(secret not in repr(ads) for secret in secrets)


def test_given_the_sandbox_world_when_listing_then_statuses_follow_customer_client_status(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    world = sandbox.app.world
    sandbox.app.world = World(world.seed, tuple(replace(a, status="disabled")
                                                if a.id == "2020000003" else a
                                                for a in world.accounts), epoch=world.epoch)

    accounts = google(http, google_settings, google_tokens, sleeps).list_accounts()

    assert {a.external_id: a.status for a in accounts} == {
        "2020000002": "active", "2020000001": "active", "2020000003": "disabled",
        "2020000004": "disabled"}


def test_given_more_than_one_page_of_rows_when_searching_then_next_page_tokens_are_followed(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    from datadrip.platforms.google.ads import AdsClient

    world = sandbox.app.world  # a bigger direct account: 10 campaigns, 40 ads, over 10,000 ad-days
    sandbox.app.world = World(world.seed, tuple(replace(a, campaigns=10) if a.id == "2020000002"
                                                else a for a in world.accounts), epoch=world.epoch)

    ads = AdsClient(http=http, api_url=google_settings["api_url"],
                    api_version=google_settings["api_version"], get_token=google_tokens, sleep=sleeps)
    query = ("SELECT ad_group_ad.ad.id, segments.date, metrics.clicks FROM ad_group_ad "
             "WHERE segments.date BETWEEN '2025-11-01' AND '2026-11-25'")
    sent = watch(http)

    rows = list(ads.search("2020000002", query))

    bodies = [json.loads(r.content) for r in sent]
    assert len(sent) == 2 and "pageToken" not in bodies[0]
    assert bodies[1]["query"] == query and bodies[1]["pageToken"]
    assert 10_000 < len(rows) < 20_000
    assert len({(r["adGroupAd"]["ad"]["id"], r["segments"]["date"]) for r in rows}) == len(rows)
