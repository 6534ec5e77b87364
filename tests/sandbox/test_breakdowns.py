"""The sandbox's breakdowns over HTTP: Meta's allowed combinations (others refused as Meta
refuses them), splits adding up exactly to the unbroken campaign rows, off-Meta actions only with
explicit windows under age/gender, no reach for queries starting over 13 months back; Google's
age, gender and geographic views and segments.device."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.meta_support import insights

DAY = {"since": "2026-11-10", "until": "2026-11-12"}  # the pinned sandbox's today is 2026-11-26
FIELDS = "campaign_id,spend,impressions,clicks,reach,actions,action_values"


def _sums(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[Decimal, int, int, str]]:
    found: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [Decimal(0), 0, 0, Decimal(0)])
    for row in rows:
        total = found[(row["campaign_id"], row["date_start"])]
        total[0] += Decimal(row["spend"])
        total[1] += int(row["impressions"])
        total[2] += int(row["clicks"])
        purchases = {a["action_type"]: a["value"] for a in row.get("actions", [])}
        total[3] += Decimal(purchases.get("omni_purchase", "0"))
    return {key: (value[0], value[1], value[2], str(value[3])) for key, value in found.items()}


@pytest.mark.parametrize("breakdowns", ["age", "gender", "country",
                                        "publisher_platform,platform_position", "device_platform",
                                        "publisher_platform,impression_device"])
def test_meta_breakdowns_add_up_exactly_to_the_campaign_rows(sandbox_http: httpx.Client,
                                                              breakdowns: str) -> None:
    common = {"level": "campaign", "fields": FIELDS, "time_range": DAY, "time_increment": "1",
              "limit": "500", "action_attribution_windows": ["1d_click", "7d_click", "1d_view"]}
    whole = insights(sandbox_http, **common)
    split = insights(sandbox_http, breakdowns=breakdowns, **common)

    assert whole.status_code == split.status_code == 200, split.text
    rows = split.json()["data"]
    assert all(all(row.get(name) for name in breakdowns.split(",")) for row in rows)
    assert _sums(rows) == _sums(whole.json()["data"])
    assert all(int(row["reach"]) >= 0 for row in rows)
    if breakdowns == "age":
        assert {row["age"] for row in rows} >= {"18-24", "65+", "Unknown"}


def test_meta_breakdowns_by_age_drop_pixel_purchases_without_explicit_windows(
        sandbox_http: httpx.Client) -> None:
    rows = insights(sandbox_http, level="campaign", fields=FIELDS, time_range=DAY,
                    time_increment="1", breakdowns="age", limit="500").json()["data"]
    assert rows and not any(a["action_type"] == "omni_purchase"
                            for row in rows for a in row.get("actions", []))


def test_meta_breakdowns_withhold_reach_for_queries_starting_over_13_months_back(
        sandbox_http: httpx.Client) -> None:
    old = {"since": "2025-10-20", "until": "2025-10-21"}
    rows = insights(sandbox_http, level="campaign", fields=FIELDS, time_range=old,
                    time_increment="1", breakdowns="gender").json()["data"]
    unbroken = insights(sandbox_http, level="campaign", fields=FIELDS, time_range=old,
                        time_increment="1").json()["data"]
    assert rows and all("reach" not in row for row in rows)
    assert all("reach" in row for row in unbroken)


@pytest.mark.parametrize("breakdowns", ["age,country", "impression_device", "gender,device_platform"])
def test_meta_breakdowns_refuse_combinations_meta_does_not_allow(sandbox_http: httpx.Client,
                                                                 breakdowns: str) -> None:
    response = insights(sandbox_http, level="campaign", time_range=DAY, breakdowns=breakdowns)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100 and error["type"] == "OAuthException"
    assert error["message"] == ("(#100) Current combination of data breakdown columns "
                                f"(action_type, {breakdowns.replace(',', ', ')}) is invalid ")


@pytest.mark.parametrize("breakdowns", ["age", "publisher_platform,impression_device"])
def test_meta_breakdowns_refuse_a_start_beyond_37_months(sandbox_http: httpx.Client,
                                                         breakdowns: str) -> None:
    """37 months before 2026-11-26 is 2023-10-26: a day earlier is refused as Meta refuses it."""
    kept = insights(sandbox_http, level="campaign", fields=FIELDS, breakdowns=breakdowns,
                    time_range={"since": "2023-10-26", "until": "2023-10-27"}, time_increment="1")
    refused = insights(sandbox_http, level="campaign", fields=FIELDS, breakdowns=breakdowns,
                       time_range={"since": "2023-10-25", "until": "2023-10-27"}, time_increment="1")

    assert kept.status_code == 200, kept.text
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == 3018
    assert "37 months" in refused.json()["error"]["message"]


TOKEN = {"Authorization": "Bearer ya29.sandbox-access-token"}


def _gaql(http: httpx.Client, query: str) -> httpx.Response:
    """One searchStream call on the sandbox's directly reachable USD customer."""
    return http.post("/google/ads/v26/customers/2020000002/googleAds:searchStream", headers=TOKEN,
                     json={"query": query})


def _all(http: httpx.Client, query: str) -> list[dict[str, Any]]:
    response = _gaql(http, query)
    assert response.status_code == 200, response.text
    return [row for batch in response.json() for row in batch.get("results", [])]


METRICS = "metrics.cost_micros, metrics.impressions, metrics.clicks"
WHERE = "WHERE segments.date BETWEEN '2026-11-10' AND '2026-11-12'"


def _by_campaign_day(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int, int]]:
    found: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        total = found[(row["campaign"]["id"], row["segments"]["date"])]
        total[0] += int(row["metrics"].get("costMicros", 0))
        total[1] += int(row["metrics"].get("impressions", 0))
        total[2] += int(row["metrics"].get("clicks", 0))
    return {key: (a, b, c) for key, (a, b, c) in found.items()}


def test_google_views_split_campaign_days_and_age_gender_skip_the_performance_max_campaign(
        sandbox_http: httpx.Client) -> None:
    campaigns = _by_campaign_day(_all(sandbox_http, f"SELECT campaign.id, segments.date, {METRICS} "
                                                    f"FROM campaign {WHERE}"))
    devices = _all(sandbox_http, f"SELECT campaign.id, segments.date, segments.device, {METRICS} "
                                 f"FROM campaign {WHERE}")
    countries = _all(sandbox_http, "SELECT campaign.id, segments.date, geographic_view."
                                   f"country_criterion_id, {METRICS} FROM geographic_view {WHERE}")
    ages = _all(sandbox_http, "SELECT campaign.id, segments.date, ad_group_criterion.age_range.type, "
                              f"{METRICS} FROM age_range_view {WHERE}")
    genders = _all(sandbox_http, "SELECT campaign.id, segments.date, ad_group_criterion.gender.type, "
                                 f"{METRICS} FROM gender_view {WHERE}")

    assert _by_campaign_day(devices) == campaigns == _by_campaign_day(countries)
    assert {row["segments"]["device"] for row in devices} >= {"MOBILE", "DESKTOP", "TABLET"}
    by_age, by_gender = _by_campaign_day(ages), _by_campaign_day(genders)
    assert by_age == by_gender and set(by_age) < set(campaigns)  # one campaign has no criteria
    assert all(by_age[key] == campaigns[key] for key in by_age)
    assert {row["adGroupCriterion"]["ageRange"]["type"] for row in ages} >= {
        "AGE_RANGE_18_24", "AGE_RANGE_65_UP", "UNDETERMINED"}


def test_google_geo_target_constants_name_the_countries(sandbox_http: httpx.Client) -> None:
    response = _gaql(sandbox_http, "SELECT geo_target_constant.id, geo_target_constant.country_code "
                                   "FROM geo_target_constant WHERE geo_target_constant.id IN (2356, 2840)")
    assert response.status_code == 200, response.text
    assert sorted((row["geoTargetConstant"]["id"], row["geoTargetConstant"]["countryCode"])
                  for batch in response.json() for row in batch["results"]) == [
        ("2356", "IN"), ("2840", "US")]


@pytest.mark.parametrize("view", ["age_range_view", "gender_view"])
def test_google_views_refuse_a_start_beyond_37_months(sandbox_http: httpx.Client, view: str) -> None:
    select = f"SELECT campaign.id, segments.date, {METRICS} FROM {view}"
    kept = _gaql(sandbox_http, f"{select} WHERE segments.date BETWEEN '2023-10-26' AND '2023-10-27'")
    refused = _gaql(sandbox_http, f"{select} WHERE segments.date BETWEEN '2023-10-25' AND '2023-10-27'")

    assert kept.status_code == 200, kept.text
    assert refused.status_code == 400
    assert "REQUESTED_DATE_GRANULARITY_NOT_SUPPORTED" in refused.text and "37 months" in refused.text


def test_google_views_refuse_metrics_by_view_without_days(sandbox_http: httpx.Client) -> None:
    response = _gaql(sandbox_http, f"SELECT ad_group_criterion.gender.type, {METRICS} FROM gender_view")
    assert response.status_code == 400
    assert "EXPECTED_FILTERS_ON_DATE_RANGE" in response.text


def test_google_views_refuse_fields_of_other_resources(sandbox_http: httpx.Client) -> None:
    response = _gaql(sandbox_http, "SELECT ad_group_criterion.gender.type, segments.date FROM "
                                   f"geographic_view {WHERE}")
    assert response.status_code == 400
    assert "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE" in response.text


def test_sandbox_breakdown_splits_are_exact_and_deterministic() -> None:
    from datadrip.sandbox.splits import split, weights

    shares = weights(7, "1", "2", dt.date(2026, 11, 10), ["a", "b", "c"])
    assert shares == weights(7, "1", "2", dt.date(2026, 11, 10), ["a", "b", "c"])
    assert shares != weights(8, "1", "2", dt.date(2026, 11, 10), ["a", "b", "c"])
    parts = split(1_234_567, shares, step=10_000)
    assert sum(parts) == 1_234_567 and sum(1 for part in parts if part % 10_000) == 1


def test_meta_impression_device_answers_nothing_without_the_opt_in_from_2026_08_03(
        sandbox: Any, sandbox_http: httpx.Client) -> None:
    def rows(breakdowns: str, days: dict[str, str] = DAY) -> list[dict[str, Any]]:
        response = insights(sandbox_http, level="campaign", fields=FIELDS, time_range=days,
                            time_increment="1", breakdowns=breakdowns, limit="500")
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    sandbox.app.state.extra["meta_impression_device_not_opted_in"] = {"1010000001"}
    assert rows("publisher_platform,impression_device") == []
    assert rows("device_platform")  # needs no opt-in
    sandbox.app.state.clock.advance(dt.date(2026, 8, 2) - dt.date(2026, 11, 26))
    july = {"since": "2026-07-20", "until": "2026-07-22"}
    assert rows("publisher_platform,impression_device", july)  # before the opt-in was needed
