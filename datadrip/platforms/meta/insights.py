"""Meta daily insights: the request, its rows read into EntityRecords and MetricRows, synchronously
or through a report run.

Every number arrives as a JSON string (reference §3) and is read exactly: money into integer
micros with integer arithmetic (a value finer than a micro is an error, never rounded), counts
into int; a float never takes part.

Actions (platform facts card §1): every row's `actions` become its `MetricRow.actions`, one
ActionCount per action type as Meta sent it, valued from `action_values` (None when it has no
value; a type with only a value gets count 0). Nothing is summed or deduplicated here: the
purchase variants repeat one number and engagement types nest, and the plug-in's result rules
(results.py) decide what to count. Meta leaves `actions` out of a row without any action, so
such a row has no actions and 0 link clicks.

Link clicks are `actions[link_click]` (card §3), 0 when the row has no link_click. Results come
from the `results` field: its indicator and the value of its "default" window (0 when the
indicator has no values); a row naming several indicators keeps none (they are never added up)
and the sync is warned once.

Attribution (card §0.1, §2): since 2025-06-10 Meta ignores `use_unified_attribution_setting`
(which overrode `use_account_attribution_setting`) and `action_report_time`: values follow each
ad set's attribution setting, so neither parameter is sent. Each row keeps the
`attribution_setting` Meta reports. Rows aggregating ad sets of different settings come without
action metrics (card §2); the connector gives such campaign rows the sum of their ad sets'
actions, type by type, and records their setting as "mixed" (`campaign_actions_from_adsets`).

No `filtering` is ever sent: any filter turns on Meta's default status filtering, which drops
archived and deleted objects and their spend (card §0.3).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from datadrip.core.errors import DataDripError, UsageError
from datadrip.platforms.base import (
    LEVELS,
    AccountRef,
    ActionCount,
    DateWindow,
    EntityRecord,
    FetchNotes,
    MetricRow,
    Record,
    SyncOptions,
)
from datadrip.platforms.meta.graph import GraphClient, MetaReduceDataError
from datadrip.platforms.meta.report_runs import report_rows, time_range

log = logging.getLogger(__name__)

# Windows longer than this many days go straight to a report run: long synchronous ranges, at ad
# level above all, are what Meta answers with "reduce the amount of data" (reference §4, §8).
# Shorter ones are asked synchronously and switch to a report run only if Meta asks for less.
SYNC_MAX_DAYS = {"campaign": 92, "adset": 92, "ad": 31}
INSIGHTS_PAGE_LIMIT = 500
# One purchase count, never a sum: these report the same purchases (reference §3). The first one
# a row has wins.
PURCHASE_TYPES = ("omni_purchase", "purchase", "offsite_conversion.fb_pixel_purchase",
                  "onsite_web_purchase")
MIXED = "mixed"  # notes.attribution when rows name different attribution settings
PARENTS = {"campaign": ("campaign",), "adset": ("campaign", "adset"),
           "ad": ("campaign", "adset", "ad")}
METRIC_FIELDS = ("spend", "impressions", "clicks", "reach", "actions", "action_values",
                 "results", "attribution_setting", "date_start", "date_stop")
LINK_CLICK = "link_click"
RESULT_WINDOW = "default"  # the Results value kept when a result lists several windows
MICRO_PLACES = 6
LARGEST = 2 ** 63 - 1  # a signed 64-bit column: what the workbook stores
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # no "NaN", "Infinity" or "1_000"
BAD_DATA_HINT = ("Meta sent something DataDrip cannot read; try again, and report it with your "
                 "[meta] api_version if it persists.")


def insight_fields(level: str) -> str:
    """The `fields` of a request at `level`: ids and names down to the level, then the numbers."""
    names = [f"{part}_{what}" for part in PARENTS[level] for what in ("id", "name")]
    return ",".join([*names, *METRIC_FIELDS])


def insight_params(window: DateWindow, level: str, page_limit: int) -> dict[str, str]:
    """The parameters of `act_…/insights` for daily rows of `level` over `window`: no attribution
    parameter (Meta ignores them since 2025-06-10: each ad set's setting applies) and no
    `filtering` (it would drop archived and deleted objects)."""
    return {"level": level, "fields": insight_fields(level), "time_range": time_range(window),
            "time_increment": "1", "limit": str(page_limit)}


def daily_metrics(graph: GraphClient, account: AccountRef, window: DateWindow, level: str,
                  options: SyncOptions, notes: FetchNotes, *,
                  page_limit: int = INSIGHTS_PAGE_LIMIT) -> Iterator[Record]:
    """EntityRecords and MetricRows of `account` at `level` over `window`, as they arrive: each
    entity (and its parents) once, before the first row naming it."""
    if level not in LEVELS:
        raise UsageError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")
    act = account.external_id
    if not act.startswith("act_") or not act[4:].isdigit():
        raise UsageError(f"{act!r} is not a Meta ad account id (act_ and digits)")
    rows = _rows(graph, act, window, level, notes, page_limit)
    if level == "campaign":
        rows = campaign_actions_from_adsets(
            rows, lambda: _rows(graph, act, window, "adset", notes, page_limit))
    seen: set[tuple[str, str]] = set()
    skipped = 0
    several = 0
    for item in rows:
        row = parse_row(item, level, options.conversion_actions)
        several += row.several_results
        if not window.since <= row.metrics.date <= window.until:
            skipped += 1
            continue
        for entity in row.entities:
            if (entity.level, entity.external_id) not in seen:
                seen.add((entity.level, entity.external_id))
                yield entity
        if row.attribution is not None:
            notes.attribution = row.attribution if notes.attribution in (None, row.attribution) \
                else MIXED
        yield row.metrics
    if skipped:
        notes.warnings.append(f"Meta sent {skipped} {level} row(s) of {act} outside {window}; "
                              "they were left out")
    if several:
        notes.warnings.append(f"Meta sent {several} {level} row(s) of {act} in {window} with "
                              "results of several kinds; their results were left empty (different "
                              "results are never added up)")


def _rows(graph: GraphClient, act: str, window: DateWindow, level: str, notes: FetchNotes,
          page_limit: int) -> Iterator[dict[str, Any]]:
    params = insight_params(window, level, page_limit)
    if window.days > SYNC_MAX_DAYS[level]:
        return report_rows(graph, act, params, window, notes=notes, page_limit=page_limit)
    return _sync_rows(graph, act, params, window, level, notes, page_limit)


ACTION_METRICS = ("actions", "action_values", "results")


def campaign_actions_from_adsets(rows: Iterable[dict[str, Any]],
                                 adset_rows: Callable[[], Iterable[dict[str, Any]]]
                                 ) -> Iterator[dict[str, Any]]:
    """Campaign rows as they come, except those Meta sent without action metrics because their
    ad sets have different attribution settings (`attribution_setting` "mixed", no `actions`):
    those wait until the end, then get the actions, action values and results of their ad-set
    rows of the same day (asked once, over the same window), each action type summed across ad
    sets, never one type with another; results only when every ad set counts the same indicator.
    Their `attribution_setting` stays "mixed"."""
    waiting: list[dict[str, Any]] = []
    for item in rows:
        if item.get("attribution_setting") == MIXED and \
                not any(key in item for key in ACTION_METRICS):
            waiting.append(item)
        else:
            yield item
    if not waiting:
        return
    wanted = {(item.get("campaign_id"), item.get("date_start")) for item in waiting}
    sums: dict[tuple[Any, Any], _AdsetSums] = {}
    for adset in adset_rows():
        key = (adset.get("campaign_id"), adset.get("date_start"))
        if key in wanted:
            sums.setdefault(key, _AdsetSums()).add(adset)
    for item in waiting:
        found = sums.get((item.get("campaign_id"), item.get("date_start")))
        yield item if found is None else {**item, **found.fields()}


class _AdsetSums:
    """One campaign-day's ad-set actions added up type by type, exactly (Decimal of the strings;
    the row is then read like any other, so a bad number fails there)."""

    def __init__(self) -> None:
        self.actions: dict[str, Decimal] = {}
        self.values: dict[str, Decimal] = {}
        self.results: dict[str, Decimal] = {}

    def add(self, item: Mapping[str, Any]) -> None:
        where = f"adset {item.get('adset_id')} on {item.get('date_start')}"
        for field, into in (("actions", self.actions), ("action_values", self.values)):
            for kind, value in _by_type(item.get(field), field, where).items():
                into[kind] = into.get(kind, Decimal(0)) + to_decimal(value, f"{field}[{kind}]", where)
        for indicator, count in _results(item.get("results"), where):
            self.results[indicator] = self.results.get(indicator, Decimal(0)) + count

    def fields(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.actions:
            found["actions"] = [{"action_type": k, "value": str(v)} for k, v in self.actions.items()]
        if self.values:
            found["action_values"] = [{"action_type": k, "value": str(v)}
                                      for k, v in self.values.items()]
        if len(self.results) == 1:
            [(indicator, count)] = self.results.items()
            found["results"] = [{"indicator": indicator, "values": [
                {"value": str(count), "attribution_windows": [RESULT_WINDOW]}]}]
        return found


def _sync_rows(graph: GraphClient, act: str, params: dict[str, str], window: DateWindow,
               level: str, notes: FetchNotes, page_limit: int) -> Iterator[dict[str, Any]]:
    """Rows of a synchronous request; when Meta asks to reduce the data, the rest from a report
    run over the same window (rows already passed on are not passed on again)."""
    sent: set[tuple[Any, Any]] = set()
    try:
        for item in graph.get_all(f"{act}/insights", params, notes=notes, shrink=False):
            sent.add((item.get(f"{level}_id"), item.get("date_start")))
            yield item
        return
    except MetaReduceDataError:
        log.info("Meta asks to reduce the data of %s (%s, %s); using a report run", act, level,
                 window)
    for item in report_rows(graph, act, params, window, notes=notes, page_limit=page_limit):
        if (item.get(f"{level}_id"), item.get("date_start")) not in sent:
            yield item


# --- reading one row -----------------------------------------------------------------------------

_ENTITY_KEYS = {level: tuple((part, f"{part}_id", f"{part}_name") for part in parts)
                for level, parts in PARENTS.items()}


@dataclass(frozen=True)
class InsightRow:
    """One insights row read: the entities it names (campaign first, each with its parent's id),
    its numbers, and the attribution setting Meta applied (None when the row does not say)."""

    entities: tuple[EntityRecord, ...]
    metrics: MetricRow
    attribution: str | None
    several_results: bool = False  # the row named results of several indicators (none kept)


def parse_row(item: Mapping[str, Any], level: str,
              conversion_actions: Sequence[str] = ()) -> InsightRow:
    """Read one row of daily insights at `level`; a clear DataDripError for anything unreadable.

    Conversions are the `conversion_actions` added up, or, when there are none, the first
    purchase type the row has (PURCHASE_TYPES); their value comes from `action_values` alike."""
    entities: list[EntityRecord] = []
    parent: str | None = None
    for part, id_key, name_key in _ENTITY_KEYS[level]:
        entity_id = item.get(id_key)
        if not isinstance(entity_id, str) or not entity_id:
            raise DataDripError(f"Meta sent a {level} insights row without {part}_id",
                                hint=BAD_DATA_HINT)
        name = item.get(name_key)
        entities.append(EntityRecord(part, entity_id, name if isinstance(name, str) and name
                                     else entity_id, parent))
        parent = entity_id
    assert parent is not None  # PARENTS has at least one level
    where = f"{level} {parent}"
    day = row_day(item, where)
    where = f"{where} on {day}"
    counts = _by_type(item.get("actions"), "actions", where)
    values = _by_type(item.get("action_values"), "action_values", where)
    attribution = item.get("attribution_setting")
    attribution = attribution if isinstance(attribution, str) and attribution else None
    withheld = attribution == MIXED and not any(key in item for key in ACTION_METRICS)
    read = _actions(counts, values, where)
    actions = None if withheld else read
    conversions, value = _conversions(read, counts, values, conversion_actions, where)
    link_clicks = None if withheld else \
        to_count(counts[LINK_CLICK], "actions[link_click]", where) if LINK_CLICK in counts else 0
    results = _results(item.get("results"), where)
    indicator, result = results[0] if len(results) == 1 else (None, None)
    reach = item.get("reach")
    metrics = MetricRow(level=level, entity_id=parent, date=day,
                        spend_micros=to_micros(item.get("spend", "0"), "spend", where),
                        impressions=to_count(item.get("impressions", "0"), "impressions", where),
                        clicks=to_count(item.get("clicks", "0"), "clicks", where),
                        conversions=conversions, conversion_value_micros=value,
                        reach=None if reach is None else to_count(reach, "reach", where),
                        link_clicks=link_clicks, result_indicator=indicator, results=result,
                        attribution_setting=attribution, actions=actions)
    return InsightRow(tuple(entities), metrics, attribution, several_results=len(results) > 1)


def row_day(item: Mapping[str, Any], where: str) -> dt.date:
    """The one account day a daily row covers (date_start = date_stop); an error naming `where`
    otherwise."""
    start, stop = item.get("date_start"), item.get("date_stop")
    try:
        day = dt.date.fromisoformat(start) if isinstance(start, str) else None
    except ValueError:
        day = None
    if day is None:
        raise DataDripError(f"Meta sent date_start = {_show(start)} for {where}: not a date",
                            hint=BAD_DATA_HINT)
    if stop != start:
        raise DataDripError(f"Meta sent a row for {where} covering {_show(start)} to {_show(stop)}, "
                            "not one day", hint=BAD_DATA_HINT)
    return day


def _actions(counts: Mapping[str, Any], values: Mapping[str, Any],
             where: str) -> tuple[ActionCount, ...]:
    """Every action type of the row as Meta sent it, in Meta's order (types with a value but no
    count last, count 0), each with its value in micros or None."""
    found = []
    for kind, count in counts.items():
        money = values.get(kind, _ABSENT)
        plain = type(count) is str and (money is _ABSENT or type(money) is str)
        key = (kind, count, money)
        action = _READ.get(key) if plain else None
        if action is None:
            action = ActionCount(kind, _count_of(count, "actions", kind, where),
                                 None if money is _ABSENT
                                 else _micros_of(money, "action_values", kind, where))
            if plain and len(_READ) < _COUNTS_KEPT:
                _READ[key] = action
        found.append(action)
    for kind, money in values.items():
        if kind not in counts:
            found.append(ActionCount(kind, _ZERO, _micros_of(money, "action_values", kind, where)))
    return tuple(found)


# An action read once from its strings is the same ActionCount (immutable) when the same strings
# come again: (type, count string, value string or _ABSENT) → ActionCount.
_ABSENT = object()
_READ: dict[tuple[str, Any, Any], ActionCount] = {}
# Action counts repeat a lot (small whole numbers): each distinct string is read once. Decimals are
# immutable, so sharing them is safe; the cache stops growing at _COUNTS_KEPT strings.
_COUNTS: dict[str, Decimal] = {}
_COUNTS_KEPT = 50_000
_ZERO = Decimal(0)


def _count_of(value: Any, field: str, kind: str, where: str) -> Decimal:
    """to_decimal of `field`[`kind`], its name only spelt out for an error."""
    if type(value) is str:
        found = _COUNTS.get(value)
        if found is not None:
            return found
        number = to_decimal(value, f"{field}[{kind}]", where)
        if len(_COUNTS) < _COUNTS_KEPT:
            _COUNTS[value] = number
        return number
    return to_decimal(value, f"{field}[{kind}]", where)


def _micros_of(value: Any, field: str, kind: str, where: str) -> int:
    """to_micros of `field`[`kind`], its name only spelt out for an error."""
    if type(value) is str:
        plain = _PLAIN_MONEY.fullmatch(value)
        if plain is not None:
            whole, fraction = plain.groups()
            return int(whole) * _PER_UNIT + (int(fraction.ljust(MICRO_PLACES, "0")) if fraction else 0)
    return to_micros(value, f"{field}[{kind}]", where)


def _results(results: Any, where: str) -> list[tuple[str, Decimal]]:
    """(indicator, count) of each indicator of `results`: the value of its "default" window (or
    its only value), 0 when it has no values."""
    if results is None:
        return []
    if type(results) is list and len(results) == 1:  # the common shape, read directly
        only = results[0]
        entries = only.get("values") if type(only) is dict else None
        indicator = only.get("indicator") if type(only) is dict else None
        if type(indicator) is str and indicator and type(entries) is list and len(entries) == 1:
            entry = entries[0]
            if type(entry) is dict and "value" in entry and \
                    entry.get("attribution_windows", [RESULT_WINDOW]) == [RESULT_WINDOW]:
                return [(indicator, _count_of(entry["value"], "results", indicator, where))]
    if not isinstance(results, list):
        raise DataDripError(f"Meta sent results for {where} that is not a list", hint=BAD_DATA_HINT)
    found: dict[str, Decimal] = {}
    for result in results:
        indicator = result.get("indicator") if isinstance(result, dict) else None
        entries = result.get("values", []) if isinstance(result, dict) else None
        if not isinstance(indicator, str) or not indicator or not isinstance(entries, list) or \
                not all(isinstance(e, dict) and "value" in e for e in entries):
            raise DataDripError(f"Meta sent an item of results for {where} without an indicator "
                                "and a list of values", hint=BAD_DATA_HINT)
        chosen = [e for e in entries if RESULT_WINDOW in (e.get("attribution_windows") or ())]
        if not chosen and len(entries) == 1:
            chosen = entries
        if len(chosen) > 1 or (entries and not chosen):
            raise DataDripError(f"Meta sent results[{indicator}] for {where} without one "
                                f"{RESULT_WINDOW!r} value", hint=BAD_DATA_HINT)
        count = _count_of(chosen[0]["value"], "results", indicator, where) if chosen else _ZERO
        if indicator in found:
            raise DataDripError(f"Meta sent results[{indicator}] twice for {where}",
                                hint=BAD_DATA_HINT)
        found[indicator] = count
    return list(found.items())


def row_conversions(item: Mapping[str, Any], wanted: Sequence[str], where: str) -> tuple[Decimal, int]:
    """A row's conversions and their value as parse_row counts them (`wanted` types added up,
    else the purchase family), for rows read without their actions (breakdowns)."""
    counts = _by_type(item.get("actions"), "actions", where)
    values = _by_type(item.get("action_values"), "action_values", where)
    return _conversions(_actions(counts, values, where), counts, values, wanted, where)


def _conversions(read: tuple[ActionCount, ...], counts: Mapping[str, Any],
                 values: Mapping[str, Any], wanted: Sequence[str],
                 where: str) -> tuple[Decimal, int]:
    """The conversions and their value from the row's actions already read (`read`; `counts`
    and `values` say which types the row has a count or a value for)."""
    if not read:
        return _ZERO, 0
    by_type = {action.action: action for action in read}
    if wanted:
        types = list(dict.fromkeys(wanted))
        count_types = [t for t in types if t in counts]
        value_types = [t for t in types if t in values]
    else:
        count_types = [t for t in PURCHASE_TYPES if t in counts][:1]
        value_types = [t for t in PURCHASE_TYPES if t in values][:1]
    total = sum((by_type[t].count for t in count_types), _ZERO)
    value = sum(by_type[t].value_micros or 0 for t in value_types)
    if value > LARGEST:
        raise DataDripError(f"Meta sent conversion values too large to store for {where}",
                            hint=BAD_DATA_HINT)
    return total, value


def _by_type(actions: Any, field: str, where: str) -> dict[str, Any]:
    """{action_type: value} from [{"action_type": …, "value": …}, …]; the first of a type counts."""
    if actions is None:
        return {}
    if not isinstance(actions, list):
        raise DataDripError(f"Meta sent {field} for {where} that is not a list", hint=BAD_DATA_HINT)
    found: dict[str, Any] = {}
    for action in actions:
        try:
            kind, value = action["action_type"], action["value"]
        except (TypeError, KeyError, IndexError):
            kind = value = None
        if type(kind) is not str or type(action) is not dict:
            raise DataDripError(f"Meta sent an item of {field} for {where} without action_type and "
                                "value", hint=BAD_DATA_HINT)
        if kind not in found:
            found[kind] = value
    return found


# --- numbers -------------------------------------------------------------------------------------

def to_decimal(value: Any, field: str, where: str) -> Decimal:
    """A Graph number (a JSON string; an int is taken too) as an exact, finite, non-negative
    Decimal. Floats are refused: they may have lost digits before we see them."""
    number: Decimal | None = None
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:  # a guard: the pattern already keeps these out
            number = None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    if number is None or not number.is_finite():
        raise DataDripError(f"Meta sent {field} = {_show(value)} for {where}: not a number",
                            hint=BAD_DATA_HINT)
    if number < 0:
        raise DataDripError(f"Meta sent {field} = {_show(value)} for {where}: a negative number",
                            hint=BAD_DATA_HINT)
    return number


# The common case, read without Decimal: no sign, no exponent, no leading zero, few enough digits
# to stay below 2^63 (12 integer digits of money, 18 of a count); the rest goes through Decimal.
_PLAIN_MONEY = re.compile(r"(0|[1-9][0-9]{0,11})(?:\.([0-9]{1,6}))?")
_PLAIN_COUNT = re.compile(r"0|[1-9][0-9]{0,17}")
_PER_UNIT: int = 10 ** MICRO_PLACES


def to_micros(value: Any, field: str, where: str) -> int:
    """Major units ("1234.56") as integer micros (1234560000), exactly."""
    if isinstance(value, str):
        plain = _PLAIN_MONEY.fullmatch(value)
        if plain is not None:
            whole, fraction = plain.groups()
            return int(whole) * _PER_UNIT + (int(fraction.ljust(MICRO_PLACES, "0")) if fraction else 0)
    return _scaled(to_decimal(value, field, where), MICRO_PLACES, value, field, where,
                   f"more than {MICRO_PLACES} decimals")


def to_count(value: Any, field: str, where: str) -> int:
    """A count ("10450") as int; "10450.0" is fine, "10450.5" is not."""
    if isinstance(value, str) and _PLAIN_COUNT.fullmatch(value):
        return int(value)
    return _scaled(to_decimal(value, field, where), 0, value, field, where, "not a whole number")


def _scaled(number: Decimal, places: int, raw: Any, field: str, where: str, finer: str) -> int:
    """number × 10^places as an int, with integer arithmetic only: exact or an error."""
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite, checked by to_decimal
    if len(digits) + exponent + places > 19:  # ≥ 10^19: beyond 64 bits whatever the digits
        raise DataDripError(f"Meta sent {field} = {_show(raw)} for {where}: too large",
                            hint=BAD_DATA_HINT)
    coefficient = int("".join(map(str, digits)))
    shift = exponent + places
    if coefficient == 0:
        return 0
    if -shift > len(digits):  # finer than the unit whatever the digits (and 10^-shift may be huge)
        raise DataDripError(f"Meta sent {field} = {_show(raw)} for {where}: {finer}",
                            hint=BAD_DATA_HINT)
    if shift >= 0:
        scaled = coefficient * int(10 ** shift)
    else:
        scaled, rest = divmod(coefficient, int(10 ** -shift))
        if rest:
            raise DataDripError(f"Meta sent {field} = {_show(raw)} for {where}: {finer}",
                                hint=BAD_DATA_HINT)
    if scaled > LARGEST:
        raise DataDripError(f"Meta sent {field} = {_show(raw)} for {where}: too large",
                            hint=BAD_DATA_HINT)
    return scaled  # never negative: to_decimal refuses those ("-0" is 0)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
