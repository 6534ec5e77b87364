"""Google Ads daily metrics against the sandbox's Ads API and OAuth server over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any

import httpx
import pytest
from connector_support import RecordedSleep, RefreshingTokens, google, watch

from datadrip.core.config import settings_model
from datadrip.core.errors import DataDripError, ExitCode, ReauthRequiredError
from datadrip.platforms.base import (
    AccountRef,
    ActionCount,
    Connector,
    ConnectorContext,
    DateWindow,
    EntityRecord,
    FetchNotes,
    MetricRow,
    Record,
    SyncOptions,
)
from datadrip.platforms.google.connector import GoogleAds, GoogleAdsApiError
from datadrip.platforms.google.login import REAUTH_HINT
from datadrip.platforms.google.plugin import platform as google_platform
from datadrip.platforms.google.settings import GoogleSettings
from datadrip.platforms.http import RetriesExhaustedError, RetryPolicy
from datadrip.platforms.registry import platform
from datadrip.sandbox.faults import FaultRule

MCC = "9000000001"
MCC_NAME = "Spice Route Media MCC"
DIRECT_USD = AccountRef("google", "2020000002", "Peak Trail Outfitters Search", "USD",
                        "America/New_York")
VIA_MCC_INR = AccountRef("google", "2020000001", "Masala Mornings Search", "INR", "Asia/Kolkata",
                         login_customer_id=MCC, manager_name=MCC_NAME)
VIA_MCC_EUR = AccountRef("google", "2020000003", "Bloom Botanics Search", "EUR", "Europe/Berlin",
                         login_customer_id=MCC, manager_name=MCC_NAME)
CANCELLED = AccountRef("google", "2020000004", "Old Client (cancelled)", "INR", "Asia/Kolkata",
                       "disabled", login_customer_id=MCC, manager_name=MCC_NAME)
MANAGER = AccountRef("google", MCC, MCC_NAME, "INR", "Asia/Kolkata")
STREAM = "googleAds:searchStream"
METRICS = ("metrics.impressions, metrics.clicks, metrics.cost_micros, metrics.conversions, "
           "metrics.conversions_value, metrics.interactions, metrics.all_conversions, "
           "metrics.all_conversions_value")
ACTION_METRICS = ("metrics.conversions, metrics.conversions_value, metrics.all_conversions, "
                  "metrics.all_conversions_value")
CATALOGUE = ("SELECT conversion_action.id, conversion_action.name, conversion_action.category, "
             "conversion_action.primary_for_goal, conversion_action.include_in_conversions_metric, "
             "conversion_action.status, conversion_action.type FROM conversion_action")
# Per level: the catalogue (once per connector and account), the actions, the rows; at the
# ad-set level the Performance Max asset groups too.
REQUESTS = {"campaign": 3, "adset": 4, "ad": 3}


@dataclass(frozen=True)
class Totals:
    spend_micros: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions: Decimal = Decimal(0)
    conversion_value_micros: int = 0


def recent(sandbox: Any, account: AccountRef, days: int = 28) -> DateWindow:
    """The last `days` days up to the sandbox's today in the account's own time zone."""
    today: dt.date = sandbox.app.state.clock.today_in(account.timezone)
    return DateWindow(today - dt.timedelta(days=days - 1), today)


def fetch(connector: Connector, account: AccountRef, window: DateWindow,
          level: str) -> tuple[list[Record], FetchNotes]:
    notes = FetchNotes()
    return list(connector.daily_metrics(account, window, level, SyncOptions(), notes)), notes


def totals(rows: Iterable[Any]) -> Totals:
    total = Totals()
    for row in rows:
        total = Totals(total.spend_micros + row.spend_micros, total.impressions + row.impressions,
                       total.clicks + row.clicks, total.conversions + row.conversions,
                       total.conversion_value_micros + row.conversion_value_micros)
    return total


def world_totals(sandbox: Any, account: AccountRef, window: DateWindow, level: str = "ad") -> Totals:
    """The sandbox World's own numbers at `level` over the window, as reported today (Performance
    Max spends at the campaign and asset-group levels and has no ads)."""
    today = sandbox.app.state.clock.today_in(account.timezone)
    return totals(sandbox.app.world.rows(account.external_id, level, window.since, window.until,
                                         today))


def metric_rows(records: list[Record]) -> list[MetricRow]:
    return [r for r in records if isinstance(r, MetricRow)]


# --- the numbers --------------------------------------------------------------------------------

@pytest.mark.parametrize("level", ["campaign", "adset", "ad"])
@pytest.mark.parametrize("account", [DIRECT_USD, VIA_MCC_INR, VIA_MCC_EUR],
                         ids=["direct-USD", "via-manager-INR", "via-manager-EUR"])
def test_given_an_account_and_a_level_when_fetching_then_totals_equal_the_sandbox_world_to_the_micro(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep, account: AccountRef,
        level: str) -> None:
    window = recent(sandbox, account)

    records, notes = fetch(google(http, google_settings, google_tokens, sleeps), account, window,
                           level)

    rows = metric_rows(records)
    expected = world_totals(sandbox, account, window, level)
    assert expected.spend_micros > 0 and expected.conversions > 0
    assert totals(rows) == expected
    assert {r.level for r in rows} == {level} and all(r.reach is None for r in rows)
    assert all(window.since <= r.date <= window.until for r in rows)
    # The catalogue, the actions, the rows; and the asset groups at the ad-set level.
    assert notes == FetchNotes(requests=4 if level == "adset" else 3) and sleeps.waits == []


def test_given_ad_level_rows_when_fetching_then_each_matches_the_worlds_row_and_actions_for_that_ad_and_day(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    window = recent(sandbox, VIA_MCC_INR, days=10)
    today = sandbox.app.state.clock.today_in(VIA_MCC_INR.timezone)

    records, _ = fetch(google(http, google_settings, google_tokens, sleeps), VIA_MCC_INR, window, "ad")

    got = {(r.entity_id, r.date): r for r in metric_rows(records)}
    world = {(w.entity.id, w.date): MetricRow("ad", w.entity.id, w.date, w.spend_micros,
                                              w.impressions, w.clicks, w.conversions,
                                              w.conversion_value_micros,
                                              interactions=w.interactions,
                                              all_conversions=w.all_conversions,
                                              all_conversion_value_micros=w.all_conversion_value_micros,
                                              actions=tuple(ActionCount(*a) for a in w.actions))
             for w in sandbox.app.world.rows(VIA_MCC_INR.external_id, "ad", window.since,
                                             window.until, today)}
    assert got == world
    for row in got.values():  # exact types: never a float, never a bool
        assert [type(getattr(row, f.name)) for f in fields(row)][:9] == [
            str, str, dt.date, int, int, int, Decimal, int, type(None)]
    assert any(row.conversions != row.conversions.to_integral_value() for row in got.values())


def test_given_an_ad_level_fetch_when_streaming_then_campaign_ad_group_and_ad_come_once_before_their_rows(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    window = recent(sandbox, DIRECT_USD, days=14)
    today = sandbox.app.state.clock.today_in(DIRECT_USD.timezone)
    world = sandbox.app.world

    records, _ = fetch(google(http, google_settings, google_tokens, sleeps), DIRECT_USD, window, "ad")

    entities = [r for r in records if isinstance(r, EntityRecord)]
    keys = [(e.level, e.external_id) for e in entities]
    assert len(keys) == len(set(keys)) and keys[0][0] == "campaign"
    yielded: set[tuple[str, str]] = set()
    for record in records:
        if isinstance(record, EntityRecord):
            assert record.parent_id is None or (
                {"adset": "campaign", "ad": "adset"}[record.level], record.parent_id) in yielded
            yielded.add((record.level, record.external_id))
        else:
            assert ("ad", record.entity_id) in yielded
    expected = {(level, e.id): EntityRecord(level, e.id, e.name_on(today), e.parent_id,
                                            {"active": "enabled", "paused": "paused",
                                             "removed": "removed"}[e.status])
                for level in ("campaign", "adset", "ad")
                for e in world.entities(DIRECT_USD.external_id, level)}
    assert all(entity == expected[(entity.level, entity.external_id)] for entity in entities)
    assert {e.level for e in entities} == {"campaign", "adset", "ad"}
    assert any(e.name.endswith("(renamed)") for e in entities)  # names as Google shows them today


# Campaign rows alone ask for the search impression shares (search campaigns have them).
CAMPAIGN_SHARES = (", metrics.search_impression_share, metrics.search_budget_lost_impression_share, "
                   "metrics.search_rank_lost_impression_share")


@pytest.mark.parametrize(("level", "select", "resource"), [
    ("campaign", "campaign.id, campaign.name, campaign.status", "campaign"),
    ("adset", "campaign.id, campaign.name, campaign.status, ad_group.id, ad_group.name, "
              "ad_group.status", "ad_group"),
    ("ad", "campaign.id, campaign.name, campaign.status, ad_group.id, ad_group.name, "
           "ad_group.status, ad_group_ad.ad.id, ad_group_ad.ad.name, ad_group_ad.status",
     "ad_group_ad"),
])
def test_given_a_level_when_fetching_then_one_search_stream_selects_it_and_its_parents_by_day(
        http: httpx.Client, google_settings: dict[str, Any], google_tokens: RefreshingTokens,
        sleeps: RecordedSleep, level: str, select: str, resource: str) -> None:
    sent = watch(http)
    window = DateWindow(dt.date(2026, 11, 1), dt.date(2026, 11, 23))

    fetch(google(http, google_settings, google_tokens, sleeps), VIA_MCC_EUR, window, level)

    assert [(r.method, r.url.path.removeprefix("/google/ads/v26/")) for r in sent] == [
        ("POST", f"customers/2020000003/{STREAM}")] * REQUESTS[level]
    during = "WHERE segments.date BETWEEN '2026-11-01' AND '2026-11-23'"
    own_id = select.split(", ")[-3]
    assert [json.loads(r.content)["query"] for r in sent[:3]] == [
        CATALOGUE,
        f"SELECT {own_id}, segments.date, segments.conversion_action, {ACTION_METRICS} "
        f"FROM {resource} {during}",
        f"SELECT {select}, segments.date, {METRICS}{CAMPAIGN_SHARES if level == 'campaign' else ''} "
        f"FROM {resource} {during}"]
    if level == "adset":
        assert json.loads(sent[3].content)["query"] == (
            "SELECT campaign.id, campaign.name, campaign.status, asset_group.id, asset_group.name, "
            "asset_group.status, segments.date, metrics.impressions, metrics.clicks, "
            f"metrics.cost_micros, metrics.conversions, metrics.conversions_value FROM asset_group "
            f"{during}")


def test_given_accounts_direct_and_through_a_manager_when_fetching_then_login_customer_id_follows(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sent = watch(http)
    connector = google(http, google_settings, google_tokens, sleeps)

    for account in (DIRECT_USD, VIA_MCC_INR):
        fetch(connector, account, recent(sandbox, account, days=3), "campaign")

    assert [(r.url.path.split("/")[-2], r.headers.get("login-customer-id")) for r in sent] == [
        ("2020000002", None)] * 3 + [("2020000001", MCC)] * 3
    assert {r.headers["authorization"] for r in sent} == {f"Bearer {google_tokens.issued[0]}"}


def test_given_a_window_before_any_delivery_when_fetching_then_no_rows_and_no_entities(
        http: httpx.Client, google_settings: dict[str, Any], google_tokens: RefreshingTokens,
        sleeps: RecordedSleep) -> None:
    bodies: list[Any] = []

    def keep(response: httpx.Response) -> None:
        response.read()
        bodies.append(response.json())

    http.event_hooks["response"].append(keep)

    records, notes = fetch(google(http, google_settings, google_tokens, sleeps), DIRECT_USD,
                           DateWindow(dt.date(2024, 1, 1), dt.date(2024, 1, 31)), "ad")

    assert records == [] and notes == FetchNotes(requests=3)
    # The catalogue has rows; the actions and the daily rows have none.
    assert len(bodies) == 3 and all(len(body) == 1 and "results" not in body[0]
                                    for body in bodies[1:])


# --- retries, tokens and refusals ---------------------------------------------------------------

def test_given_a_rate_limit_when_fetching_then_waits_the_retry_delay_and_recovers(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("rate_limit", platform="google", path=STREAM, nth=1))
    window = recent(sandbox, VIA_MCC_INR)

    records, notes = fetch(google(http, google_settings, google_tokens, sleeps), VIA_MCC_INR,
                           window, "campaign")

    assert sleeps.waits == [30.0]  # quotaErrorDetails.retryDelay "30s"
    assert notes == FetchNotes(requests=4, throttled_seconds=30.0)
    assert totals(metric_rows(records)) == world_totals(sandbox, VIA_MCC_INR, window)


def test_given_a_burst_of_server_errors_when_fetching_then_backs_off_and_recovers(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("server_error", platform="google", path=STREAM, nth=1, times=2))
    sandbox.app.faults.add(FaultRule("unavailable", platform="google", path=STREAM, nth=3))
    window = recent(sandbox, DIRECT_USD)

    records, notes = fetch(google(http, google_settings, google_tokens, sleeps), DIRECT_USD,
                           window, "adset")

    assert len(sleeps.waits) == 3 and all(1.0 <= w <= 2.0 ** i + 1.0 for i, w in enumerate(sleeps.waits))
    assert notes.requests == 7 and notes.throttled_seconds == 0.0  # backoff, not a rate limit
    assert totals(metric_rows(records)) == world_totals(sandbox, DIRECT_USD, window, "adset")


def test_given_server_errors_that_never_stop_when_fetching_then_retries_are_exhausted(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("unavailable", platform="google", path=STREAM, nth=1, times=100))
    notes = FetchNotes()
    connector = google(http, google_settings, google_tokens, sleeps)

    with pytest.raises(RetriesExhaustedError, match=r"Google Ads kept failing \(HTTP 503 "
                                                    r"internalError.TRANSIENT_ERROR\) after 5 attempts"):
        list(connector.daily_metrics(DIRECT_USD, recent(sandbox, DIRECT_USD), "ad", SyncOptions(),
                                     notes))

    assert notes.requests == 5 and len(sleeps.waits) == 4


def test_given_an_expired_access_token_when_fetching_then_it_is_refreshed_once_and_recovers(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("expired_token", platform="google", path=STREAM, nth=1))
    window = recent(sandbox, VIA_MCC_EUR)
    sent = watch(http)

    records, notes = fetch(google(http, google_settings, google_tokens, sleeps), VIA_MCC_EUR,
                           window, "ad")

    assert google_tokens.calls == [False, True, False, False] and len(google_tokens.issued) == 2
    assert [r.headers["authorization"] for r in sent] == [
        f"Bearer {token}" for token in google_tokens.issued] + [f"Bearer {google_tokens.issued[1]}"] * 2
    assert notes == FetchNotes(requests=4) and sleeps.waits == []
    assert totals(metric_rows(records)) == world_totals(sandbox, VIA_MCC_EUR, window)


def test_given_an_access_token_that_aged_past_its_hour_when_fetching_then_it_is_renewed(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    google_tokens(False)  # issued an hour and more ago …
    sandbox.app.state.clock.advance(dt.timedelta(seconds=3700))  # … so Google answers 401 now
    google_tokens.calls.clear()

    records, _ = fetch(google(http, google_settings, google_tokens, sleeps), DIRECT_USD,
                       recent(sandbox, DIRECT_USD, days=7), "campaign")

    assert google_tokens.calls[:2] == [False, True] and metric_rows(records)


def test_given_a_revoked_login_when_fetching_then_reauth_is_required_with_exit_code_4(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("revoked_token", platform="google", path=STREAM, nth=1))
    connector = google(http, google_settings, google_tokens, sleeps)

    with pytest.raises(ReauthRequiredError, match="Google no longer accepts the stored login") as caught:
        fetch(connector, VIA_MCC_INR, recent(sandbox, VIA_MCC_INR), "campaign")

    assert caught.value.exit_code == ExitCode.LOGIN_NEEDED == 4 and caught.value.hint == REAUTH_HINT
    assert google_tokens.calls == [False, True]


def test_given_no_permission_when_fetching_then_googles_message_and_a_hint(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("permission", platform="google", path=STREAM, nth=1))
    connector = google(http, google_settings, google_tokens, sleeps)

    with pytest.raises(GoogleAdsApiError, match=r"Google Ads denied access for googleAds:searchStream "
                                                r"on customer 2020000002: User doesn't have "
                                                r"permission to access customer") as caught:
        fetch(connector, DIRECT_USD, recent(sandbox, DIRECT_USD), "campaign")

    assert caught.value.status == 403
    assert caught.value.codes == ("authorizationError.USER_PERMISSION_DENIED",)
    assert caught.value.hint is not None and "manager" in caught.value.hint
    assert sleeps.waits == []


def test_given_a_manager_reached_account_without_login_customer_id_when_fetching_then_permission_denied(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    orphan = replace(VIA_MCC_INR, login_customer_id=None, manager_name=None)
    sent = watch(http)

    with pytest.raises(GoogleAdsApiError, match=r"customer 2020000001: .*the manager's customer id "
                                                r"must be set in the 'login-customer-id' header") as caught:
        fetch(google(http, google_settings, google_tokens, sleeps), orphan,
              recent(sandbox, orphan), "ad")

    assert caught.value.codes == ("authorizationError.USER_PERMISSION_DENIED",)
    assert len(sent) == 1 and "login-customer-id" not in sent[0].headers


def test_given_a_malformed_body_when_fetching_then_a_clear_error_and_no_records(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("malformed", platform="google", path=STREAM, nth=1))
    received: list[Record] = []
    connector = google(http, google_settings, google_tokens, sleeps)

    with pytest.raises(DataDripError, match=r"Google Ads answered googleAds:searchStream on customer "
                                            r"2020000002 with a body that is not a stream of result "
                                            r"batches \(not a JSON array\)"):
        received.extend(connector.daily_metrics(DIRECT_USD, recent(sandbox, DIRECT_USD), "ad",
                                                SyncOptions(), FetchNotes()))

    assert received == []


def test_given_a_body_cut_short_once_when_fetching_then_the_call_is_retried_and_recovers(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("truncated", platform="google", path=STREAM, nth=1))
    window = recent(sandbox, DIRECT_USD)

    records, notes = fetch(google(http, google_settings, google_tokens, sleeps), DIRECT_USD,
                           window, "campaign")

    assert notes.requests == 4 and len(sleeps.waits) == 1
    assert totals(metric_rows(records)) == world_totals(sandbox, DIRECT_USD, window)


def test_given_a_cancelled_account_when_fetching_then_a_warning_and_no_rows(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    records, notes = fetch(google(http, google_settings, google_tokens, sleeps), CANCELLED,
                           recent(sandbox, CANCELLED), "campaign")

    assert records == []
    assert notes.warnings == ["Google Ads account 2020000004 (Old Client (cancelled)) is cancelled "
                              "or not enabled; no metrics were read"]
    assert notes.requests == 2 and sleeps.waits == []  # the catalogue, then the actions


def test_given_a_cancelled_account_when_a_sync_asks_per_level_and_chunk_then_warns_once(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    connector = google(http, google_settings, google_tokens, sleeps)
    notes = FetchNotes(warnings=["an earlier warning"])

    for level in ("campaign", "adset", "ad"):
        for chunk in recent(sandbox, CANCELLED, days=60).chunks(30):
            assert list(connector.daily_metrics(CANCELLED, chunk, level, SyncOptions(), notes)) == []

    assert len(notes.warnings) == 2 and notes.warnings[0] == "an earlier warning"
    assert notes.requests == 7  # the catalogue once per sync, a refusal per level and chunk


def test_given_a_manager_account_when_fetching_then_says_managers_hold_no_metrics(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    connector = google(http, google_settings, google_tokens, sleeps)

    with pytest.raises(GoogleAdsApiError, match=r"Google Ads account 9000000001 \(Spice Route Media "
                                                r"MCC\) is a manager account: managers hold no "
                                                r"metrics") as caught:
        fetch(connector, MANAGER, recent(sandbox, MANAGER), "campaign")

    assert caught.value.codes == ("queryError.REQUESTED_METRICS_FOR_MANAGER",)
    assert caught.value.hint is not None and "datadrip account list" in caught.value.hint


def test_given_a_window_older_than_37_months_when_fetching_then_says_how_far_back_google_goes(
        http: httpx.Client, google_settings: dict[str, Any], google_tokens: RefreshingTokens,
        sleeps: RecordedSleep) -> None:
    connector = google(http, google_settings, google_tokens, sleeps)

    with pytest.raises(GoogleAdsApiError, match="REQUESTED_DATE_GRANULARITY_NOT_SUPPORTED") as caught:
        fetch(connector, DIRECT_USD, DateWindow(dt.date(2023, 1, 1), dt.date(2023, 1, 31)), "ad")

    assert caught.value.hint is not None and "37 months" in caught.value.hint


def test_given_an_unknown_level_when_asking_then_fails_before_any_request(
        http: httpx.Client, google_settings: dict[str, Any], google_tokens: RefreshingTokens,
        sleeps: RecordedSleep) -> None:
    sent = watch(http)
    connector = google(http, google_settings, google_tokens, sleeps)

    with pytest.raises(ValueError, match="unknown level 'keyword'"):
        connector.daily_metrics(DIRECT_USD, DateWindow(dt.date(2026, 11, 1), dt.date(2026, 11, 2)),
                                "keyword", SyncOptions(), FetchNotes())

    assert sent == [] and google_tokens.calls == []


# --- the entry point ----------------------------------------------------------------------------

def context(http: httpx.Client, settings: dict[str, Any], tokens: Any, sleeps: RecordedSleep,
            secrets: dict[str, str | None], retry: RetryPolicy | None = None) -> ConnectorContext:
    google_settings = GoogleSettings(api_url=settings["api_url"], api_version=settings["api_version"])
    model = settings_model((("google", GoogleSettings),))
    return ConnectorContext(http=http, settings=model(google=google_settings), get_token=tokens,
                            secrets=secrets, retry=retry or RetryPolicy(), sleep=sleeps)


@pytest.mark.parametrize(("secrets", "header"), [
    ({"google.developer_token": "dev-token-abc123"}, "dev-token-abc123"),
    ({"google.developer_token": None}, None),
    ({}, None),
], ids=["configured", "unset", "absent"])
def test_given_a_connector_context_when_opening_then_the_developer_token_is_sent_only_if_configured(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep, secrets: dict[str, str | None],
        header: str | None) -> None:
    sent = watch(http)
    connector: Connector = platform("google").open_connector(
        context(http, google_settings, google_tokens, sleeps, secrets))

    records, _ = fetch(connector, VIA_MCC_INR, recent(sandbox, VIA_MCC_INR, days=3), "campaign")

    assert platform("google") is google_platform and isinstance(connector, GoogleAds)
    assert metric_rows(records) and len(sent) == 3
    assert {r.headers.get("developer-token") for r in sent} == {header}


def test_given_a_connector_context_when_google_keeps_failing_then_its_retry_policy_and_sleep_are_used(
        sandbox: Any, http: httpx.Client, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("rate_limit", platform="google", path=STREAM, nth=1, times=100))
    connector = google_platform.open_connector(context(http, google_settings, google_tokens, sleeps, {},
                                       RetryPolicy(attempts=2)))

    with pytest.raises(RetriesExhaustedError, match="after 2 attempts"):
        fetch(connector, DIRECT_USD, recent(sandbox, DIRECT_USD), "campaign")

    assert sleeps.waits == [30.0]


# --- what the sandbox cannot be made to say: a stand-in transport answers instead ----------------

def streaming(*batches: str, status: int = 200) -> httpx.Client:
    """A client whose transport answers every daily-rows searchStream with these raw batches in
    an array (the catalogue and the actions: `catalogue` and `actions`, none by default)."""
    return answering({"rows": batches}, status=status)


def answering(bodies: dict[str, tuple[str, ...]], status: int = 200) -> httpx.Client:
    """`bodies`: "catalogue", "actions", "rows" → the batches each query is answered with."""

    def answer(request: httpx.Request) -> httpx.Response:
        query = json.loads(request.content)["query"]
        kind = "catalogue" if "FROM conversion_action" in query else \
            "actions" if "segments.conversion_action" in query else "rows"
        found = bodies.get(kind, ())
        return httpx.Response(status if kind == "rows" else 200,
                              content=("[" + ",".join(found) + "]").encode(),
                              headers={"content-type": "application/json"})

    return httpx.Client(transport=httpx.MockTransport(answer))


def canned_google(http: httpx.Client, sleeps: RecordedSleep) -> GoogleAds:
    return GoogleAds(http=http, api_url="https://ads.example", api_version="v26",
                     get_token=lambda force: "ya29.x", sleep=sleeps)


def ad_row(ad_id: str, day: str, metrics: str, ad: str = '"name":"Carousel 1"') -> str:
    return ('{"campaign":{"id":"1001","name":"Brand","status":"ENABLED"},'
            '"adGroup":{"id":"100101","name":"Brand · Broad","status":"PAUSED"},'
            f'"adGroupAd":{{"ad":{{"id":"{ad_id}",{ad}}},"status":"REMOVED"}},'
            f'"segments":{{"date":"{day}"}},"metrics":{{{metrics}}}}}')


def batch(*rows: str) -> str:
    return '{"results":[' + ",".join(rows) + '],"fieldMask":"…","requestId":"r1"}'


WEEK = DateWindow(dt.date(2026, 11, 16), dt.date(2026, 11, 22))
# A row whose stream leaves out interactions and all conversions (zeros) and has no actions.
NOTHING_MORE: dict[str, Any] = {"interactions": 0, "all_conversions": Decimal(0),
                                "all_conversion_value_micros": 0, "actions": ()}


def test_given_doubles_in_the_stream_when_reading_then_conversions_stay_exact_and_values_round_half_even(
        sleeps: RecordedSleep) -> None:
    http = streaming(
        batch(ad_row("10010101", "2026-11-21", '"impressions":"1520","clicks":"87","costMicros":'
                                               '"41250000","conversions":3.5,"conversionsValue":420.75'),
              ad_row("10010101", "2026-11-22", '"impressions":"37","clicks":"0","costMicros":"0",'
                                               '"conversions":0.30000000000000004,'
                                               '"conversionsValue":0.0000025')),
        '{"fieldMask":"…","requestId":"r1"}',  # a batch with no rows: no "results" key
        batch(ad_row("10010102", "2026-11-22", '"impressions":"9007199254740993","clicks":"1",'
                                               '"costMicros":"10000","conversions":1,'
                                               '"conversionsValue":1.000000355E2', ad='"name":""')),
        '{"fieldMask":"…","requestId":"r1","queryResourceConsumption":"812"}')

    records, notes = fetch(canned_google(http, sleeps), DIRECT_USD, WEEK, "ad")

    assert records == [
        EntityRecord("campaign", "1001", "Brand", None, "enabled"),
        EntityRecord("adset", "100101", "Brand · Broad", "1001", "paused"),
        EntityRecord("ad", "10010101", "Carousel 1", "100101", "removed"),
        MetricRow("ad", "10010101", dt.date(2026, 11, 21), 41_250_000, 1520, 87, Decimal("3.5"),
                  420_750_000, **NOTHING_MORE),
        MetricRow("ad", "10010101", dt.date(2026, 11, 22), 0, 37, 0,
                  Decimal("0.30000000000000004"), 2, **NOTHING_MORE),  # 2.5 micros → 2 (half to even)
        EntityRecord("ad", "10010102", "Ad 10010102", "100101", "removed"),  # unnamed ad
        MetricRow("ad", "10010102", dt.date(2026, 11, 22), 10_000, 9_007_199_254_740_993, 1,
                  Decimal(1), 100_000_036, **NOTHING_MORE)]  # 100.0000355: 35.5 micros → 36
    assert notes == FetchNotes(requests=3)


ONE = '"impressions":"1","clicks":"1","costMicros":"1"'


@pytest.mark.parametrize(("metrics", "named"), [
    ('"impressions":"12.5","clicks":"1"', r"metrics\.impressions \(not a whole number: '12\.5'\)"),
    ('"impressions":"1","clicks":true', r"metrics\.clicks \(not a whole number: True\)"),
    ('"costMicros":"lots"', r"metrics\.costMicros \(not a whole number: 'lots'\)"),
    (f'{ONE},"conversions":"NaN"', r"metrics\.conversions \(not a number: 'NaN'\)"),
    (f'{ONE},"conversions":NaN', r"metrics\.conversions \(not a number: nan\)"),
    (f'{ONE},"conversionsValue":{{"units":3}}', r"metrics\.conversionsValue \(not a number"),
], ids=["fraction", "bool", "word", "nan-string", "nan-literal", "object"])
def test_given_a_non_numeric_metric_when_reading_then_a_clear_error_naming_the_field(
        sleeps: RecordedSleep, metrics: str, named: str) -> None:
    http = streaming(batch(ad_row("10010101", "2026-11-21", metrics)))

    with pytest.raises(DataDripError, match=rf"Google Ads sent an unreadable {named}.* in a row of "
                                            r"customer 2020000002"):
        fetch(canned_google(http, sleeps), DIRECT_USD, WEEK, "ad")


@pytest.mark.parametrize(("row", "named"), [
    ('{"campaign":{"id":"1001","name":"A"},"metrics":{}}', r"segments \(missing"),
    ('{"campaign":{"id":"x1","name":"A"},"segments":{"date":"2026-11-21"},"metrics":{}}',
     r"campaign\.id \(not an id: 'x1'\)"),
    ('{"campaign":{"id":"1001","name":"A"},"segments":{"date":"21/11/2026"},"metrics":{}}',
     r"segments\.date \(not a date: '21/11/2026'\)"),
], ids=["no-date", "bad-id", "bad-date"])
def test_given_a_row_missing_its_parts_when_reading_then_a_clear_error_naming_them(
        sleeps: RecordedSleep, row: str, named: str) -> None:
    http = streaming(batch(row))

    with pytest.raises(DataDripError, match=rf"Google Ads sent an unreadable {named}"):
        fetch(canned_google(http, sleeps), DIRECT_USD, WEEK, "campaign")


def test_given_an_error_after_some_batches_when_reading_then_the_rows_so_far_then_the_error(
        sleeps: RecordedSleep) -> None:
    failure = json.dumps({"error": {"code": 500, "message": "Internal error encountered.",
                                    "status": "INTERNAL", "details": [{
                                        "@type": "type.googleapis.com/google.ads.googleads.v26"
                                                 ".errors.GoogleAdsFailure",
                                        "errors": [{"errorCode": {"internalError": "INTERNAL_ERROR"},
                                                    "message": "An internal error has occurred."}]}]}})
    http = streaming(batch(ad_row("10010101", "2026-11-21", '"impressions":"5"')), failure)
    received: list[Record] = []

    with pytest.raises(GoogleAdsApiError, match=r"HTTP 500 internalError.INTERNAL_ERROR\): An "
                                                r"internal error has occurred") as caught:
        received.extend(canned_google(http, sleeps).daily_metrics(DIRECT_USD, WEEK, "ad", SyncOptions(),
                                                                  FetchNotes()))

    assert caught.value.status == 500 and len(received) == 4


@pytest.mark.parametrize(("body", "why"), [
    ('[{"results":[]}] trailing', "unexpected data after the array"),
    ('[{"results":[]} {"results":[]}]', "expected ',' or ']'"),
    ('[{"results":{"a":1}}]', "a batch's results are not a list of rows"),
    ('[{"results":[1]}]', "a batch's results are not a list of rows"),
    ('["batch"]', "a batch is not a JSON object"),
    ('{"results":[]}', "not a JSON array"),
    ('[{"results":[', "Expecting"),
], ids=["trailing", "no-comma", "results-object", "results-number", "string", "object", "cut"])
def test_given_a_body_that_is_not_a_batch_array_when_reading_then_says_what_is_wrong(
        sleeps: RecordedSleep, body: str, why: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body.encode())

    http = httpx.Client(transport=httpx.MockTransport(answer))

    with pytest.raises(DataDripError, match=r"with a body that is not a stream of result batches "
                                            rf"\({why}"):
        fetch(canned_google(http, sleeps), DIRECT_USD, WEEK, "ad")


def test_given_an_empty_stream_array_when_reading_then_no_records(sleeps: RecordedSleep) -> None:
    records, notes = fetch(canned_google(streaming(), sleeps), DIRECT_USD, WEEK, "ad")

    assert records == [] and notes.requests == 3


# --- conversions by action, joined on entity and day ---------------------------------------------

def catalogue_row(action: str, included: bool) -> str:
    flag = ',"includeInConversionsMetric":true,"primaryForGoal":true' if included else ""
    return (f'{{"conversionAction":{{"resourceName":"customers/2020000002/conversionActions/{action}",'
            f'"id":"{action}","name":"Action {action}","category":"PURCHASE","status":"ENABLED",'
            f'"type":"WEBPAGE"{flag}}}}}')


def action_row(ad_id: str, day: str, action: str, metrics: str) -> str:
    return (f'{{"adGroupAd":{{"ad":{{"id":"{ad_id}"}}}},"segments":{{"date":"{day}",'
            f'"conversionAction":"customers/2020000002/conversionActions/{action}"}},'
            f'"metrics":{{{metrics}}}}}')


BOTH = '"conversions":2.5,"conversionsValue":30.5,"allConversions":3,"allConversionsValue":40'
CARTS = '"allConversions":7.25'


@pytest.mark.parametrize(("counts", "purchase"), [
    ("by_inclusion", ActionCount("501", Decimal("2.5"), 30_500_000)),
    ("all_conversions", ActionCount("501", Decimal(3), 40_000_000)),
], ids=["by-inclusion", "all-conversions"])
def test_given_conversion_actions_when_fetching_then_each_row_carries_its_actions_as_the_setting_says(
        sleeps: RecordedSleep, counts: str, purchase: ActionCount) -> None:
    http = answering({
        "catalogue": (batch(catalogue_row("501", True), catalogue_row("502", False)),),
        "actions": (batch(action_row("10010101", "2026-11-21", "501", BOTH),
                          action_row("10010101", "2026-11-21", "502", CARTS),
                          action_row("10010101", "2026-11-20", "502", CARTS)),),
        "rows": (batch(ad_row("10010101", "2026-11-21", '"clicks":"4","interactions":"6",'
                                                        '"conversions":2.5,"allConversions":10.25'),
                       ad_row("10010101", "2026-11-22", '"clicks":"1"')),)})
    connector = GoogleAds(http=http, api_url="https://ads.example", api_version="v26",
                          get_token=lambda force: "ya29.x", sleep=sleeps, action_counts=counts)

    records, notes = fetch(connector, DIRECT_USD, WEEK, "ad")

    rows = {row.date.day: row for row in metric_rows(records)}
    assert rows[21].actions == (purchase, ActionCount("502", Decimal("7.25"), 0))
    assert (rows[21].interactions, rows[21].all_conversions) == (6, Decimal("10.25"))
    assert rows[22].actions == ()  # actions read, none that day
    # The 20th's add-to-carts have no metrics row to join: said, not kept.
    assert notes.warnings == ["Google Ads reported conversion actions of 1 ad-days of customer "
                              "2020000002 without a metrics row for them; they were not kept"]
    assert [entry.included_in_conversions for entry in connector.conversion_actions(
        DIRECT_USD, notes)] == [True, False] and notes.requests == 3  # the catalogue read once


@pytest.mark.parametrize(("actions", "rows", "named"), [
    ((batch('{"adGroupAd":{"ad":{"id":"10010101"}},"segments":{"date":"2026-11-21"},'
            '"metrics":{"allConversions":1}}'),), (),
     r"segments\.conversionAction \(not a conversion action: None\)"),
    ((batch(action_row("10010101", "2026-11-21", "501", '"allConversions":"lots"')),), (),
     r"metrics\.allConversions \(not a number: 'lots'\)"),
    ((), (batch(ad_row("10010101", "2026-11-21", '"allConversions":"lots"')),),
     r"metrics\.allConversions \(not a number: 'lots'\)"),
    ((), (batch(ad_row("10010101", "2026-11-21", '"interactions":1.5')),),
     r"metrics\.interactions \(not a whole number: Decimal\('1\.5'\)\)"),
], ids=["action-without-id", "action-all-conversions-word", "row-all-conversions-word",
        "fractional-interactions"])
def test_given_an_unreadable_action_or_new_metric_when_fetching_then_a_clear_error_and_no_records(
        sleeps: RecordedSleep, actions: tuple[str, ...], rows: tuple[str, ...], named: str) -> None:
    http = answering({"actions": actions, "rows": rows})
    received: list[Record] = []

    with pytest.raises(DataDripError, match=rf"Google Ads sent an unreadable {named} in a row of "
                                            r"customer 2020000002") as caught:
        received.extend(canned_google(http, sleeps).daily_metrics(DIRECT_USD, WEEK, "ad",
                                                                  SyncOptions(), FetchNotes()))

    # No row: the sync saves a window whole or not at all, so nothing is written.
    assert metric_rows(received) == [] and caught.value.exit_code == ExitCode.FAILED
    if actions:  # the actions are read first: nothing at all came out
        assert received == []


@pytest.mark.parametrize(("entry", "named"), [
    ('{"conversionAction":{"name":"No id"}}', r"conversionAction\.id \(None\)"),
    ('{"conversionAction":{"id":"501","includeInConversionsMetric":"yes"}}',
     r"conversionAction\.includeInConversionsMetric \('yes'\)"),
    ('{"other":{}}', r"conversionAction \(None\)"),
], ids=["no-id", "flag-not-bool", "no-action"])
def test_given_an_unreadable_catalogue_entry_when_reading_then_a_clear_error(
        sleeps: RecordedSleep, entry: str, named: str) -> None:
    http = answering({"catalogue": (batch(entry),)})

    with pytest.raises(DataDripError, match=rf"Google Ads sent an unreadable {named} in a "
                                            r"conversion action of customer 2020000002"):
        canned_google(http, sleeps).conversion_actions(DIRECT_USD, FetchNotes())
