"""Running a parsed GAQL query against the synthetic world: rows as the REST API returns them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from datadrip.sandbox.data import PERFORMANCE_MAX, Account, ConversionActionDef, Entity, Row, World
from datadrip.sandbox.google import breakdowns, creatives, fields, shares
from datadrip.sandbox.google.gaql import Condition, GaqlError, Query, during, parse_date

LEVELS = {"campaign": "campaign", "ad_group": "adset", "ad_group_ad": "ad", "asset_group": "adset"}
STATUS = {"active": "ENABLED", "paused": "PAUSED", "removed": "REMOVED", "archived": "REMOVED"}
PRIMARY_STATUS = {"active": "ELIGIBLE", "paused": "PAUSED", "removed": "REMOVED", "archived": "REMOVED"}
BIDDING = {"lowest_cost": "MAXIMIZE_CONVERSIONS", "cost_cap": "TARGET_CPA", "bid_cap": "MANUAL_CPC",
           "min_roas": "TARGET_ROAS"}
NO_END = dt.date(2037, 12, 30)  # the end date Google gives a campaign without one
# Daily data is kept for 37 months (docs/reporting … "37 months"; reference §4).
HISTORY_MONTHS = 37
Record = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    rows: list[dict[str, Any]]
    field_mask: str
    summary: dict[str, Any] | None  # the summary row (metrics totals), when asked for


def field_mask(query: Query) -> str:
    return ",".join(fields.camel(name) for name in dict.fromkeys(query.select))


def run(query: Query, world: World, account: Account, today: dt.date,
        customer_id: str, version: int | None = None) -> Outcome:
    """Validate and run `query` for one customer on `today` (its calendar day), as API
    `version` would (the newest when None)."""
    fields.validate(query, version)
    named = [*query.select, *(c.field for c in query.where), *(n for n, _ in query.order_by)]
    wants_metrics = any(n.startswith("metrics.") for n in named)
    if account.manager and (wants_metrics or "segments.date" in named):
        raise GaqlError("REQUESTED_METRICS_FOR_MANAGER",
                        "Metrics cannot be requested for a manager account.")
    window = _DateWindow.of(query, today)
    segmented = "segments.date" in query.select
    if segmented and not window.finite:
        raise GaqlError("EXPECTED_FILTERS_ON_DATE_RANGE", "Expects filters on the following field "
                        "to limit a finite date range: 'segments.date'.")
    records = list(_records(query, world, account, today, customer_id, window, wants_metrics,
                            segmented, named))
    others = [c for c in query.where if c.field != "segments.date"]
    records = [r for r in records if all(_matches(r, c) for c in others)]
    for name, descending in reversed(query.order_by):  # stable sorts, last key first
        records.sort(key=_sort_key(name), reverse=descending)
    summary = _summary(query, records) if wants_metrics else None
    if query.limit is not None:
        records = records[:query.limit]
    omit = query.parameters.get("omit_unselected_resource_names") == "true"
    project = _projector(query, omit)
    return Outcome([project(r) for r in records], field_mask(query), summary)


@dataclass(frozen=True)
class _DateWindow:
    low: dt.date | None
    high: dt.date | None
    conditions: tuple[Condition, ...]

    @property
    def finite(self) -> bool:
        return self.low is not None and self.high is not None

    @classmethod
    def of(cls, query: Query, today: dt.date) -> _DateWindow:
        low: dt.date | None = None
        high: dt.date | None = None
        day = dt.timedelta(days=1)
        conditions = tuple(c for c in query.where if c.field == "segments.date")
        for c in conditions:
            dates = [parse_date(v) for v in c.values] if c.operator != "DURING" else \
                list(during(c.values[0].text, today))
            bounds: tuple[dt.date | None, dt.date | None] = (None, None)
            if c.operator in ("=", "BETWEEN", "DURING", "IN"):
                bounds = (min(dates), max(dates))
            elif c.operator in (">", ">="):
                bounds = (dates[0] + (day if c.operator == ">" else 0 * day), None)
            elif c.operator in ("<", "<="):
                bounds = (None, dates[0] - (day if c.operator == "<" else 0 * day))
            elif c.operator not in ("!=", "NOT IN"):
                raise GaqlError("OPERATOR_FIELD_MISMATCH",
                                f"Error in WHERE clause: {c.operator} cannot be used with a date.")
            if bounds[0] is not None:
                low = bounds[0] if low is None else max(low, bounds[0])
            if bounds[1] is not None:
                high = bounds[1] if high is None else min(high, bounds[1])
        oldest = _months_before(today, HISTORY_MONTHS)
        if low is not None and low < oldest:
            # The code the reference gives for v24+ (DateRangeError); the wording is ours.
            raise GaqlError("REQUESTED_DATE_GRANULARITY_NOT_SUPPORTED",
                            f"Daily data is available for the last {HISTORY_MONTHS} months only: "
                            f"{low.isoformat()} is before {oldest.isoformat()}.",
                            category="dateRangeError")
        return cls(low, high, conditions)

    def admits(self, day: dt.date) -> bool:
        return all(_compare_date(day, c) for c in self.conditions)


def _compare_date(day: dt.date, c: Condition) -> bool:
    if c.operator == "DURING":
        return True  # already the window's bounds
    dates = [parse_date(v) for v in c.values]
    if c.operator == "IN":
        return day in dates
    if c.operator == "NOT IN":
        return day not in dates
    if c.operator == "BETWEEN":
        return dates[0] <= day <= dates[1]
    return _ordered(day, c.operator, dates[0])


def _months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    for candidate in range(day.day, 0, -1):
        try:
            return dt.date(year, month + 1, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _records(query: Query, world: World, account: Account, today: dt.date, cid: str,
             window: _DateWindow, wants_metrics: bool, segmented: bool,
             named: list[str]) -> Iterator[Record]:
    base = _customer(account, cid)
    if query.resource == "customer_client":
        yield from _clients(world, account, cid, base)
        return
    if query.resource == "conversion_action":
        yield from _conversion_actions(world, account, cid, base, today, window, wants_metrics,
                                       segmented)
        return
    if query.resource == "geo_target_constant":
        yield from breakdowns.geo_constants()
        return
    if query.resource in breakdowns.VIEWS:
        yield from _view_records(query, world, account, today, cid, window, segmented, base)
        return
    level = LEVELS.get(query.resource, "campaign")
    entities = world.entities(account.id, level) if not account.manager else []
    if query.resource in ("ad_group", "asset_group"):
        # Performance Max has asset groups and no ad groups; other campaigns the reverse.
        pmax = query.resource == "asset_group"
        entities = [e for e in entities if (e.channel == PERFORMANCE_MAX) == pmax]
    catalogue = {a.id: a for a in world.conversion_actions(account.id)}
    by_action = any(n in fields.ACTION_SEGMENTS for n in
                    [*query.select, *(c.field for c in query.where)])
    by_id = {e.id: e for level_name in ("campaign", "adset", "ad") if not account.manager
             for e in world.entities(account.id, level_name)}

    with_creative = any(n in creatives.FIELDS for n in named)

    def describe(entity: Entity | None) -> Record:
        if entity is None:  # FROM customer: the account's own row
            return dict(base)
        record = _entity_record(query.resource, entity, by_id, cid, today, base, world)
        if with_creative and query.resource == "ad_group_ad":
            record.update(creatives.creative_fields(world, entity, today))
        return record
    if not segmented and not wants_metrics:
        yield from ([describe(None)] if query.resource == "customer" else map(describe, entities))
        return
    since = window.low or min((e.start for e in entities), default=today)
    until = window.high or today
    shown = {e.id for e in entities}
    rows = [r for r in world.rows(account.id, level, since, until, today)
            if window.admits(r.date) and (query.resource == "customer" or r.entity.id in shown)]
    if query.resource == "customer":
        rows = list(_per_day(rows))
    if by_action:
        rows = list(_per_action(rows, catalogue))
    selected_metrics = [n for n in query.select if n.startswith("metrics.")]
    devices = "segments.device" in named
    if devices and not segmented:
        raise GaqlError("EXPECTED_FILTERS_ON_DATE_RANGE", "The DataDrip sandbox serves "
                        "segments.device by day only: select segments.date too.")
    if segmented:
        for row in rows:
            record = {**describe(row.entity if query.resource != "customer" else None),
                      **_metrics(row), "segments.date": row.date}
            if query.resource == "campaign":
                record.update(shares.row_shares(row))
            if by_action:
                record.update(_action_segments(row, catalogue, cid))
            if devices:
                for split in breakdowns.by_device(world, account, row):
                    yield {**record, **split}
                continue
            if selected_metrics and not any(record[m] for m in selected_metrics):
                continue  # all selected metrics zero: not returned when segmented
            if not selected_metrics and row.is_zero:
                continue
            yield record
        return
    totals: dict[str, list[Row]] = {}
    for row in rows:
        totals.setdefault(row.entity.id if query.resource != "customer" else "", []).append(row)
    keys: Iterable[Entity | None] = [None] if query.resource == "customer" else entities
    for entity in keys:
        group = totals.get(entity.id if entity else "", [])
        if not by_action:
            record = {**describe(entity), **_sum(group)}
            if query.resource == "campaign":
                record.update(shares.range_shares(group))
            yield record
            continue
        per_action: dict[str, list[Row]] = {}
        for row in group:
            per_action.setdefault(row.actions[0][0], []).append(row)
        for action_rows in per_action.values():
            record = {**describe(entity), **_sum(action_rows),
                      **_action_segments(action_rows[0], catalogue, cid)}
            if any(record[m] for m in query.select if m.startswith("metrics.")):
                yield record


def _per_action(rows: list[Row], catalogue: dict[str, ConversionActionDef]) -> Iterator[Row]:
    """Each row as one row per conversion action it counted: only conversion metrics, its
    conversions the action's count when the action is in the Conversions column, else 0; its
    all conversions the count either way."""
    for row in rows:
        for action, count, value in row.actions:
            definition = catalogue.get(action)
            included = definition is not None and definition.include_in_conversions_metric
            yield Row(row.date, row.entity, 0, 0, 0, 0, count if included else Decimal(0),
                      value if included else 0, 0, count, value, ((action, count, value),))


def _action_segments(row: Row, catalogue: dict[str, ConversionActionDef], cid: str) -> Record:
    action = row.actions[0][0]
    definition = catalogue[action]
    return {"segments.conversion_action": f"customers/{cid}/conversionActions/{action}",
            "segments.conversion_action_name": definition.name,
            "segments.conversion_action_category": definition.category}


def _conversion_actions(world: World, account: Account, cid: str, base: Record, today: dt.date,
                        window: _DateWindow, wants_metrics: bool,
                        segmented: bool) -> Iterator[Record]:
    """`FROM conversion_action`: the catalogue, with all conversions per action (by date when
    segments.date is selected) summed over the account's campaigns."""
    catalogue = world.conversion_actions(account.id)

    def describe(action: ConversionActionDef) -> Record:
        return {**base,
                "conversion_action.resource_name": f"customers/{cid}/conversionActions/{action.id}",
                "conversion_action.id": int(action.id), "conversion_action.name": action.name,
                "conversion_action.category": action.category, "conversion_action.type": action.type,
                "conversion_action.status": action.status,
                "conversion_action.primary_for_goal": action.primary_for_goal,
                "conversion_action.include_in_conversions_metric":
                    action.include_in_conversions_metric}
    if not wants_metrics and not segmented:
        yield from map(describe, catalogue)
        return
    entities = world.entities(account.id, "campaign")
    since = window.low or min((e.start for e in entities), default=today)
    until = window.high or today
    sums: dict[tuple[str, dt.date | None], list[Any]] = {}
    for row in world.rows(account.id, "campaign", since, until, today):
        if not window.admits(row.date):
            continue
        for action, count, value in row.actions:
            total = sums.setdefault((action, row.date if segmented else None), [Decimal(0), 0])
            total[0] += count
            total[1] += value
    for action_def in catalogue:
        days = sorted(day for action, day in sums if action == action_def.id and day is not None)
        for day in (days if segmented else [None]):
            count, value = sums.get((action_def.id, day), [Decimal(0), 0])
            if segmented and not count:
                continue
            record = {**describe(action_def), "metrics.all_conversions": float(count),
                      "metrics.all_conversions_value": value / 1_000_000}
            if day is not None:
                record["segments.date"] = day
            yield record


def _view_records(query: Query, world: World, account: Account, today: dt.date, cid: str,
                  window: _DateWindow, segmented: bool, base: Record) -> Iterator[Record]:
    """age_range_view, gender_view and geographic_view rows, by day (sandbox.google.breakdowns)."""
    if not segmented or not window.finite:
        raise GaqlError("EXPECTED_FILTERS_ON_DATE_RANGE", "The DataDrip sandbox serves "
                        f"{query.resource} by day only: select segments.date over a finite range.")
    assert window.low is not None and window.high is not None
    by_id = {e.id: e for level_name in ("campaign", "adset", "ad")
             for e in world.entities(account.id, level_name)}
    for entity, row, fields_of in breakdowns.view_rows(query.resource, world, account, window.low,
                                                       window.high, today):
        if not window.admits(row.date):
            continue
        if query.resource == "geographic_view":
            record = _entity_record("campaign", entity, by_id, cid, today, base, world)
            key = f"{fields_of['geographic_view.country_criterion_id']}~" \
                  f"{fields_of['geographic_view.location_type']}"
            record["geographic_view.resource_name"] = \
                f"customers/{cid}/geographicViews/{key}"
        else:
            record = _entity_record("ad_group", entity, by_id, cid, today, base, world)
            criterion = f"{entity.id}~{breakdowns.criterion_id(fields_of)}"
            record["ad_group_criterion.resource_name"] = \
                f"customers/{cid}/adGroupCriteria/{criterion}"
            plural = "ageRangeViews" if query.resource == "age_range_view" else "genderViews"
            record[f"{query.resource}.resource_name"] = f"customers/{cid}/{plural}/{criterion}"
        yield {**record, **fields_of, "segments.date": row.date}


def _customer(account: Account, cid: str) -> Record:
    return {"customer.resource_name": f"customers/{cid}", "customer.id": int(cid),
            "customer.descriptive_name": account.name, "customer.currency_code": account.currency,
            "customer.time_zone": account.timezone, "customer.manager": account.manager,
            "customer.test_account": False,
            "customer.status": "CANCELED" if account.status == "disabled" else "ENABLED"}


def _clients(world: World, account: Account, cid: str, base: Record) -> Iterator[Record]:
    tree = [(account, 0)]
    if account.manager:
        tree += [(a, 1) for a in world.of_platform("google") if a.manager_id == account.id]
    for client, level in tree:
        yield {**base,
               "customer_client.resource_name": f"customers/{cid}/customerClients/{client.id}",
               "customer_client.client_customer": f"customers/{client.id}",
               "customer_client.id": int(client.id), "customer_client.level": level,
               "customer_client.manager": client.manager,
               "customer_client.descriptive_name": client.name,
               "customer_client.currency_code": client.currency,
               "customer_client.time_zone": client.timezone,
               "customer_client.status": "CANCELED" if client.status == "disabled" else "ENABLED",
               "customer_client.test_account": False, "customer_client.hidden": False}


def _entity_record(resource: str, entity: Entity, by_id: dict[str, Entity], cid: str,
                   today: dt.date, base: Record, world: World) -> Record:
    campaign = by_id[entity.campaign_id]
    record = {**base, "campaign.resource_name": f"customers/{cid}/campaigns/{campaign.id}",
              "campaign.id": int(campaign.id), "campaign.name": campaign.name_on(today),
              "campaign.status": STATUS[campaign.status],
              **_campaign_setup(world, campaign, cid, today)}
    if resource == "asset_group":
        record.update({"asset_group.resource_name": f"customers/{cid}/assetGroups/{entity.id}",
                       "asset_group.id": int(entity.id), "asset_group.name": entity.name_on(today),
                       "asset_group.status": STATUS[entity.status],
                       "asset_group.campaign": record["campaign.resource_name"]})
        return record
    group = entity if resource == "ad_group" else by_id.get(entity.parent_id or "")
    if group is not None and resource in ("ad_group", "ad_group_ad"):
        record.update({"ad_group.resource_name": f"customers/{cid}/adGroups/{group.id}",
                       "ad_group.id": int(group.id), "ad_group.name": group.name_on(today),
                       "ad_group.status": STATUS[group.status],
                       "ad_group.campaign": record["campaign.resource_name"]})
    if resource == "ad_group_ad" and group is not None:
        record.update({
            "ad_group_ad.resource_name": f"customers/{cid}/adGroupAds/{group.id}~{entity.id}",
            "ad_group_ad.ad.id": int(entity.id), "ad_group_ad.ad.name": entity.name_on(today),
            "ad_group_ad.status": STATUS[entity.status],
            "ad_group_ad.ad_group": record["ad_group.resource_name"]})
    return record


def _campaign_setup(world: World, campaign: Entity, cid: str, today: dt.date) -> Record:
    """A campaign's settings and its budget's fields; a budget pinned to a text goes out as it
    is."""
    setup = world.setup(campaign, today)
    end = setup.end or NO_END
    budget = f"customers/{cid}/campaignBudgets/{campaign.id}"
    pinned = world.pinned_budget_texts.get((campaign.account_id, campaign.id))
    custom = setup.lifetime_budget_micros is not None
    amount: int | str | None = setup.lifetime_budget_micros if custom else setup.daily_budget_micros
    if pinned is not None:
        amount = pinned
    return {"campaign.primary_status": PRIMARY_STATUS[campaign.status],
            "campaign.advertising_channel_type": campaign.channel,
            "campaign.bidding_strategy_type": BIDDING[setup.bid_strategy],
            "campaign.start_date": setup.start.isoformat(), "campaign.end_date": end.isoformat(),
            "campaign.start_date_time": f"{setup.start.isoformat()} 00:00:00",
            "campaign.end_date_time": f"{end.isoformat()} 23:59:59",
            "campaign.campaign_budget": budget, "campaign_budget.resource_name": budget,
            "campaign_budget.period": "CUSTOM_PERIOD" if custom else "DAILY",
            "campaign_budget.amount_micros": None if custom else amount,
            "campaign_budget.total_amount_micros": amount if custom else None}


def _per_day(rows: list[Row]) -> Iterator[Row]:
    """Campaign rows summed per day: the customer's own daily numbers."""
    days: dict[dt.date, list[Row]] = {}
    for row in rows:
        days.setdefault(row.date, []).append(row)
    for day, group in days.items():
        first = group[0]
        actions: dict[str, list[Any]] = {}
        for row in group:
            for action, count, value in row.actions:
                pair = actions.setdefault(action, [Decimal(0), 0])
                pair[0] += count
                pair[1] += value
        yield Row(day, first.entity, sum(r.impressions for r in group),
                  sum(r.clicks for r in group), sum(r.spend_micros for r in group), 0,
                  sum((r.conversions for r in group), Decimal(0)),
                  sum(r.conversion_value_micros for r in group),
                  sum(r.interactions for r in group),
                  sum((r.all_conversions for r in group), Decimal(0)),
                  sum(r.all_conversion_value_micros for r in group),
                  tuple((action, count, value) for action, (count, value) in sorted(actions.items())))


def _sum(rows: list[Row]) -> Record:
    impressions = sum(r.impressions for r in rows)
    clicks = sum(r.clicks for r in rows)
    cost = sum(r.spend_micros for r in rows)
    conversions = sum((r.conversions for r in rows), Decimal(0))
    value = sum(r.conversion_value_micros for r in rows)
    return _metric_values(impressions, clicks, cost, conversions, value,
                          sum(r.interactions for r in rows),
                          sum((r.all_conversions for r in rows), Decimal(0)),
                          sum(r.all_conversion_value_micros for r in rows))


def _metrics(row: Row) -> Record:
    return _metric_values(row.impressions, row.clicks, row.spend_micros, row.conversions,
                          row.conversion_value_micros, row.interactions, row.all_conversions,
                          row.all_conversion_value_micros)


def _metric_values(impressions: int, clicks: int, cost: int, conversions: Decimal,
                   value_micros: int, interactions: int = 0, all_conversions: Decimal = Decimal(0),
                   all_value_micros: int = 0) -> Record:
    return {"metrics.impressions": impressions, "metrics.clicks": clicks,
            "metrics.cost_micros": cost, "metrics.conversions": float(conversions),
            "metrics.conversions_value": value_micros / 1_000_000,
            "metrics.ctr": clicks / impressions if impressions else 0.0,
            "metrics.average_cpc": cost / clicks if clicks else 0.0,
            "metrics.interactions": interactions, "metrics.all_conversions": float(all_conversions),
            "metrics.all_conversions_value": all_value_micros / 1_000_000}


def _summary(query: Query, records: list[Record]) -> dict[str, Any]:
    totals = _metric_values(
        sum(r.get("metrics.impressions", 0) for r in records),
        sum(r.get("metrics.clicks", 0) for r in records),
        sum(r.get("metrics.cost_micros", 0) for r in records),
        sum((Decimal(str(r.get("metrics.conversions", 0))) for r in records), Decimal(0)),
        round(sum(r.get("metrics.conversions_value", 0) * 1_000_000 for r in records)),
        sum(r.get("metrics.interactions", 0) for r in records),
        sum((Decimal(str(r.get("metrics.all_conversions", 0))) for r in records), Decimal(0)),
        round(sum(r.get("metrics.all_conversions_value", 0) * 1_000_000 for r in records)))
    # The summary row has no search shares: a sum of ratios means nothing (shares.py).
    metrics = {fields.camel(n).split(".", 1)[1]: fields.to_json(fields.FIELDS[n], totals[n])
               for n in query.select if n.startswith("metrics.") and n in totals}
    return {"metrics": metrics}


def _matches(record: Record, c: Condition) -> bool:
    actual = record.get(c.field)
    if c.operator == "IS NULL":
        return actual is None
    if c.operator == "IS NOT NULL":
        return actual is not None
    if c.operator in ("LIKE", "NOT LIKE"):
        found = _like(c.values[0].text).fullmatch(str(actual)) is not None
        return found if c.operator == "LIKE" else not found
    wanted = [fields.convert_literal(c.field, v.text, v.kind) for v in c.values]
    if c.operator == "IN":
        return actual in wanted
    if c.operator == "NOT IN":
        return actual not in wanted
    if c.operator == "BETWEEN":
        return bool(wanted[0] <= actual <= wanted[1])
    return _ordered(actual, c.operator, wanted[0])


def _ordered(actual: Any, operator: str, wanted: Any) -> bool:
    return bool({"=": actual == wanted, "!=": actual != wanted, ">": actual > wanted,
                 ">=": actual >= wanted, "<": actual < wanted, "<=": actual <= wanted}[operator])


def _like(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if pattern[i] == "%" else "." if pattern[i] == "_" else re.escape(pattern[i]))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _sort_key(name: str) -> Callable[[Record], tuple[int, Any]]:
    def key(record: Record) -> tuple[int, Any]:
        value = record.get(name)
        return (0, value) if value is not None else (1, 0)
    return key


def _projector(query: Query, omit_names: bool) -> Callable[[Record], dict[str, Any]]:
    """What turns a record into a JSON row for `query`: the field paths worked out once."""
    selected = dict.fromkeys(query.select)
    owners = dict.fromkeys([query.resource, *(fields.resource_of(n) for n in selected)])
    names = [(fields.camel(owner), f"{owner}.resource_name") for owner in owners
             if owner not in ("metrics", "segments")
             and (not omit_names or f"{owner}.resource_name" in selected)]
    paths = [(name, fields.camel(name).split("."), fields.FIELDS[name]) for name in selected]

    def project(record: Record) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for key, name in names:
            if name in record:
                row.setdefault(key, {})["resourceName"] = record[name]
        for name, path, kind in paths:
            if record.get(name) is None:  # unset: proto3 JSON leaves it out
                continue
            target = row
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = fields.to_json(kind, record[name])
        return row
    return project
