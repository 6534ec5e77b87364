"""Google Ads breakdown views for the sandbox: age_range_view and gender_view (ad-group criteria:
each ad group's day split over age ranges / genders), geographic_view (each campaign's day split
over countries and location types), `segments.device` on campaign, and the geo_target_constant
resource naming countries.

Splits come from sandbox.splits: deterministic from the seed, adding up exactly to the unsplit
row. The account's last running campaign stands for a Performance Max campaign: it has no ad-group
criteria, so age and gender rows add up to less than the campaign totals there, as at Google.
Every query FROM a breakdown view (or segmented by device) is recorded in
`state.extra["google_breakdown_queries"]` for tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from datadrip.sandbox.data import Account, Entity, Row, World
from datadrip.sandbox.splits import split, weights

AGE_RANGES = ("AGE_RANGE_18_24", "AGE_RANGE_25_34", "AGE_RANGE_35_44", "AGE_RANGE_45_54",
              "AGE_RANGE_55_64", "AGE_RANGE_65_UP", "UNDETERMINED")
GENDERS = ("MALE", "FEMALE", "UNDETERMINED")
DEVICES = ("MOBILE", "TABLET", "DESKTOP", "CONNECTED_TV", "OTHER")
LOCATION_TYPES = ("AREA_OF_INTEREST", "LOCATION_OF_PRESENCE")
# geoTargetConstants/{id} of the countries the sandbox serves (Google's country criterion ids).
COUNTRIES = {2356: ("IN", "India"), 2784: ("AE", "United Arab Emirates"),
             2826: ("GB", "United Kingdom"), 2840: ("US", "United States"), 2124: ("CA", "Canada"),
             2484: ("MX", "Mexico"), 2276: ("DE", "Germany"), 2250: ("FR", "France"),
             2528: ("NL", "Netherlands")}
BY_CURRENCY = {"INR": (2356, 2784, 2826), "USD": (2840, 2124, 2484), "EUR": (2276, 2250, 2528)}
VIEWS = ("age_range_view", "gender_view", "geographic_view")
KEY_FIELDS = {"age_range_view": "ad_group_criterion.age_range.type",
              "gender_view": "ad_group_criterion.gender.type",
              "geographic_view": "geographic_view.country_criterion_id"}
QUERIES = "google_breakdown_queries"


def performance_max(world: World, account: Account) -> str | None:
    """The id of the campaign standing for Performance Max (no ad-group criteria): the last one
    still running, when another one runs too."""
    running = [campaign for campaign in world.entities(account.id, "campaign") if campaign.end is None]
    return running[-1].id if len(running) > 1 else None


def _parts(world: World, account: Account, row: Row, values: tuple[Any, ...],
           salt: str) -> list[tuple[Any, dict[str, Any]]]:
    shares = weights(world.seed, account.id, f"{row.entity.id}:{salt}", row.date,
                     [str(value) for value in values])
    millionths = int(row.conversions.scaleb(6))
    columns = {
        "metrics.impressions": split(row.impressions, shares),
        "metrics.clicks": split(row.clicks, shares),
        "metrics.cost_micros": split(row.spend_micros, shares),
        "conversions_millionths": split(millionths, shares),
        "value_micros": split(row.conversion_value_micros, shares),
    }
    found = []
    for index, value in enumerate(values):
        part = {name: amounts[index] for name, amounts in columns.items()}
        if not (part["metrics.impressions"] or part["metrics.clicks"] or part["metrics.cost_micros"]):
            continue
        found.append((value, {
            "metrics.impressions": part["metrics.impressions"],
            "metrics.clicks": part["metrics.clicks"],
            "metrics.cost_micros": part["metrics.cost_micros"],
            "metrics.conversions": float(Decimal(part["conversions_millionths"]).scaleb(-6)),
            "metrics.conversions_value": part["value_micros"] / 1_000_000}))
    return found


def view_rows(resource: str, world: World, account: Account, since: dt.date, until: dt.date,
              today: dt.date) -> Iterator[tuple[Entity, Row, dict[str, Any]]]:
    """(the row's entity, its day's unsplit row, the view's own fields and metrics) of a view."""
    if resource in ("age_range_view", "gender_view"):
        excluded = performance_max(world, account)
        values = AGE_RANGES if resource == "age_range_view" else GENDERS
        for row in world.rows(account.id, "adset", since, until, today):
            if row.entity.campaign_id == excluded:
                continue
            for value, metrics in _parts(world, account, row, values, resource):
                yield row.entity, row, {KEY_FIELDS[resource]: value, **metrics}
    elif resource == "geographic_view":
        countries = BY_CURRENCY.get(account.currency, (2840, 2826, 2276))
        pairs = tuple((country, kind) for country in countries for kind in LOCATION_TYPES)
        for row in world.rows(account.id, "campaign", since, until, today):
            for (country, kind), metrics in _parts(world, account, row, pairs, resource):
                yield row.entity, row, {"geographic_view.country_criterion_id": country,
                                        "geographic_view.location_type": kind, **metrics}


def by_device(world: World, account: Account, row: Row) -> Iterator[dict[str, Any]]:
    """A campaign (or ad group, ad) day split over devices: `segments.device` and metrics."""
    for device, metrics in _parts(world, account, row, DEVICES, "device"):
        yield {"segments.device": device, **metrics}


def geo_constants() -> Iterator[dict[str, Any]]:
    for criterion, (code, name) in COUNTRIES.items():
        yield {"geo_target_constant.resource_name": f"geoTargetConstants/{criterion}",
               "geo_target_constant.id": criterion, "geo_target_constant.country_code": code,
               "geo_target_constant.name": name, "geo_target_constant.canonical_name": name,
               "geo_target_constant.target_type": "Country"}


def criterion_id(fields_of: dict[str, Any]) -> int:
    """The ad-group criterion id Google gives each age range and gender (503001…, 10, 11, 20)."""
    if "ad_group_criterion.age_range.type" in fields_of:
        age = fields_of["ad_group_criterion.age_range.type"]
        return 503999 if age == "UNDETERMINED" else 503001 + AGE_RANGES.index(age)
    return {"MALE": 10, "FEMALE": 11, "UNDETERMINED": 20}[fields_of["ad_group_criterion.gender.type"]]


def recorded(resource: str, select: tuple[str, ...]) -> bool:
    """Whether a query is one the tests look for (FROM a view, or segmented by device)."""
    return resource in VIEWS or "segments.device" in select
