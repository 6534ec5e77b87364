"""Meta campaign insights broken down by age, gender, country, placement or device: one request
per dimension (reach is not additive, so age and gender are never asked together and summed),
daily, at campaign level.

- age, gender: `breakdowns=age` / `gender`, attribution windows listed explicitly
  (ATTRIBUTION_WINDOWS): with `default` Meta leaves off-Meta (pixel, app) actions out of these.
- country: `country`; placement: `publisher_platform,platform_position` (value
  "instagram/feed").
- device, as `[meta] device_breakdown` says: `device_platform` (the default; valid at Meta,
  though in none of its documented combinations; values mobile_app, mobile_web, desktop), or
  `publisher_platform,impression_device` (documented; from 2026-08-03 it needs an Ads Manager
  opt-in on accounts without a sales representative). The latter's rows are summed over
  publisher_platform per campaign, day and device ("iphone", "desktop", …), and reach is not
  asked: it is not additive across platforms, so it stays unknown.
- Meta keeps breakdowns RETENTION_MONTHS back; a query starting more than REACH_MONTHS back gets no
  reach (since 2025-06-10), so reach is not asked there and stays unknown.

Conversions are read exactly as the daily rows' are (insights' action readers).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

from datadrip.core.errors import ConfigError, DataDripError
from datadrip.core.periods import months_back
from datadrip.platforms.base import AccountRef, BreakdownRow, DateWindow, FetchNotes, SyncOptions
from datadrip.platforms.meta.graph import GraphClient, MetaReduceDataError
from datadrip.platforms.meta.insights import (
    BAD_DATA_HINT,
    INSIGHTS_PAGE_LIMIT,
    SYNC_MAX_DAYS,
    row_conversions,
    row_day,
    to_count,
    to_micros,
)
from datadrip.platforms.meta.report_runs import report_rows, time_range

# Our dimension → Meta's breakdowns (device: as [meta] device_breakdown says, DEVICE_KEYS).
META_BREAKDOWNS = {"age": ("age",), "gender": ("gender",), "country": ("country",),
                   "placement": ("publisher_platform", "platform_position"),
                   "device": ("device_platform",)}
DEVICE_PLATFORM = "device_platform"
DEVICE_KEYS = {DEVICE_PLATFORM: ("device_platform",),
               "publisher_platform,impression_device": ("publisher_platform", "impression_device")}
ATTRIBUTION_WINDOWS = ("1d_click", "7d_click", "1d_view")
EXPLICIT_WINDOWS_FOR = ("age", "gender")
RETENTION_MONTHS = 37
REACH_MONTHS = 13
N = TypeVar("N", int, Decimal)


def breakdown_limit(dimension: str, today: dt.date) -> dt.date:
    """The first day Meta still answers breakdowns for."""
    _dimension(dimension)
    return months_back(today, RETENTION_MONTHS)


def reach_from(today: dt.date) -> dt.date:
    """The first day a breakdown query may start on and still get reach."""
    return months_back(today, REACH_MONTHS)


def device_keys(setting: str) -> tuple[str, ...]:
    """Meta's breakdowns for the device dimension, from `[meta] device_breakdown`."""
    keys = DEVICE_KEYS.get(setting)
    if keys is None:
        raise ConfigError(f"[meta] device_breakdown {setting!r} is not one of "
                          f"{', '.join(DEVICE_KEYS)}")
    return keys


def summed_over_platforms(keys: tuple[str, ...]) -> bool:
    """Whether rows by `keys` are summed over publisher_platform into one line per last key."""
    return len(keys) == 2 and keys[0] == "publisher_platform" and keys[1] == "impression_device"


def breakdown_params(window: DateWindow, dimension: str, today: dt.date,
                     page_limit: int, device: tuple[str, ...] = DEVICE_KEYS[DEVICE_PLATFORM]
                     ) -> dict[str, str]:
    """The parameters of `act_…/insights` for campaign rows of `window` broken down by
    `dimension` (`device`: Meta's breakdowns for the device dimension)."""
    keys = _dimension(dimension, device)
    fields = ["campaign_id", "campaign_name", "spend", "impressions", "clicks"]
    if window.since >= reach_from(today) and not summed_over_platforms(keys):
        fields.append("reach")
    fields += ["actions", "action_values", "date_start", "date_stop"]
    params = {"level": "campaign", "fields": ",".join(fields), "time_range": time_range(window),
              "time_increment": "1", "breakdowns": ",".join(keys),
              "limit": str(page_limit)}
    if dimension in EXPLICIT_WINDOWS_FOR:
        params["action_attribution_windows"] = json.dumps(list(ATTRIBUTION_WINDOWS),
                                                          separators=(",", ":"))
    return params


def breakdown_metrics(graph: GraphClient, account: AccountRef, window: DateWindow, dimension: str,
                      options: SyncOptions, notes: FetchNotes, *, today: dt.date,
                      page_limit: int = INSIGHTS_PAGE_LIMIT,
                      device: tuple[str, ...] = DEVICE_KEYS[DEVICE_PLATFORM]
                      ) -> Iterator[BreakdownRow]:
    """BreakdownRows of `account`'s campaigns over `window` by `dimension`. A window that starts
    before reach_from(today) is asked in two parts: the older one without reach (unknown there,
    and a warning says so), the rest with it. `device`: Meta's breakdowns for the device
    dimension (DEVICE_KEYS)."""
    keys = _dimension(dimension, device)
    first = reach_from(today)
    parts = [window]
    if window.since < first:
        notes_warning = (f"Meta gives no reach in breakdowns starting more than {REACH_MONTHS} "
                         f"months back (before {first}): reach by {dimension} is left unknown "
                         "there")
        if notes_warning not in notes.warnings:
            notes.warnings.append(notes_warning)
        if window.until >= first:
            parts = [DateWindow(window.since, first - dt.timedelta(days=1)),
                     DateWindow(first, window.until)]
    for part in parts:
        rows = _part(graph, account, part, dimension, keys, options, notes, today, page_limit)
        if not summed_over_platforms(keys):
            yield from rows
            continue
        summed = list(_summed(rows))
        if not summed:
            notes.warnings.append(
                f"Meta answered no {','.join(keys)} rows for {account.external_id} from "
                f"{part.since} to {part.until}: if its campaigns ran then, the account needs the "
                "Ads Manager opt-in for impression_device (since 2026-08-03, for accounts without "
                "a sales representative), or set [meta] device_breakdown = \"device_platform\"")
        yield from summed


def _part(graph: GraphClient, account: AccountRef, window: DateWindow, dimension: str,
          keys: tuple[str, ...], options: SyncOptions, notes: FetchNotes, today: dt.date,
          page_limit: int) -> Iterator[BreakdownRow]:
    act = account.external_id
    params = breakdown_params(window, dimension, today, page_limit, keys)
    if window.days > SYNC_MAX_DAYS["campaign"]:
        items: list[dict[str, Any]] = list(report_rows(graph, act, params, window, notes=notes,
                                                       page_limit=page_limit))
    else:
        try:
            items = list(graph.get_all(f"{act}/insights", params, notes=notes, shrink=False))
        except MetaReduceDataError:  # the whole window again, through a report run
            items = list(report_rows(graph, act, params, window, notes=notes,
                                     page_limit=page_limit))
    skipped = 0
    for item in items:
        row = parse_breakdown_row(item, dimension, keys, options)
        if not window.since <= row.date <= window.until:
            skipped += 1
            continue
        yield row
    if skipped:
        notes.warnings.append(f"Meta sent {skipped} {dimension} breakdown row(s) of {act} outside "
                              f"{window}; they were left out")


def parse_breakdown_row(item: Mapping[str, Any], dimension: str, keys: tuple[str, ...],
                        options: SyncOptions) -> BreakdownRow:
    """One broken-down campaign row read; a clear DataDripError for anything unreadable. A number
    the row does not carry is unknown (None), never 0."""
    campaign = item.get("campaign_id")
    if not isinstance(campaign, str) or not campaign:
        raise DataDripError(f"Meta sent a {dimension} breakdown row without campaign_id",
                            hint=BAD_DATA_HINT)
    where = f"campaign {campaign} by {dimension}"
    parts = [item.get(key) for key in keys]
    if not all(isinstance(part, str) and part for part in parts):
        missing = next(key for key, part in zip(keys, parts, strict=True)
                       if not (isinstance(part, str) and part))
        raise DataDripError(f"Meta sent a row for {where} without {missing}", hint=BAD_DATA_HINT)
    day = row_day(item, where)
    where = f"{where} on {day}"
    conversions, value = row_conversions(item, options.conversion_actions, where)

    def number(field: str, read: Any) -> int | None:
        raw = item.get(field)
        return None if raw is None else int(read(raw, field, where))

    shown = str(parts[-1]) if summed_over_platforms(keys) else "/".join(map(str, parts))
    return BreakdownRow(
        entity_id=campaign, date=day, dimension=dimension, value=shown,
        spend_micros=number("spend", to_micros), impressions=number("impressions", to_count),
        clicks=number("clicks", to_count), conversions=conversions,
        conversion_value_micros=value,
        reach=number("reach", to_count))


def _summed(rows: Iterable[BreakdownRow]) -> Iterator[BreakdownRow]:
    """Rows of the same campaign, day and value (one per publisher_platform) as one: counts and
    money added, a number unknown in any part unknown in the sum, reach unknown (not additive
    across platforms)."""
    found: dict[tuple[str, dt.date, str], BreakdownRow] = {}
    for row in rows:
        key = (row.entity_id, row.date, row.value)
        held = found.get(key)
        found[key] = replace(row, reach=None) if held is None else replace(
            held, spend_micros=_add(held.spend_micros, row.spend_micros),
            impressions=_add(held.impressions, row.impressions), clicks=_add(held.clicks, row.clicks),
            conversions=_add(held.conversions, row.conversions),
            conversion_value_micros=_add(held.conversion_value_micros, row.conversion_value_micros))
    yield from found.values()


def _add(held: N | None, more: N | None) -> N | None:
    return None if held is None or more is None else held + more


def _dimension(dimension: str, device: tuple[str, ...] = DEVICE_KEYS[DEVICE_PLATFORM]
               ) -> tuple[str, ...]:
    if dimension == "device":
        return device
    keys = META_BREAKDOWNS.get(dimension)
    if keys is None:
        raise DataDripError(f"unknown breakdown dimension {dimension!r}; use one of "
                            f"{', '.join(META_BREAKDOWNS)}")
    return keys
