"""The sandbox's Google Ads conversions by conversion action, its catalogue and Performance Max,
over HTTP as the reference card (§6, §9) says the real API answers them."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx

from sandbox.test_google_ads import VIA_MANAGER, all_rows, error_code, failure, search

BLOOM = "2020000003"  # Bloom Botanics Search (EUR, via the manager): the Performance Max story
WEEK = "WHERE segments.date BETWEEN '2026-11-16' AND '2026-11-22'"
BY_ACTION = ("SELECT campaign.id, segments.date, segments.conversion_action, metrics.conversions, "
             "metrics.conversions_value, metrics.all_conversions, metrics.all_conversions_value "
             f"FROM campaign {WEEK}")
DAILY = ("SELECT campaign.id, segments.date, metrics.conversions, metrics.conversions_value, "
         f"metrics.all_conversions, metrics.all_conversions_value, metrics.interactions, "
         f"metrics.clicks FROM campaign {WEEK}")
CATALOGUE = ("SELECT conversion_action.id, conversion_action.name, conversion_action.category, "
             "conversion_action.primary_for_goal, conversion_action.include_in_conversions_metric, "
             "conversion_action.status, conversion_action.type FROM conversion_action")


def exact(value: Any) -> Decimal:
    return Decimal(str(value))


def test_conversions_by_action_add_up_to_conversions_and_all_conversions(
        sandbox_http: httpx.Client) -> None:
    catalogue = {row["conversionAction"]["resourceName"]: row["conversionAction"]
                 for row in all_rows(sandbox_http, BLOOM, CATALOGUE, VIA_MANAGER)}
    sums: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)

    for row in all_rows(sandbox_http, BLOOM, BY_ACTION, VIA_MANAGER):
        action = catalogue[row["segments"]["conversionAction"]]
        metrics = row["metrics"]
        total = sums[(row["campaign"]["id"], row["segments"]["date"])]
        assert metrics.get("conversions", 0) == 0 or action.get("includeInConversionsMetric")
        for index, key in enumerate(("conversions", "conversionsValue", "allConversions",
                                     "allConversionsValue")):
            total[index] += exact(metrics.get(key, 0))

    daily = all_rows(sandbox_http, BLOOM, DAILY, VIA_MANAGER)
    assert daily and len(sums) == len(daily)
    for row in daily:
        metrics = row["metrics"]
        got = sums[(row["campaign"]["id"], row["segments"]["date"])]
        assert [round(v, 6) for v in got] == [round(exact(metrics.get(k, 0)), 6) for k in (
            "conversions", "conversionsValue", "allConversions", "allConversionsValue")]
        assert exact(metrics["allConversions"]) > exact(metrics.get("conversions", 0))  # add to carts
        assert int(metrics["interactions"]) >= int(metrics["clicks"])


def test_a_conversion_action_segment_beside_cost_is_rejected_as_google_does(
        sandbox_http: httpx.Client) -> None:
    mixed = ("SELECT campaign.id, segments.conversion_action, metrics.cost_micros, "
             f"metrics.conversions FROM campaign {WEEK}")

    error = failure(search(sandbox_http, BLOOM, mixed, VIA_MANAGER, stream=True), 400, stream=True)

    assert error_code(error) == {
        "queryError": "PROHIBITED_SEGMENT_WITH_METRIC_IN_SELECT_OR_WHERE_CLAUSE"}
    assert error["details"][0]["errors"][0]["message"] == (
        "Cannot select the following segments because at least one unsupported metric is found in "
        "SELECT or WHERE clause: 'segments.conversion_action'(unsupported metrics: 'cost_micros')")
    for metric in ("impressions", "clicks"):
        other = mixed.replace("metrics.cost_micros", f"metrics.{metric}")
        assert error_code(failure(search(sandbox_http, BLOOM, other, VIA_MANAGER), 400)) == {
            "queryError": "PROHIBITED_SEGMENT_WITH_METRIC_IN_SELECT_OR_WHERE_CLAUSE"}


def test_the_catalogue_names_four_actions_and_allows_only_all_conversions(
        sandbox_http: httpx.Client, sandbox: Any) -> None:
    rows = all_rows(sandbox_http, BLOOM, CATALOGUE, VIA_MANAGER)

    assert [(r["conversionAction"]["category"], r["conversionAction"].get("primaryForGoal"),
             r["conversionAction"].get("includeInConversionsMetric")) for r in rows] == [
        ("PURCHASE", True, True), ("ADD_TO_CART", False, False),
        ("SUBMIT_LEAD_FORM", True, True), ("PHONE_CALL_LEAD", True, True)]
    assert [r["conversionAction"]["id"] for r in rows] == [
        a.id for a in sandbox.app.world.conversion_actions(BLOOM)]
    totals = all_rows(sandbox_http, BLOOM, "SELECT conversion_action.id, metrics.all_conversions "
                                           f"FROM conversion_action {WEEK}", VIA_MANAGER)
    assert len(totals) == 4 and all(exact(r["metrics"]["allConversions"]) > 0 for r in totals)
    refused = failure(search(sandbox_http, BLOOM, "SELECT conversion_action.id, metrics.conversions "
                                                  "FROM conversion_action", VIA_MANAGER), 400)
    assert error_code(refused) == {"queryError": "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE"}


def test_performance_max_has_asset_groups_and_no_ad_groups_or_ads(
        sandbox_http: httpx.Client, sandbox: Any) -> None:
    campaigns = all_rows(sandbox_http, BLOOM, "SELECT campaign.id, campaign.advertising_channel_type, "
                                            "metrics.cost_micros FROM campaign "
                                            f"{WEEK}", VIA_MANAGER)
    pmax = [c for c in campaigns if c["campaign"]["advertisingChannelType"] == "PERFORMANCE_MAX"]
    assert len(pmax) == 1 and int(pmax[0]["metrics"]["costMicros"]) > 0
    pmax_id = pmax[0]["campaign"]["id"]

    groups = all_rows(sandbox_http, BLOOM, "SELECT campaign.id, asset_group.id, asset_group.name, "
                                         f"metrics.cost_micros FROM asset_group {WEEK}", VIA_MANAGER)
    ad_groups = all_rows(sandbox_http, BLOOM, f"SELECT campaign.id, ad_group.id, metrics.cost_micros "
                                            f"FROM ad_group {WEEK}", VIA_MANAGER)
    ads = all_rows(sandbox_http, BLOOM, "SELECT campaign.id, ad_group_ad.ad.id, metrics.cost_micros "
                                      f"FROM ad_group_ad {WEEK}", VIA_MANAGER)

    assert len(groups) == 2 and {g["campaign"]["id"] for g in groups} == {pmax_id}
    assert sum(int(g["metrics"]["costMicros"]) for g in groups) == int(pmax[0]["metrics"]["costMicros"])
    assert ad_groups and pmax_id not in {g["campaign"]["id"] for g in ad_groups}
    assert ads and pmax_id not in {a["campaign"]["id"] for a in ads}
    story = [s for s in sandbox.app.world.stories if s.kind == "pmax"]
    assert [(s.account_id, s.entity_id) for s in story] == [(BLOOM, pmax_id)]
    refused = failure(search(sandbox_http, BLOOM, "SELECT asset_group.id, metrics.interactions FROM "
                                                  "asset_group", VIA_MANAGER), 400)
    assert error_code(refused) == {"queryError": "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE"}
