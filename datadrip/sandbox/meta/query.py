"""Meta insights parameters for the sandbox: level, dates and presets, fields, windows, filters.

Bad parameters get Graph's own answers: code 100 (OAuthException), or 3018 for a start date
beyond the 37 months Meta keeps.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from datadrip.sandbox.meta.breakdowns import check as check_breakdowns
from datadrip.sandbox.meta.common import graph_error
from datadrip.sandbox.web import Response

RETENTION_MONTHS = 37
LEVELS = ("ad", "adset", "campaign", "account")
ENTITY_FIELDS = ("campaign_id", "campaign_name", "adset_id", "adset_name", "ad_id", "ad_name")
INSIGHT_FIELDS = (*ENTITY_FIELDS, "account_id", "account_name", "account_currency", "spend",
                  "impressions", "clicks", "inline_link_clicks", "reach", "frequency", "cpc", "ctr",
                  "cpm", "actions", "action_values", "purchase_roas", "attribution_setting",
                  "results", "date_start", "date_stop")
# 7d_view and 28d_view are accepted but no longer returned (Meta, 2026-01-12).
WINDOWS = ("1d_click", "7d_click", "28d_click", "1d_view", "1d_ev", "7d_view", "28d_view", "default")
SILENT_WINDOWS = ("7d_view", "28d_view")
FILTER_FIELDS = {"campaign.id": "campaign_id", "adset.id": "parent_id", "ad.id": "id"}


@dataclass(frozen=True)
class Query:
    level: str
    since: dt.date
    until: dt.date
    increment: str  # "1"…"90" days, "all_days" or "monthly"
    fields: tuple[str, ...]
    windows: tuple[str, ...]
    filters: tuple[tuple[str, str, frozenset[str]], ...] = ()
    # Any `filtering` turns on Meta's default status filtering: archived and deleted objects are
    # left out, so parents can exceed the sum of their children (facts card §0.3).
    status_filtered: bool = False
    breakdowns: tuple[str, ...] = ()  # sandbox.meta.breakdowns.ALLOWED


def months_back(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def preset_range(name: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    day = dt.timedelta(days=1)
    yesterday = today - day
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    last_days = {"last_3d": 3, "last_7d": 7, "last_14d": 14, "last_28d": 28, "last_30d": 30,
                 "last_90d": 90}
    if name in last_days:
        return today - last_days[name] * day, yesterday
    monday = today - today.weekday() * day
    sunday = today - ((today.weekday() + 1) % 7) * day
    month_start = today.replace(day=1)
    ranges = {
        "today": (today, today), "yesterday": (yesterday, yesterday),
        "this_month": (month_start, today),
        "last_month": ((month_start - day).replace(day=1), month_start - day),
        "this_quarter": (quarter_start, today),
        "last_quarter": (months_back(quarter_start, 3), quarter_start - day),
        "this_year": (dt.date(today.year, 1, 1), today),
        "last_year": (dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)),
        "this_week_mon_today": (monday, today), "this_week_sun_today": (sunday, today),
        "last_week_mon_sun": (monday - 7 * day, monday - day),
        "last_week_sun_sat": (sunday - 7 * day, sunday - day),
        "maximum": (months_back(today, RETENTION_MONTHS), today),
    }
    return ranges.get(name)


PRESETS = ("today", "yesterday", "this_month", "last_month", "this_quarter", "last_quarter",
           "this_year", "last_year", "last_3d", "last_7d", "last_14d", "last_28d", "last_30d",
           "last_90d", "this_week_mon_today", "this_week_sun_today", "last_week_mon_sun",
           "last_week_sun_sat", "maximum")


def _json_list(raw: str) -> list[Any]:
    text = raw.strip()
    if text.startswith("["):
        value = json.loads(text)
        if not isinstance(value, list):
            raise ValueError(raw)
        return value
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_query(params: dict[str, str], today: dt.date) -> Query | Response:
    """The insights parameters, or Graph's code-100/3018 error for bad ones."""
    level = params.get("level") or "account"
    if level not in LEVELS:
        return graph_error("(#100) level must be one of the following values: ad, adset, campaign, "
                           "account", 100)
    if params.get("time_range"):
        try:
            window = json.loads(params["time_range"])
            since = dt.date.fromisoformat(window["since"])
            until = dt.date.fromisoformat(window["until"])
        except (ValueError, KeyError, TypeError):
            return graph_error("(#100) param time_range must be a JSON object with since and until "
                               "as YYYY-MM-DD dates", 100)
        if since > until:
            return graph_error("(#100) time_range: since must be on or before until", 100)
    else:
        preset = preset_range(params.get("date_preset") or "last_30d", today)
        if preset is None:
            return graph_error("(#100) date_preset must be one of the following values: "
                               + ", ".join(PRESETS), 100)
        since, until = preset
    if since < months_back(today, RETENTION_MONTHS):
        return graph_error("(#3018) The start date of the time range cannot be beyond 37 months from "
                           "the current date", 3018)
    increment = params.get("time_increment") or "all_days"
    if increment not in ("all_days", "monthly") and not (
            increment.isdigit() and 1 <= int(increment) <= 90):
        return graph_error("(#100) time_increment must be all_days, monthly or a number of days "
                           "from 1 to 90", 100)
    raw_fields = params.get("fields")
    fields = [f.strip() for f in (raw_fields or "").split(",") if f.strip()]
    if not fields:
        fields = ["account_id"] + ([f"{level}_id"] if level != "account" else []) + [
            "impressions", "spend"]
    unknown = [f for f in fields if f not in INSIGHT_FIELDS]
    if unknown:
        verb = "is" if len(unknown) == 1 else "are"
        return graph_error(f"(#100) {', '.join(unknown)} {verb} not valid for fields param. please "
                           "check https://developers.facebook.com/docs/marketing-api/reference/"
                           "ads-insights/ for all valid values", 100)
    try:
        windows = _json_list(params.get("action_attribution_windows") or "")
        breakdowns = _json_list(params.get("breakdowns") or "")
        filtering = json.loads(params.get("filtering") or "[]")
    except ValueError:
        return graph_error("(#100) action_attribution_windows, breakdowns and filtering must be "
                           "JSON arrays", 100)
    bad = [w for w in windows if w not in WINDOWS]
    if bad:
        return graph_error(f"(#100) action_attribution_windows[0] must be one of the following "
                           f"values: {', '.join(WINDOWS)}", 100)
    allowed = check_breakdowns([str(b) for b in breakdowns]) if breakdowns else ()
    if isinstance(allowed, Response):
        return allowed
    filters = _parse_filtering(filtering)
    if isinstance(filters, Response):
        return filters
    return Query(level, since, until, increment, tuple(fields),
                 tuple(w for w in windows if w not in SILENT_WINDOWS), filters,
                 status_filtered=bool(params.get("filtering")), breakdowns=allowed)


def _parse_filtering(filtering: Any) -> tuple[tuple[str, str, frozenset[str]], ...] | Response:
    found = []
    for item in filtering if isinstance(filtering, list) else [None]:
        if not isinstance(item, dict) or item.get("field") not in FILTER_FIELDS or \
                item.get("operator") not in ("IN", "NOT_IN", "EQUAL", "NOT_EQUAL"):
            return graph_error("(#100) filtering supports campaign.id, adset.id and ad.id with IN, "
                               "NOT_IN, EQUAL or NOT_EQUAL in the DataDrip sandbox", 100)
        value = item.get("value")
        values = frozenset(str(v) for v in (value if isinstance(value, list) else [value]))
        found.append((FILTER_FIELDS[item["field"]], item["operator"], values))
    return tuple(found)
