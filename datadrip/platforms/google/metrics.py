"""Google Ads daily metrics: one GAQL searchStream per account, level and window, read as
EntityRecords and MetricRows with exact numbers (int64 strings → int, doubles → Decimal)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, NoReturn

from datadrip.core.errors import DataDripError
from datadrip.platforms.base import (
    LEVELS,
    AccountRef,
    DateWindow,
    EntityRecord,
    FetchNotes,
    MetricRow,
    Record,
)
from datadrip.platforms.google.ads import NOT_ENABLED, AdsClient, GoogleAdsApiError, customer_id

FOR_MANAGER = "queryError.REQUESTED_METRICS_FOR_MANAGER"
OLD_DATES = "dateRangeError.REQUESTED_DATE_GRANULARITY_NOT_SUPPORTED"
MICROS_PLACES = 6
INT64_MAX = 2**63 - 1

# Per level: (GAQL resource, where its id and name sit in a JSON row, the label of an unnamed one),
# parents first: a row names its campaign, then its ad group, then its ad.
_CAMPAIGN = ("campaign", ("campaign",), "Campaign")
_AD_GROUP = ("ad_group", ("adGroup",), "Ad group")
_AD = ("ad_group_ad", ("adGroupAd", "ad"), "Ad")
_CHAIN = {"campaign": (_CAMPAIGN,), "adset": (_CAMPAIGN, _AD_GROUP), "ad": (_CAMPAIGN, _AD_GROUP, _AD)}
METRIC_FIELDS = ("metrics.impressions", "metrics.clicks", "metrics.cost_micros", "metrics.conversions",
                 "metrics.conversions_value")
_WHOLE = re.compile(r"-?\d{1,19}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def metrics_query(level: str, window: DateWindow) -> str:
    """The GAQL for one level's daily rows over `window` (both ends included, account days)."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
    chain = _CHAIN[level]
    names = []
    for resource, _, _ in chain:
        # The ad's id and name live on the ad (ad_group_ad.ad.…); its status on ad_group_ad itself.
        owner = "ad_group_ad.ad" if resource == "ad_group_ad" else resource
        names += [f"{owner}.id", f"{owner}.name", f"{resource}.status"]
    select = ", ".join([*names, "segments.date", *METRIC_FIELDS])
    # Both bounds: segments.date in SELECT needs a finite range (EXPECTED_FILTERS_ON_DATE_RANGE).
    return (f"SELECT {select} FROM {chain[-1][0]} WHERE segments.date BETWEEN "
            f"'{window.since.isoformat()}' AND '{window.until.isoformat()}'")


def daily_metrics(ads: AdsClient, account: AccountRef, window: DateWindow, level: str,
                  notes: FetchNotes) -> Iterator[Record]:
    """Entity records and daily rows of one account at `level` over `window`, as they arrive.

    Each entity (and, at deeper levels, its ad group and campaign) comes once, before the first
    row naming it. A cancelled account gives a warning in `notes` and no rows; a manager account
    is an error, since managers hold no metrics of their own."""
    query = metrics_query(level, window)  # a bad level fails here, before any request
    cid = customer_id(account.external_id)
    return _records(ads, account, cid, query, level, notes)


def _records(ads: AdsClient, account: AccountRef, cid: str, query: str, level: str,
             notes: FetchNotes) -> Iterator[Record]:
    seen: set[tuple[str, str]] = set()
    rows = ads.search_stream(cid, query, login_customer_id=account.login_customer_id, notes=notes)
    try:
        for row in rows:
            reader = _Row(row, cid)
            parent: str | None = None
            entity_id = ""
            for depth, (_, path, label) in enumerate(_CHAIN[level]):
                entity_level = LEVELS[depth]
                entity_id = reader.entity_id(path)
                if (entity_level, entity_id) not in seen:
                    seen.add((entity_level, entity_id))
                    yield EntityRecord(entity_level, entity_id, reader.name(path, label, entity_id),
                                       parent_id=parent, status=reader.status(path))
                parent = entity_id
            yield reader.metric_row(level, entity_id)
    except GoogleAdsApiError as exc:
        if NOT_ENABLED in exc.codes:
            # Cancelled or not yet enabled: nothing to read, and no reason to fail the others. A
            # sync asks once per level and window chunk with the same notes: say it once.
            warning = (f"Google Ads account {cid} ({account.name}) is cancelled or not enabled; "
                       "no metrics were read")
            if warning not in notes.warnings:
                notes.warnings.append(warning)
            return
        if FOR_MANAGER in exc.codes:
            raise GoogleAdsApiError(f"Google Ads account {cid} ({account.name}) is a manager "
                                    "account: managers hold no metrics of their own",
                                    status=exc.status, codes=exc.codes,
                                    hint="Sync the client accounts under it instead; 'datadrip "
                                         "account list' shows them.") from None
        if OLD_DATES in exc.codes and exc.hint is None:
            raise GoogleAdsApiError(exc.message, status=exc.status, codes=exc.codes,
                                    hint="Google keeps daily data for 37 months; sync a later "
                                         "window.") from None
        raise


class _Row:
    """One searchStream row, read strictly: a value of the wrong type is an error naming it."""

    def __init__(self, row: dict[str, Any], cid: str) -> None:
        self._row = row
        self._cid = cid

    def metric_row(self, level: str, entity_id: str) -> MetricRow:
        metrics = self._object(("metrics",))
        value = self._double(metrics, "conversionsValue")
        # Currency units as a double → integer micros, half to even at the micro.
        micros = int(value.scaleb(MICROS_PLACES).to_integral_value(rounding=ROUND_HALF_EVEN))
        if abs(micros) > INT64_MAX:
            self._fail("metrics.conversionsValue", value, "too large")
        return MetricRow(level=level, entity_id=entity_id, date=self._date(),
                         spend_micros=self._int64(metrics, "costMicros"),
                         impressions=self._int64(metrics, "impressions"),
                         clicks=self._int64(metrics, "clicks"),
                         conversions=self._double(metrics, "conversions"),
                         conversion_value_micros=micros, reach=None)

    def entity_id(self, path: tuple[str, ...]) -> str:
        value = self._object(path).get("id")
        if not (isinstance(value, str) and _WHOLE.fullmatch(value)) and \
                not (isinstance(value, int) and not isinstance(value, bool)):
            self._fail(".".join((*path, "id")), value, "not an id")
        return str(int(value))

    def name(self, path: tuple[str, ...], label: str, entity_id: str) -> str:
        value = self._object(path).get("name")
        # proto3 JSON leaves empty strings out, and Google names only some ad types (search
        # ads have no name): the id then stands in.
        return value if isinstance(value, str) and value.strip() else f"{label} {entity_id}"

    def status(self, path: tuple[str, ...]) -> str:
        # The ad's status is on ad_group_ad, not on the ad inside it.
        holder = self._object(path[:1])
        value = holder.get("status")
        return value.lower() if isinstance(value, str) else ""

    def _date(self) -> dt.date:
        value = self._object(("segments",)).get("date")
        if isinstance(value, str) and _DATE.fullmatch(value):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        self._fail("segments.date", value, "not a date")

    def _object(self, path: tuple[str, ...]) -> dict[str, Any]:
        found: Any = self._row
        for key in path:
            found = found.get(key) if isinstance(found, dict) else None
        if not isinstance(found, dict):
            self._fail(".".join(path), found, "missing")
        return found

    def _int64(self, metrics: dict[str, Any], key: str) -> int:
        value = metrics.get(key)
        if value is None:  # proto3 JSON may leave a zero out
            return 0
        if isinstance(value, str) and _WHOLE.fullmatch(value):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):  # a JSON number is valid too
            return value
        self._fail(f"metrics.{key}", value, "not a whole number")

    def _double(self, metrics: dict[str, Any], key: str) -> Decimal:
        value = metrics.get(key)
        if value is None:
            return Decimal(0)
        number: Decimal | None = None
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, int) and not isinstance(value, bool):
            number = Decimal(value)
        elif isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", value):
            number = Decimal(value)  # proto3 JSON allows a double as a string
        if number is None or not number.is_finite():
            self._fail(f"metrics.{key}", value, "not a number")
        return number

    def _fail(self, name: str, value: Any, problem: str) -> NoReturn:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise DataDripError(f"Google Ads sent an unreadable {name} ({problem}: {shown}) in a row "
                            f"of customer {self._cid}",
                            hint="Check [google] api_url and api_version; if they are right, "
                                 "try again later.")
