"""Google Ads daily metrics: GAQL searchStreams per account, level and window, read as
EntityRecords and MetricRows with exact numbers (int64 strings → int, doubles → Decimal).

Per level and window: the conversions by conversion action first (a query segmented by
segments.conversion_action, which cannot share a query with cost, clicks or impressions), held
for the window, then the daily rows streamed with each row's actions joined on entity and day.
At the ad-set level Performance Max campaigns' asset groups follow the ad groups (`FROM
asset_group`); PMax has no ads."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, NoReturn

from datadrip.core.errors import DataDripError
from datadrip.platforms.base import (
    LEVELS,
    AccountRef,
    ActionCount,
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
_ASSET_GROUP = ("asset_group", ("assetGroup",), "Asset group")
_CHAIN = {"campaign": (_CAMPAIGN,), "adset": (_CAMPAIGN, _AD_GROUP), "ad": (_CAMPAIGN, _AD_GROUP, _AD)}
_PMAX_CHAIN = (_CAMPAIGN, _ASSET_GROUP)
METRIC_FIELDS = ("metrics.impressions", "metrics.clicks", "metrics.cost_micros", "metrics.conversions",
                 "metrics.conversions_value", "metrics.interactions", "metrics.all_conversions",
                 "metrics.all_conversions_value")
# Campaign rows also ask for the search impression shares (card §7): 0–1 doubles, for search
# campaigns; Google leaves them out (or sends 0) for the other channels, read as None.
SHARE_FIELDS = ("metrics.search_impression_share", "metrics.search_budget_lost_impression_share",
                "metrics.search_rank_lost_impression_share")
# Their JSON keys, and the MetricRow field each fills.
SHARE_KEYS = (("searchImpressionShare", "search_impression_share"),
              ("searchBudgetLostImpressionShare", "search_budget_lost_share"),
              ("searchRankLostImpressionShare", "search_rank_lost_share"))
# Asset groups report delivery and conversions only (no interactions, no all conversions).
ASSET_GROUP_FIELDS = METRIC_FIELDS[:5]
# The only metrics a conversion-action segment allows beside it.
ACTION_FIELDS = ("metrics.conversions", "metrics.conversions_value", "metrics.all_conversions",
                 "metrics.all_conversions_value")
# [google] action_counts: which number an action keeps (settings.py says why).
BY_INCLUSION, ALL_CONVERSIONS = "by_inclusion", "all_conversions"
_ACTION_NAME = re.compile(r"customers/\d+/conversionActions/(\d{1,19})")
_WHOLE = re.compile(r"-?\d{1,19}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _ids(chain: tuple[tuple[str, tuple[str, ...], str], ...], *, names: bool) -> list[str]:
    found = []
    for resource, _, _ in chain:
        # The ad's id and name live on the ad (ad_group_ad.ad.…); its status on ad_group_ad itself.
        owner = "ad_group_ad.ad" if resource == "ad_group_ad" else resource
        found += [f"{owner}.id", f"{owner}.name", f"{resource}.status"] if names else [f"{owner}.id"]
    return found


def _between(window: DateWindow) -> str:
    # Both bounds: segments.date in SELECT needs a finite range (EXPECTED_FILTERS_ON_DATE_RANGE).
    return f"segments.date BETWEEN '{window.since.isoformat()}' AND '{window.until.isoformat()}'"


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")


def metrics_query(level: str, window: DateWindow) -> str:
    """The GAQL for one level's daily rows over `window` (both ends included, account days)."""
    _check_level(level)
    chain = _CHAIN[level]
    shares = SHARE_FIELDS if level == "campaign" else ()
    select = ", ".join([*_ids(chain, names=True), "segments.date", *METRIC_FIELDS, *shares])
    return f"SELECT {select} FROM {chain[-1][0]} WHERE {_between(window)}"


def actions_query(level: str, window: DateWindow) -> str:
    """The GAQL for one level's conversions by conversion action and day over `window`: the
    level's id, the day, the action and conversion metrics only (a conversion-action segment
    fails beside cost, clicks or impressions)."""
    _check_level(level)
    chain = _CHAIN[level]
    select = ", ".join([*_ids(chain[-1:], names=False), "segments.date",
                        "segments.conversion_action", *ACTION_FIELDS])
    return f"SELECT {select} FROM {chain[-1][0]} WHERE {_between(window)}"


def asset_groups_query(window: DateWindow) -> str:
    """The GAQL for Performance Max asset groups' daily rows (the ad-set level of PMax)."""
    select = ", ".join([*_ids(_PMAX_CHAIN, names=True), "segments.date", *ASSET_GROUP_FIELDS])
    return f"SELECT {select} FROM asset_group WHERE {_between(window)}"


def daily_metrics(ads: AdsClient, account: AccountRef, window: DateWindow, level: str,
                  notes: FetchNotes, *, included: Callable[[], Mapping[str, bool]],
                  action_counts: str = BY_INCLUSION) -> Iterator[Record]:
    """Entity records and daily rows of one account at `level` over `window`, as they arrive.

    Each entity (and, at deeper levels, its ad group and campaign) comes once, before the first
    row naming it. Each row carries its conversion actions (`actions`, () when it has none):
    `included()` says which of the account's actions count in the Conversions column, and
    `action_counts` which number an action keeps. A cancelled account gives a warning in `notes`
    and no rows; a manager account is an error, since managers hold no metrics of their own."""
    query = metrics_query(level, window)  # a bad level fails here, before any request
    if action_counts not in (BY_INCLUSION, ALL_CONVERSIONS):
        raise ValueError(f"unknown action_counts {action_counts!r}")
    cid = customer_id(account.external_id)
    return _records(ads, account, cid, window, query, level, notes, included, action_counts)


def _records(ads: AdsClient, account: AccountRef, cid: str, window: DateWindow, query: str,
             level: str, notes: FetchNotes, included: Callable[[], Mapping[str, bool]],
             action_counts: str) -> Iterator[Record]:
    seen: set[tuple[str, str]] = set()
    try:
        actions = _actions(ads, account, cid, actions_query(level, window), level, notes,
                           included(), action_counts)
        rows = ads.search_stream(cid, query, login_customer_id=account.login_customer_id,
                                 notes=notes)
        yield from _stream(rows, cid, _CHAIN[level], level, seen, actions)
        if level == "adset":  # Performance Max: asset groups stand where ad groups would
            groups = ads.search_stream(cid, asset_groups_query(window),
                                       login_customer_id=account.login_customer_id, notes=notes)
            yield from _stream(groups, cid, _PMAX_CHAIN, level, seen, None)
        if actions:
            notes.warnings.append(
                f"Google Ads reported conversion actions of {len(actions)} {level}-days of "
                f"customer {cid} without a metrics row for them; they were not kept")
    except GoogleAdsApiError as exc:
        if NOT_ENABLED in exc.codes:
            _say_cancelled(account, cid, notes)
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


def _say_cancelled(account: AccountRef, cid: str, notes: FetchNotes) -> None:
    # Cancelled or not yet enabled: nothing to read, and no reason to fail the others. A sync
    # asks once per level and window chunk with the same notes: say it once.
    warning = (f"Google Ads account {cid} ({account.name}) is cancelled or not enabled; "
               "no metrics were read")
    if warning not in notes.warnings:
        notes.warnings.append(warning)


def _stream(rows: Iterator[dict[str, Any]], cid: str,
            chain: tuple[tuple[str, tuple[str, ...], str], ...], level: str,
            seen: set[tuple[str, str]],
            actions: dict[tuple[str, dt.date], list[ActionCount]] | None) -> Iterator[Record]:
    """The records of one query's rows; each row takes (and removes) its actions from `actions`
    (() when it has none; None: this query's rows have no actions read)."""
    for row in rows:
        reader = RowReader(row, cid)
        parent: str | None = None
        entity_id = ""
        for depth, (_, path, label) in enumerate(chain):
            entity_level = LEVELS[depth]
            entity_id = reader.entity_id(path)
            if (entity_level, entity_id) not in seen:
                seen.add((entity_level, entity_id))
                yield EntityRecord(entity_level, entity_id, reader.name(path, label, entity_id),
                                   parent_id=parent, status=reader.status(path))
            parent = entity_id
        metric = reader.metric_row(level, entity_id)
        if actions is not None:
            found = actions.pop((entity_id, metric.date), [])
            metric = dataclasses.replace(metric, actions=tuple(found))
        yield metric


def _actions(ads: AdsClient, account: AccountRef, cid: str, query: str, level: str,
             notes: FetchNotes, included: Mapping[str, bool],
             action_counts: str) -> dict[tuple[str, dt.date], list[ActionCount]]:
    """The window's conversions by action, keyed on (entity id, day): held for one chunk (at most
    [sync] chunk_days days), so the daily rows after it can stream.

    Which number an action keeps: with "by_inclusion", an action counted in the Conversions
    column keeps metrics.conversions and conversions_value (so those actions add up to the
    column), any other action its all_conversions; with "all_conversions", every action keeps
    all_conversions (the "All conv." column by action). Actions with nothing are left out."""
    found: dict[tuple[str, dt.date], list[ActionCount]] = {}
    path = _CHAIN[level][-1][1]
    for row in ads.search_stream(cid, query, login_customer_id=account.login_customer_id,
                                 notes=notes):
        reader = RowReader(row, cid)
        entity_id, day, action = reader.entity_id(path), reader.date(), reader.action()
        metrics = reader.metrics()
        if action_counts == BY_INCLUSION and included.get(action, False):
            count, value_key = reader.double(metrics, "conversions"), "conversionsValue"
        else:
            count, value_key = reader.double(metrics, "allConversions"), "allConversionsValue"
        value = reader.micros(metrics, value_key)
        if count or value:
            found.setdefault((entity_id, day), []).append(ActionCount(action, count, value))
    return found


class RowReader:
    """One searchStream row, read strictly: a value of the wrong type is an error naming it."""

    def __init__(self, row: dict[str, Any], cid: str) -> None:
        self._row = row
        self._cid = cid

    def metric_row(self, level: str, entity_id: str) -> MetricRow:
        metrics = self._object(("metrics",))
        # Asset-group rows have no interactions and no all conversions (not selectable there).
        full = "assetGroup" not in self._row
        share, budget, rank = self.shares(metrics) if level == "campaign" else (None, None, None)
        return MetricRow(search_impression_share=share, search_budget_lost_share=budget,
                         search_rank_lost_share=rank,level=level, entity_id=entity_id, date=self.date(),
                         spend_micros=self._int64(metrics, "costMicros"),
                         impressions=self._int64(metrics, "impressions"),
                         clicks=self._int64(metrics, "clicks"),
                         conversions=self.double(metrics, "conversions"),
                         conversion_value_micros=self.micros(metrics, "conversionsValue"),
                         reach=None,
                         interactions=self._int64(metrics, "interactions") if full else None,
                         all_conversions=self.double(metrics, "allConversions") if full else None,
                         all_conversion_value_micros=self.micros(metrics, "allConversionsValue")
                         if full else None)

    def metrics(self) -> dict[str, Any]:
        return self._object(("metrics",))

    def shares(self, metrics: dict[str, Any]) -> tuple[Decimal | None, ...]:
        """The search impression share and the shares lost to budget and to rank, exact, 0–1.
        A row without a share (absent or 0: a campaign not on search, a day it was not
        eligible) has none of the three; with one, an absent lost share is 0 (proto3 JSON
        leaves zeros out). A value outside 0–1 is an error."""
        values = []
        for key, _ in SHARE_KEYS:
            value = self.double(metrics, key)
            if value > 1 or value < 0:
                self._fail(f"metrics.{key}", value, "a share outside 0 to 1")
            values.append(value)
        if not values[0]:
            return None, None, None
        return tuple(values)

    def micros(self, metrics: dict[str, Any], key: str) -> int:
        """Currency units as a double → integer micros, half to even at the micro."""
        value = self.double(metrics, key)
        micros = int(value.scaleb(MICROS_PLACES).to_integral_value(rounding=ROUND_HALF_EVEN))
        if abs(micros) > INT64_MAX:
            self._fail(f"metrics.{key}", value, "too large")
        return micros

    def action(self) -> str:
        """The conversion action's id from segments.conversionAction (its resource name)."""
        value = self._object(("segments",)).get("conversionAction")
        found = _ACTION_NAME.fullmatch(value) if isinstance(value, str) else None
        if found is None:
            self._fail("segments.conversionAction", value, "not a conversion action")
        return str(int(found[1]))

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

    def date(self) -> dt.date:
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

    def double(self, metrics: dict[str, Any], key: str) -> Decimal:
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
