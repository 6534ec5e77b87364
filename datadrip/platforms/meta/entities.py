"""Meta campaigns, ad sets and ads with their settings (`act_…/campaigns|adsets|ads`).

Graph's edges leave deleted and archived objects out unless asked for them: every request
filters on `effective_status` IN every status, so they are listed too. Budgets are numeric
strings in the currency's budget unit: whole units for the currencies Meta gives offset 1 (yen,
won, …), hundredths for every other one ("5000" in JPY is ¥5,000; "2000" in USD is $20.00).
Times such as "2026-03-01T00:00:00-0600" become the account's calendar day.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from datadrip.core.errors import DataDripError, UsageError
from datadrip.platforms.base import LEVELS, AccountRef, EntityRecord, EntitySettings, FetchNotes
from datadrip.platforms.meta.graph import GraphClient
from datadrip.platforms.meta.insights import BAD_DATA_HINT, LARGEST

# Meta's per-currency offset: these count budgets in whole units, every other in hundredths.
WHOLE_UNIT_CURRENCIES = frozenset({"CLP", "COP", "CRC", "HUF", "ISK", "IDR", "JPY", "KRW", "PYG",
                                   "TWD"})
EFFECTIVE_STATUSES = ("ACTIVE", "PAUSED", "DELETED", "ARCHIVED", "IN_PROCESS", "WITH_ISSUES",
                      "CAMPAIGN_PAUSED", "ADSET_PAUSED", "DISAPPROVED", "PENDING_REVIEW",
                      "PREAPPROVED", "PENDING_BILLING_INFO")
EDGES = {"campaign": "campaigns", "adset": "adsets", "ad": "ads"}
FIELDS = {
    "campaign": "id,name,status,effective_status,objective,daily_budget,lifetime_budget,"
                "bid_strategy,start_time,stop_time",
    "adset": "id,name,campaign_id,status,effective_status,optimization_goal,attribution_spec,"
             "daily_budget,lifetime_budget,bid_strategy,start_time,end_time",
    "ad": "id,name,adset_id,status,effective_status,creative{title,thumbnail_url}",
}
PARENT_FIELD = {"adset": "campaign_id", "ad": "adset_id"}
_EVENTS = {"CLICK_THROUGH": "click", "VIEW_THROUGH": "view", "ENGAGED_VIDEO_VIEW": "ev"}


def entity_params(level: str, page_limit: int) -> dict[str, str]:
    """The parameters listing every object of `level`, deleted and archived ones included."""
    everything = [{"field": "effective_status", "operator": "IN", "value": list(EFFECTIVE_STATUSES)}]
    return {"fields": FIELDS[level], "filtering": json.dumps(everything, separators=(",", ":")),
            "limit": str(page_limit)}


def entities(graph: GraphClient, account: AccountRef, level: str, notes: FetchNotes, *,
             page_limit: int = 100) -> Iterator[EntityRecord]:
    """Every campaign, ad set or ad of `account` with its settings, as Meta pages them."""
    if level not in LEVELS:
        raise UsageError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")
    zone = ZoneInfo(account.timezone)
    for item in graph.get_all(f"{account.external_id}/{EDGES[level]}",
                              entity_params(level, page_limit), notes=notes):
        yield parse_entity(item, level, account.currency, zone)


def parse_entity(item: Mapping[str, Any], level: str, currency: str,
                 zone: ZoneInfo) -> EntityRecord:
    """One object of an edge read; a clear DataDripError for anything unreadable."""
    entity_id = item.get("id")
    if not isinstance(entity_id, str) or not entity_id.isdigit():
        raise DataDripError(f"Meta sent a {level} without a numeric id ({_show(entity_id)})",
                            hint=BAD_DATA_HINT)
    where = f"{level} {entity_id}"
    name = _text(item, "name", where) or entity_id
    parent = _text(item, PARENT_FIELD[level], where) if level in PARENT_FIELD else None
    status = _text(item, "status", where) or ""
    creative = item.get("creative")
    if creative is not None and not isinstance(creative, dict):
        raise DataDripError(f"Meta sent creative = {_show(creative)} for {where}: not an object",
                            hint=BAD_DATA_HINT)
    settings = EntitySettings(
        objective=_text(item, "objective", where),
        effective_status=_text(item, "effective_status", where),
        daily_budget_micros=budget_micros(item.get("daily_budget"), currency, "daily_budget", where),
        lifetime_budget_micros=budget_micros(item.get("lifetime_budget"), currency,
                                             "lifetime_budget", where),
        bid_strategy=_text(item, "bid_strategy", where),
        starts_on=account_day(item.get("start_time"), zone, "start_time", where),
        ends_on=account_day(item.get("stop_time", item.get("end_time")), zone,
                            "stop_time" if level == "campaign" else "end_time", where),
        optimization_goal=_text(item, "optimization_goal", where),
        attribution_setting=attribution_setting(item.get("attribution_spec"), where),
        creative_title=_text(creative, "title", where) if creative else None,
        thumbnail_url=_text(creative, "thumbnail_url", where) if creative else None)
    return EntityRecord(level, entity_id, name, parent, status.lower(), settings)


def budget_micros(value: Any, currency: str, field: str, where: str) -> int | None:
    """A budget string in the currency's budget unit as integer micros; None when unset ("0" is
    how Meta writes "no budget of this kind" on some objects)."""
    if value is None or value == "0":
        return None
    if not isinstance(value, str) or not value.isdigit():
        raise DataDripError(f"Meta sent {field} = {_show(value)} for {where}: not a whole number "
                            "of the currency's budget unit", hint=BAD_DATA_HINT)
    micros = int(value) * (1_000_000 if currency.upper() in WHOLE_UNIT_CURRENCIES else 10_000)
    if micros > LARGEST:
        raise DataDripError(f"Meta sent {field} = {_show(value)} for {where}: too large",
                            hint=BAD_DATA_HINT)
    return micros


def account_day(value: Any, zone: ZoneInfo, field: str, where: str) -> dt.date | None:
    """"2026-03-01T00:00:00-0600" as the account's calendar day."""
    if value is None or value == "":
        return None
    try:
        moment = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z") if isinstance(value, str) \
            else None
    except ValueError:
        moment = None
    if moment is None:
        raise DataDripError(f"Meta sent {field} = {_show(value)} for {where}: not a date and time",
                            hint=BAD_DATA_HINT)
    return moment.astimezone(zone).date()


def attribution_setting(spec: Any, where: str) -> str | None:
    """[{"event_type": "CLICK_THROUGH", "window_days": 7}, {… "VIEW_THROUGH", 1}] →
    "7d_click_1d_view", as insights name the setting."""
    if spec is None:
        return None
    parts: list[str] = []
    for entry in spec if isinstance(spec, list) else [None]:
        event = entry.get("event_type") if isinstance(entry, dict) else None
        days = entry.get("window_days") if isinstance(entry, dict) else None
        if event not in _EVENTS or not isinstance(days, int) or isinstance(days, bool) or days <= 0:
            raise DataDripError(f"Meta sent attribution_spec = {_show(spec)} for {where}: not a "
                                "list of event types and window days", hint=BAD_DATA_HINT)
        parts.append(f"{days}d_{_EVENTS[event]}")
    return "_".join(parts) or None


def _text(item: Mapping[str, Any], field: str, where: str) -> str | None:
    value = item.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataDripError(f"Meta sent {field} = {_show(value)} for {where}: not text",
                            hint=BAD_DATA_HINT)
    return value or None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
