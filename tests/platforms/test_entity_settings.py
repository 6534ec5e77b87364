"""Campaign, ad set and ad settings read from the sandbox's Meta and Google Ads APIs over real
HTTP: budgets in micros whatever the currency's budget unit, account days, every status listed,
both Google date forms, and unreadable settings refused."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from connector_support import RecordedSleep, RefreshingTokens, google

from datadrip.core.errors import DataDripError
from datadrip.platforms.base import AccountRef, EntityCatalogue, EntityRecord, FetchNotes
from datadrip.platforms.google.entities import entity_query, parse_entity
from datadrip.platforms.meta.connector import MetaAds
from datadrip.platforms.meta.entities import account_day, budget_micros
from datadrip.sandbox.google import creatives, gaql
from datadrip.sandbox.google import query as google_query
from datadrip.sandbox.google.gaql import GaqlError

YEN = AccountRef("meta", "act_1010000007", "Sakura Tea House", "JPY", "Asia/Tokyo")
INR = AccountRef("meta", "act_1010000001", "Masala Mornings", "INR", "Asia/Kolkata")
USD = AccountRef("meta", "act_1010000002", "Peak Trail Outfitters", "USD", "America/New_York")
SEARCH_USD = AccountRef("google", "2020000002", "Peak Trail Outfitters Search", "USD",
                        "America/New_York")
LEVELS = ("campaign", "adset", "ad")
SANDBOX_TODAY = dt.date(2026, 11, 26)  # the day tests/conftest.py pins the sandbox to


@pytest.fixture
def sandbox() -> Iterator[Any]:
    """The pinned sandbox (tests/conftest.py) with the yen account too."""
    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer

    with SandboxServer(SandboxConfig(seed=7, today=SANDBOX_TODAY, yen_account=True)) as server:
        yield server


def meta(http: httpx.Client, sandbox: Any) -> MetaAds:
    settings = sandbox.app.describe(sandbox.base_url)["meta"]
    return MetaAds(http=http, graph_url=settings["graph_url"], api_version=settings["api_version"],
                   access_token=settings["access_token"], page_limit=3)


def listed(connector: EntityCatalogue, account: AccountRef, level: str) -> dict[str, EntityRecord]:
    return {record.external_id: record for record in connector.entities(account, level, FetchNotes())}


def test_meta_settings_yen_budget_is_counted_in_whole_yen(http: httpx.Client, sandbox: Any) -> None:
    campaigns = listed(meta(http, sandbox), YEN, "campaign")

    first = sandbox.app.world.entities("1010000007", "campaign")[0]
    settings = campaigns[first.id].settings
    assert settings is not None
    assert settings.daily_budget_micros == 5_000_000_000  # Meta sends "5000": ¥5,000
    assert settings.objective == "OUTCOME_SALES"
    assert settings.bid_strategy == "LOWEST_COST_WITHOUT_CAP"
    assert settings.effective_status == "ACTIVE"
    assert settings.starts_on == first.start and settings.ends_on is None


def test_meta_settings_dollar_budget_is_counted_in_cents(http: httpx.Client, sandbox: Any) -> None:
    world, today = sandbox.app.world, sandbox.app.state.clock.today_in(USD.timezone)
    raw = http.get(f"{sandbox.base_url}/meta/graph/v25.0/act_1010000002/campaigns", params={
        "fields": "daily_budget", "access_token": meta_token(sandbox)}).json()["data"][0]

    campaigns = listed(meta(http, sandbox), USD, "campaign")

    first = world.entities("1010000002", "campaign")[0]
    expected = world.setup(first, today).daily_budget_micros
    assert raw["daily_budget"] == str(expected // 10_000)  # cents as text
    assert campaigns[first.id].settings.daily_budget_micros == expected  # type: ignore[union-attr]
    assert budget_micros("2000", "USD", "daily_budget", "a campaign") == 20_000_000


def meta_token(sandbox: Any) -> str:
    return str(sandbox.app.describe(sandbox.base_url)["meta"]["access_token"])


def test_meta_settings_every_level_with_parents_goals_attribution_and_creatives(
        http: httpx.Client, sandbox: Any) -> None:
    connector, world = meta(http, sandbox), sandbox.app.world
    today = sandbox.app.state.clock.today_in(INR.timezone)

    by_level = {level: listed(connector, INR, level) for level in LEVELS}

    for level in LEVELS:
        assert set(by_level[level]) == {e.id for e in world.entities("1010000001", level)}
    for adset in world.entities("1010000001", "adset"):
        record = by_level["adset"][adset.id]
        spec = world.setup(adset, today).attribution_days
        assert record.parent_id == adset.parent_id
        assert record.settings.attribution_setting == (  # type: ignore[union-attr]
            "7d_click_1d_view" if spec == (7, 1) else "1d_click")
        assert record.settings.optimization_goal  # type: ignore[union-attr]
    for ad in world.entities("1010000001", "ad"):
        record = by_level["ad"][ad.id]
        setup = world.setup(ad, today)
        assert record.parent_id == ad.parent_id
        assert record.settings.creative_title == setup.creative_title  # type: ignore[union-attr]
        assert record.settings.thumbnail_url == setup.thumbnail_url  # type: ignore[union-attr]


def test_meta_settings_archived_campaigns_are_listed_though_graph_hides_them_by_default(
        http: httpx.Client, sandbox: Any) -> None:
    removed = next(e for e in sandbox.app.world.entities("1010000001", "campaign")
                   if e.status == "removed")
    unfiltered = http.get(f"{sandbox.base_url}/meta/graph/v25.0/act_1010000001/campaigns",
                          params={"access_token": meta_token(sandbox)}).json()["data"]

    campaigns = listed(meta(http, sandbox), INR, "campaign")

    assert removed.id not in {item["id"] for item in unfiltered}
    assert campaigns[removed.id].status == "archived"
    assert campaigns[removed.id].settings.effective_status == "ARCHIVED"  # type: ignore[union-attr]
    assert campaigns[removed.id].settings.lifetime_budget_micros  # type: ignore[union-attr]
    assert {record.status for record in campaigns.values()} == {"active", "paused", "archived"}


def test_meta_settings_times_become_the_account_day() -> None:
    chicago = "2026-03-01T00:00:00-0600"

    assert account_day(chicago, ZoneInfo("America/Chicago"), "start_time", "x") == dt.date(2026, 3, 1)
    assert account_day(chicago, ZoneInfo("Asia/Kolkata"), "start_time", "x") == dt.date(2026, 3, 1)
    assert account_day("2026-03-01T23:00:00-0600", ZoneInfo("Asia/Kolkata"), "start_time",
                       "x") == dt.date(2026, 3, 2)
    assert account_day("2026-03-01T01:00:00+0900", ZoneInfo("America/New_York"), "start_time",
                       "x") == dt.date(2026, 2, 28)


@pytest.mark.parametrize("text", ["12abc", "-500", "12.5", ""])
def test_meta_settings_budget_that_is_not_a_number_is_refused(
        http: httpx.Client, sandbox: Any, text: str) -> None:
    first = sandbox.app.world.entities("1010000007", "campaign")[0]
    sandbox.app.world.pinned_budget_texts[("1010000007", first.id)] = text

    with pytest.raises(DataDripError) as raised:
        list(meta(http, sandbox).entities(YEN, "campaign", FetchNotes()))

    assert f"daily_budget = {text!r} for campaign {first.id}" in raised.value.message
    assert "not a whole number" in raised.value.message


def test_meta_settings_bad_time_and_attribution_are_refused() -> None:
    with pytest.raises(DataDripError, match="not a date and time"):
        account_day("2026-03-01", ZoneInfo("Asia/Tokyo"), "start_time", "campaign 1")
    with pytest.raises(DataDripError, match="not text"):
        from datadrip.platforms.meta.entities import parse_entity as parse_meta
        parse_meta({"id": "1", "objective": 5}, "campaign", "USD", ZoneInfo("UTC"))


# --- Google Ads ---------------------------------------------------------------------------------

def test_google_settings_campaigns_with_channel_budget_bidding_and_dates(
        http: httpx.Client, sandbox: Any, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    world = sandbox.app.world
    today = sandbox.app.state.clock.today_in(SEARCH_USD.timezone)

    campaigns = listed(google(http, google_settings, google_tokens, sleeps), SEARCH_USD, "campaign")

    assert set(campaigns) == {e.id for e in world.entities("2020000002", "campaign")}
    for entity in world.entities("2020000002", "campaign"):
        setup = world.setup(entity, today)
        settings = campaigns[entity.id].settings
        assert settings is not None
        assert settings.objective == "SEARCH"
        assert settings.daily_budget_micros == setup.daily_budget_micros
        assert settings.lifetime_budget_micros == setup.lifetime_budget_micros
        assert settings.starts_on == setup.start
        assert settings.ends_on == setup.end  # 2037-12-30, Google's "no end", is None
        assert settings.bid_strategy in ("MAXIMIZE_CONVERSIONS", "TARGET_CPA", "MANUAL_CPC")
    statuses = {(r.status, r.settings.effective_status) for r in campaigns.values()}  # type: ignore[union-attr]
    assert statuses == {("enabled", "ELIGIBLE"), ("paused", "PAUSED"), ("removed", "REMOVED")}
    custom = [r for r in campaigns.values() if r.settings.lifetime_budget_micros]  # type: ignore[union-attr]
    assert len(custom) == 1 and custom[0].settings.daily_budget_micros is None  # type: ignore[union-attr]


def test_google_settings_ad_groups_and_ads_name_their_parents(
        http: httpx.Client, sandbox: Any, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    connector, world = google(http, google_settings, google_tokens, sleeps), sandbox.app.world

    for level in ("adset", "ad"):
        records = listed(connector, SEARCH_USD, level)
        assert {(k, r.parent_id) for k, r in records.items()} == {
            (e.id, e.parent_id) for e in world.entities("2020000002", level)}
        assert all(r.settings and r.settings.effective_status for r in records.values())


@pytest.mark.parametrize("version", [22, 23])
def test_google_settings_dates_by_api_version(sandbox: Any, version: int) -> None:
    """v22 names the dates start_date/end_date, v23 start_date_time/end_date_time: each version
    refuses the other's names, and both read as the same account days."""
    world = sandbox.app.world
    account = world.account("2020000002")
    today = sandbox.app.state.clock.today_in(account.timezone)
    other = 23 if version == 22 else 22

    outcome = google_query.run(gaql.parse(entity_query("campaign", version)), world, account,
                               today, "2020000002", version)

    records = {r.external_id: r for r in (parse_entity(row, "campaign", "2020000002")
                                          for row in outcome.rows)}
    for entity in world.entities("2020000002", "campaign"):
        setup = world.setup(entity, today)
        assert records[entity.id].settings.starts_on == setup.start  # type: ignore[union-attr]
        assert records[entity.id].settings.ends_on == setup.end  # type: ignore[union-attr]
    named = ("startDateTime", "endDateTime") if version >= 23 else ("startDate", "endDate")
    assert all(set(named) <= set(row["campaign"]) for row in outcome.rows)
    with pytest.raises(GaqlError) as refused:
        google_query.run(gaql.parse(entity_query("campaign", other)), world, account, today,
                         "2020000002", version)
    assert refused.value.code == "UNRECOGNIZED_FIELD"


def test_google_settings_budget_that_is_not_a_number_is_refused(
        http: httpx.Client, sandbox: Any, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    first = sandbox.app.world.entities("2020000002", "campaign")[0]
    sandbox.app.world.pinned_budget_texts[("2020000002", first.id)] = "twenty"

    with pytest.raises(DataDripError) as raised:
        list(google(http, google_settings, google_tokens, sleeps).entities(
            SEARCH_USD, "campaign", FetchNotes()))

    assert "campaignBudget.amountMicros (not a whole number of micros: 'twenty')" in \
        raised.value.message


def test_google_settings_api_version_must_name_a_version(
        http: httpx.Client, google_settings: dict[str, Any], google_tokens: RefreshingTokens,
        sleeps: RecordedSleep) -> None:
    connector = google(http, google_settings, google_tokens, sleeps, api_version="latest")

    with pytest.raises(DataDripError, match="not a version such as v23"):
        list(connector.entities(SEARCH_USD, "campaign", FetchNotes()))


def test_meta_settings_sandbox_refuses_a_filter_it_does_not_know(http: httpx.Client,
                                                                  sandbox: Any) -> None:
    answer = http.get(f"{sandbox.base_url}/meta/graph/v25.0/act_1010000001/campaigns", params={
        "access_token": meta_token(sandbox), "filtering": json.dumps(
            [{"field": "effective_status", "operator": "IN", "value": ["GONE"]}])})

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 100


def test_google_settings_ads_carry_their_creatives_title_and_thumbnail(
        http: httpx.Client, sandbox: Any, google_settings: dict[str, Any],
        google_tokens: RefreshingTokens, sleeps: RecordedSleep) -> None:
    world = sandbox.app.world
    today = sandbox.app.state.clock.today_in(SEARCH_USD.timezone)

    ads = listed(google(http, google_settings, google_tokens, sleeps), SEARCH_USD, "ad")

    seen = set()
    for ad in world.entities("2020000002", "ad"):
        settings = ads[ad.id].settings
        assert settings is not None
        kind = creatives.ad_type(ad)
        seen.add((kind, creatives.pinned(ad)))
        if kind == creatives.IMAGE_AD:  # an image ad's title is its name; its image the thumbnail
            assert (settings.creative_title, settings.thumbnail_url) == (
                ad.name_on(today), creatives.image_url(ad))
        else:  # the pinned HEADLINE_1, else the first headline; an expanded text ad's part 1
            assert (settings.creative_title, settings.thumbnail_url) == (
                world.setup(ad, today).creative_title, None)
    assert seen == {(creatives.RESPONSIVE_SEARCH_AD, True), (creatives.RESPONSIVE_SEARCH_AD, False),
                    (creatives.EXPANDED_TEXT_AD, False), (creatives.IMAGE_AD, False)}


def test_google_settings_sandbox_serves_only_the_creative_fields_of_each_ads_type(sandbox: Any) -> None:
    world = sandbox.app.world
    account = world.account("2020000002")
    today = sandbox.app.state.clock.today_in(account.timezone)

    rows = google_query.run(gaql.parse(entity_query("ad", 23)), world, account, today,
                            "2020000002", 23).rows

    shapes = {row["adGroupAd"]["ad"]["id"]: set(row["adGroupAd"]["ad"]) - {"id", "name"}
              for row in rows}
    for ad in world.entities("2020000002", "ad"):
        assert shapes[ad.id] == {creatives.RESPONSIVE_SEARCH_AD: {"responsiveSearchAd"},
                                 creatives.EXPANDED_TEXT_AD: {"expandedTextAd"},
                                 creatives.IMAGE_AD: {"imageAd"}}[creatives.ad_type(ad)]
    pinned = next(row["adGroupAd"]["ad"]["responsiveSearchAd"]["headlines"] for row in rows
                  if creatives.pinned(next(a for a in world.entities("2020000002", "ad")
                                           if a.id == row["adGroupAd"]["ad"]["id"])))
    assert pinned[0].get("pinnedField") is None and pinned[1]["pinnedField"] == "HEADLINE_1"
    for unknown in ("ad_group_ad.ad.responsive_search_ad.descriptions",
                    "ad_group_ad.ad.image_ad.preview_url"):
        with pytest.raises(GaqlError) as refused:
            google_query.run(gaql.parse(f"SELECT {unknown} FROM ad_group_ad"), world, account,
                             today, "2020000002", 23)
        assert refused.value.code == "UNRECOGNIZED_FIELD"
    with pytest.raises(GaqlError) as refused:
        google_query.run(gaql.parse("SELECT ad_group_ad.ad.image_ad.image_url FROM ad_group"),
                         world, account, today, "2020000002", 23)
    assert refused.value.code == "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"


@pytest.mark.parametrize(("headlines", "problem"), [
    ("Summer sale", "not a list of text assets"),
    ([{"text": 5}], "not a text asset"),
    ([{"text": "Summer sale", "pinnedField": 1}], "not a text asset"),
    (["Summer sale"], "not a text asset"),
])
def test_google_settings_unreadable_headlines_are_refused(headlines: Any, problem: str) -> None:
    row = {"adGroupAd": {"status": "ENABLED", "ad": {"id": "77", "responsiveSearchAd": {
        "headlines": headlines}}}, "adGroup": {"id": "12"}}

    with pytest.raises(DataDripError) as raised:
        parse_entity(row, "ad", "2020000002")

    assert f"responsiveSearchAd.headlines ({problem}" in raised.value.message
    assert "customer 2020000002" in raised.value.message


def test_google_settings_an_ad_without_title_fields_keeps_its_name_or_none() -> None:
    named = {"adGroupAd": {"status": "ENABLED", "ad": {"id": "77", "name": "Banner 300x250"}},
             "adGroup": {"id": "12"}}
    bare = {"adGroupAd": {"status": "ENABLED", "ad": {"id": "78", "responsiveSearchAd": {
        "headlines": [{"text": ""}]}}}, "adGroup": {"id": "12"}}

    assert parse_entity(named, "ad", "1").settings.creative_title == "Banner 300x250"  # type: ignore[union-attr]
    assert parse_entity(bare, "ad", "1").settings.creative_title is None  # type: ignore[union-attr]
    assert parse_entity(bare, "ad", "1").name == "Ad 78"
