"""Meta actions, Results, link clicks and the custom conversion catalogue as the connector reads
them: every action type kept as sent with its value, Results by indicator never summed, campaign
rows of mixed attribution filled from their ad sets, no status filter ever sent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest
from connector_support import RecordedSleep, watch

from datadrip.core.errors import DataDripError
from datadrip.platforms.base import (
    AccountRef,
    ActionCount,
    ConversionActionInfo,
    ConversionCatalogue,
    DateWindow,
    FetchNotes,
    MetricRow,
    SyncOptions,
)
from datadrip.platforms.meta.connector import MetaAds
from datadrip.platforms.meta.insights import campaign_actions_from_adsets, parse_row
from datadrip.sandbox.data import ARCHIVED_CAMPAIGN, World, results_accounts
from datadrip.sandbox.meta.actions import custom_conversions

SHOP = AccountRef("meta", "act_1010000005", "Kettle & Crumb Shop", "USD", "America/New_York")
LEADS = AccountRef("meta", "act_1010000006", "Harbour Dental Leads", "EUR", "Europe/Berlin")


def meta(http: httpx.Client, settings: dict[str, Any], sleeps: RecordedSleep, **overrides: Any) -> MetaAds:
    return MetaAds(**{"http": http, "graph_url": settings["graph_url"],
                      "api_version": settings["api_version"],
                      "access_token": settings["access_token"], "sleep": sleeps, **overrides})


@pytest.fixture
def results_world(sandbox: Any) -> Any:
    world = sandbox.app.world
    sandbox.app.world = World(world.seed, (*world.accounts, *results_accounts()), epoch=world.epoch)
    return sandbox


def row(**fields: Any) -> dict[str, Any]:
    """An ad-set row as Graph writes it, with `fields` changed (None removes one)."""
    base: dict[str, Any] = {
        "campaign_id": "1", "campaign_name": "Spring", "adset_id": "11", "adset_name": "Broad",
        "spend": "120.5", "impressions": "9000", "clicks": "300", "attribution_setting": "1d_click",
        "actions": [{"action_type": "link_click", "value": "270"},
                    {"action_type": "omni_purchase", "value": "4"},
                    {"action_type": "purchase", "value": "4"}],
        "action_values": [{"action_type": "omni_purchase", "value": "212.4"},
                          {"action_type": "purchase", "value": "212.4"},
                          {"action_type": "offsite_conversion.fb_pixel_add_to_cart", "value": "80"}],
        "results": [{"indicator": "actions:offsite_conversion.fb_pixel_purchase",
                     "values": [{"value": "4", "attribution_windows": ["default"]}]}],
        "date_start": "2026-11-20", "date_stop": "2026-11-20"}
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def test_meta_actions_every_type_kept_as_sent_with_its_value() -> None:
    metrics = parse_row(row(), "adset").metrics

    assert metrics.actions == (
        ActionCount("link_click", Decimal(270), None),
        ActionCount("omni_purchase", Decimal(4), 212_400_000),
        ActionCount("purchase", Decimal(4), 212_400_000),  # repeated as sent, never summed
        ActionCount("offsite_conversion.fb_pixel_add_to_cart", Decimal(0), 80_000_000))
    assert (metrics.conversions, metrics.conversion_value_micros) == (Decimal(4), 212_400_000)
    assert (metrics.link_clicks, metrics.attribution_setting) == (270, "1d_click")
    assert (metrics.result_indicator, metrics.results) == (
        "actions:offsite_conversion.fb_pixel_purchase", Decimal(4))


def test_meta_actions_a_row_without_actions_has_none_and_no_link_clicks() -> None:
    metrics = parse_row(row(actions=None, action_values=None, results=None), "adset").metrics

    assert (metrics.actions, metrics.link_clicks, metrics.results) == ((), 0, None)
    assert parse_row(row(actions=[{"action_type": "comment", "value": "3"}]),
                     "adset").metrics.link_clicks == 0


def test_meta_actions_a_mixed_campaign_row_without_actions_is_unknown_not_zero() -> None:
    item = row(adset_id=None, adset_name=None, attribution_setting="mixed", actions=None,
               action_values=None, results=None)

    metrics = parse_row(item, "campaign").metrics

    assert (metrics.actions, metrics.link_clicks, metrics.attribution_setting) == (None, None, "mixed")


@pytest.mark.parametrize(("results", "expected"), [
    ([{"indicator": "actions:lead"}], ("actions:lead", Decimal(0))),  # no values: none that day
    ([{"indicator": "reach", "values": [{"value": "1200"}]}], ("reach", Decimal(1200))),
    ([{"indicator": "actions:lead", "values": [
        {"value": "3", "attribution_windows": ["1d_click"]},
        {"value": "5", "attribution_windows": ["default"]}]}], ("actions:lead", Decimal(5))),
    ([], (None, None))])
def test_meta_results_take_the_default_value_of_the_indicator(results: Any, expected: Any) -> None:
    metrics = parse_row(row(results=results), "adset").metrics

    assert (metrics.result_indicator, metrics.results) == expected


def test_meta_results_of_several_indicators_are_never_added_up() -> None:
    parsed = parse_row(row(results=[
        {"indicator": "actions:lead", "values": [{"value": "3"}]},
        {"indicator": "actions:link_click", "values": [{"value": "40"}]}]), "adset")

    assert (parsed.metrics.result_indicator, parsed.metrics.results) == (None, None)
    assert parsed.several_results


@pytest.mark.parametrize(("fields", "message"), [
    ({"results": "13"}, r"results for adset 11 on 2026-11-20 that is not a list"),
    ({"results": [{"values": [{"value": "1"}]}]}, r"an item of results .* without an indicator"),
    ({"results": [{"indicator": "reach", "values": "1"}]}, r"an item of results .* list of values"),
    ({"results": [{"indicator": "reach", "values": [{"value": "x"}]}]}, r"results\[reach\] = 'x'"),
    ({"results": [{"indicator": "reach", "values": [{"value": "1", "attribution_windows": ["1d_click"]},
                                                   {"value": "2", "attribution_windows": ["7d_click"]}]}]},
     r"results\[reach\] .* without one 'default' value"),
    ({"results": [{"indicator": "reach"}, {"indicator": "reach"}]}, r"results\[reach\] twice"),
    ({"action_values": [{"action_type": "lead", "value": "-1"}]}, r"action_values\[lead\] = '-1'"),
    ({"actions": [{"action_type": "lead", "value": True}]}, r"actions\[lead\] = True .*: not a number"),
    ({"actions": [{"action_type": "lead", "value": "2"}], "action_values": [
        {"action_type": "lead", "value": 3.5}]}, r"action_values\[lead\] = 3.5 .*: not a number"),
    ({"actions": [{"action_type": "link_click", "value": "2.5"}]},
     r"actions\[link_click\] = '2.5' .*: not a whole number")])
def test_meta_malformed_actions_or_results_are_a_clear_error(fields: dict[str, Any],
                                                             message: str) -> None:
    with pytest.raises(DataDripError, match=r"^Meta sent " + message) as caught:
        parse_row(row(**fields), "adset")

    assert caught.value.hint is not None and "api_version" in caught.value.hint


def test_meta_mixed_campaign_rows_get_their_ad_sets_actions_type_by_type() -> None:
    campaign = {"campaign_id": "1", "attribution_setting": "mixed", "date_start": "2026-11-20",
                "date_stop": "2026-11-20", "spend": "200"}
    other = {**campaign, "campaign_id": "2", "attribution_setting": "7d_click_1d_view",
             "actions": [{"action_type": "lead", "value": "1"}]}
    adsets = [row(), row(adset_id="12", actions=[{"action_type": "link_click", "value": "30"},
                                                 {"action_type": "lead", "value": "2"}],
                         action_values=None,
                         results=[{"indicator": "actions:lead", "values": [{"value": "2"}]}]),
              row(campaign_id="2", adset_id="21"), row(date_start="2026-11-21", date_stop="2026-11-21")]
    asked: list[int] = []

    def adset_rows() -> list[dict[str, Any]]:
        asked.append(1)
        return adsets

    rows = list(campaign_actions_from_adsets([campaign, other], adset_rows))

    assert rows[0] == other and asked == [1]  # rows with actions pass straight on
    filled = parse_row(rows[1], "campaign").metrics
    assert filled.actions == (ActionCount("link_click", Decimal(300), None),
                              ActionCount("omni_purchase", Decimal(4), 212_400_000),
                              ActionCount("purchase", Decimal(4), 212_400_000),
                              ActionCount("lead", Decimal(2), None),
                              ActionCount("offsite_conversion.fb_pixel_add_to_cart", Decimal(0),
                                          80_000_000))
    assert (filled.link_clicks, filled.attribution_setting) == (300, "mixed")
    assert (filled.result_indicator, filled.results) == (None, None)  # purchases and leads differ
    assert list(campaign_actions_from_adsets([other], adset_rows)) == [other] and asked == [1]


def test_meta_connector_never_sends_a_status_filter_and_keeps_the_archived_campaign(
        results_world: Any, http: httpx.Client, meta_settings: dict[str, Any],
        sleeps: RecordedSleep) -> None:
    sandbox = results_world
    world = sandbox.app.world
    today = sandbox.app.state.clock.today_in(SHOP.timezone)
    window = DateWindow(today - dt.timedelta(days=13), today)
    archived = world.entities(SHOP.external_id, "campaign")[ARCHIVED_CAMPAIGN]
    sent = watch(http)

    notes = FetchNotes()
    rows = [r for r in meta(http, meta_settings, sleeps).daily_metrics(
        SHOP, window, "campaign", SyncOptions(), notes) if isinstance(r, MetricRow)]

    assert all("filtering" not in r.url.params for r in sent)
    assert [r.url.path.rsplit("/", 1)[-1] for r in sent] == ["insights", "insights"]  # + ad sets
    assert [r.url.params["level"] for r in sent] == ["campaign", "adset"]
    spend = sum(r.spend_micros for r in rows if r.entity_id == archived.id)
    assert spend > 0 and spend == sum(w.spend_micros for w in world.rows(
        SHOP.external_id, "campaign", window.since, window.until, today) if w.entity.id == archived.id)
    assert notes.attribution == "mixed" and notes.warnings == []
    # What any filter would have done: Meta's default status filtering drops the archived campaign.
    filtered = http.get(f"{meta_settings['graph_url']}/{meta_settings['api_version']}/"
                        f"{SHOP.external_id}/insights", params={
                            "access_token": meta_settings["access_token"], "level": "campaign",
                            "fields": "campaign_id,spend", "time_increment": "1", "limit": "500",
                            "filtering": '[{"field":"campaign.id","operator":"NOT_IN","value":["0"]}]'})
    assert filtered.status_code == 200
    kept = {r["campaign_id"] for r in filtered.json()["data"]}
    assert kept and archived.id not in kept


def test_meta_catalogue_lists_the_custom_conversions_page_by_page(
        results_world: Any, http: httpx.Client, meta_settings: dict[str, Any],
        sleeps: RecordedSleep) -> None:
    connector = meta(http, meta_settings, sleeps, page_limit=1)
    sent = watch(http)
    notes = FetchNotes()

    found = connector.conversion_actions(SHOP, notes)

    assert isinstance(connector, ConversionCatalogue)
    assert found == [ConversionActionInfo(f"offsite_conversion.custom.{item['id']}", str(item["name"]),
                                          "custom", str(item["custom_event_type"]),
                                          status="archived" if item["is_archived"] else "active")
                     for item in custom_conversions(results_world.app.world.account("1010000005"))]
    assert len(found) == 2 and len(sent) == 2 and notes.requests == 2
    assert sent[0].url.params["fields"] == "id,name,custom_event_type,is_archived"
    assert connector.conversion_actions(LEADS, FetchNotes()) == []


def test_meta_catalogue_refuses_a_custom_conversion_without_an_id(
        results_world: Any, http: httpx.Client, meta_settings: dict[str, Any],
        sleeps: RecordedSleep) -> None:
    def strip_ids(response: httpx.Response) -> None:
        response.read()
        if response.request.url.path.endswith("/customconversions"):
            body = response.json()
            for item in body["data"]:
                item.pop("id")
            response._content = httpx.Response(200, json=body).content

    http.event_hooks["response"].append(strip_ids)

    with pytest.raises(DataDripError, match="custom conversion of act_1010000005 without a numeric id"):
        meta(http, meta_settings, sleeps).conversion_actions(SHOP, FetchNotes())
