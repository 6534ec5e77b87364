"""Google Ads campaigns' daily numbers broken down by age, gender, country and device.

- age: `FROM age_range_view` (ad_group_criterion.age_range.type), gender: `FROM gender_view`
  (ad_group_criterion.gender.type). Both are ad-group criteria, summed here to the campaign per
  day; Performance Max campaigns have no ad groups, so they have no rows and these sums fall
  below the campaign totals.
- country: `FROM geographic_view` (country_criterion_id, its rows per location type summed), the
  ids named by their country codes through `FROM geo_target_constant`; an id Google does not
  name stays as its number.
- device: `segments.device` on `FROM campaign` (MOBILE, TABLET, DESKTOP, CONNECTED_TV, OTHER).
- placement: Google has no equivalent: not synced (a warning says so once per run).

Numbers are read by metrics.py's row reader: cost_micros exact, conversions exact. Reach is not
given by any of these views: None.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from datadrip.core.errors import DataDripError
from datadrip.core.periods import months_back
from datadrip.platforms.base import AccountRef, BreakdownRow, DateWindow, FetchNotes
from datadrip.platforms.google.ads import NOT_ENABLED, AdsClient, GoogleAdsApiError, customer_id
from datadrip.platforms.google.metrics import RowReader

# Our dimension → (FROM resource, the value's field, its path in a JSON row).
VIEWS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "age": ("age_range_view", "ad_group_criterion.age_range.type",
            ("adGroupCriterion", "ageRange", "type")),
    "gender": ("gender_view", "ad_group_criterion.gender.type",
               ("adGroupCriterion", "gender", "type")),
    "country": ("geographic_view", "geographic_view.country_criterion_id",
                ("geographicView", "countryCriterionId")),
    "device": ("campaign", "segments.device", ("segments", "device")),
}
UNSUPPORTED = ("placement",)
METRICS = ("metrics.impressions", "metrics.clicks", "metrics.cost_micros", "metrics.conversions",
           "metrics.conversions_value")
RETENTION_MONTHS = 37


def breakdown_limit(dimension: str, today: dt.date) -> dt.date | None:
    """The first day Google still answers (its daily data: 37 months)."""
    return months_back(today, RETENTION_MONTHS)


def breakdown_query(dimension: str, window: DateWindow) -> str:
    resource, field, _ = VIEWS[dimension]
    select = ", ".join(["campaign.id", "segments.date", field, *METRICS])
    return (f"SELECT {select} FROM {resource} WHERE segments.date BETWEEN "
            f"'{window.since.isoformat()}' AND '{window.until.isoformat()}'")


def breakdown_metrics(ads: AdsClient, account: AccountRef, window: DateWindow, dimension: str,
                      notes: FetchNotes) -> Iterator[BreakdownRow]:
    """BreakdownRows of `account`'s campaigns over `window` by `dimension`, one per campaign,
    day and value (ad-group rows and location types summed)."""
    if dimension in UNSUPPORTED:
        warning = f"Google Ads has no {dimension} breakdown; not synced for its accounts"
        if warning not in notes.warnings:
            notes.warnings.append(warning)
        return iter(())
    if dimension not in VIEWS:
        raise DataDripError(f"unknown breakdown dimension {dimension!r}; use one of "
                            f"{', '.join((*VIEWS, *UNSUPPORTED))}")
    return _rows(ads, account, window, dimension, notes)


def _rows(ads: AdsClient, account: AccountRef, window: DateWindow, dimension: str,
          notes: FetchNotes) -> Iterator[BreakdownRow]:
    cid = customer_id(account.external_id)
    _, field, path = VIEWS[dimension]
    sums: dict[tuple[str, dt.date, str], list[Any]] = {}
    try:
        for item in ads.search_stream(cid, breakdown_query(dimension, window),
                                      login_customer_id=account.login_customer_id, notes=notes):
            reader = RowReader(item, cid)
            campaign = reader.entity_id(("campaign",))
            numbers = reader.metric_row("campaign", campaign)
            value = _value(item, path, field, cid)
            key = (campaign, numbers.date, value)
            total = sums.setdefault(key, [0, 0, 0, Decimal(0), 0])
            for index, number in enumerate((numbers.spend_micros, numbers.impressions,
                                            numbers.clicks, numbers.conversions,
                                            numbers.conversion_value_micros)):
                total[index] += number
    except GoogleAdsApiError as exc:
        if NOT_ENABLED in exc.codes:  # the daily sync already warned of it
            return
        raise
    names = _country_codes(ads, account, cid, {value for _, _, value in sums}, notes) \
        if dimension == "country" else {}
    for (campaign, day, value), (spend, impressions, clicks, conversions, worth) in sums.items():
        if not window.since <= day <= window.until:
            continue
        yield BreakdownRow(entity_id=campaign, date=day, dimension=dimension,
                           value=names.get(value, value), spend_micros=spend,
                           impressions=impressions, clicks=clicks, conversions=conversions,
                           conversion_value_micros=worth, reach=None)


def _value(item: dict[str, Any], path: tuple[str, ...], field: str, cid: str) -> str:
    found: Any = item
    for key in path:
        found = found.get(key) if isinstance(found, dict) else None
    if isinstance(found, int) and not isinstance(found, bool):
        found = str(found)
    if not isinstance(found, str) or not found:
        shown = repr(found)[:40]
        raise DataDripError(f"Google Ads sent an unreadable {field} ({shown}) in a row of "
                            f"customer {cid}",
                            hint="Check [google] api_url and api_version; if they are right, "
                                 "try again later.")
    return found


def _country_codes(ads: AdsClient, account: AccountRef, cid: str, ids: set[str],
                   notes: FetchNotes) -> dict[str, str]:
    """Country criterion ids → ISO codes ("2356" → "IN"), from geo_target_constant."""
    wanted = sorted(value for value in ids if value.isdigit())
    if not wanted:
        return {}
    query = ("SELECT geo_target_constant.id, geo_target_constant.country_code FROM "
             f"geo_target_constant WHERE geo_target_constant.id IN ({', '.join(wanted)})")
    found: dict[str, str] = {}
    for item in ads.search_stream(cid, query, login_customer_id=account.login_customer_id,
                                  notes=notes):
        constant = item.get("geoTargetConstant")
        if not isinstance(constant, dict):
            continue
        code, number = constant.get("countryCode"), constant.get("id")
        if isinstance(code, str) and code and number is not None:
            found[str(number)] = code
    return found
