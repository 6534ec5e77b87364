"""Meta insights for the sandbox: the synchronous edge, asynchronous report runs, cursor paging.

Rows are built from the world's ad-level rows and summed up to the asked level here (not with
`World.rows` at that level) because link clicks and the attribution-window split are per ad and
must add up across levels; reach uses the same overlap factors as data.py, so daily rows equal
`World.rows` at campaign and ad-set level.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from datadrip.sandbox.data import MICROS, MINOR_UNITS, Account, Entity, Row
from datadrip.sandbox.meta import actions as meta_actions
from datadrip.sandbox.meta.breakdowns import parts as breakdown_parts
from datadrip.sandbox.meta.breakdowns import reach_withheld, withholds_impression_device
from datadrip.sandbox.meta.breakdowns import record as record_breakdowns
from datadrip.sandbox.meta.common import (
    decode_cursor,
    encode_cursor,
    graph_error,
    next_url,
    reduce_data_error,
    usage_headers,
)
from datadrip.sandbox.meta.query import Query, months_back, parse_query
from datadrip.sandbox.state import ReportRun, SandboxContext
from datadrip.sandbox.web import Request, Response

# A synchronous request estimated above this many rows (days × entities) fails with "reduce the
# amount of data"; report runs have no such limit.
REDUCE_DATA_ROWS = 5_000
DEFAULT_LIMIT = 25
PURCHASE_TYPES = meta_actions.PURCHASE_TYPES
REACH_OVERLAP = {"ad": 1.0, "adset": 0.9, "campaign": 0.8, "account": 0.7}
# Each ad set has an attribution setting (Meta's default 7-day click, 1-day view, but see
# actions.attribution_setting); rows report theirs in `attribution_setting`, "mixed" for a campaign
# or account over differently attributed ad sets, and such rows come without action metrics
# (`actions`, `action_values`, `results`): Meta does not aggregate across settings.
ATTRIBUTION_SETTING = meta_actions.DEFAULT_SETTING
# Statuses that Meta's default status filtering (turned on by any `filtering`) leaves out.
FILTERED_STATUSES = ("archived", "removed")
FILTER_FIELDS = {"campaign.id": "campaign_id", "adset.id": "parent_id", "ad.id": "id"}


@dataclass
class _Sum:
    """One entity's numbers over one bucket; purchases split by attribution window."""

    impressions: int = 0
    clicks: int = 0
    spend: int = 0
    reach: int = 0
    link_clicks: int = 0
    purchases: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # window → purchases
    values: dict[str, int] = field(default_factory=dict)  # window → value micros
    value: int = 0
    days: set[dt.date] = field(default_factory=set)
    others: dict[str, int] = field(default_factory=dict)  # the other action types' counts
    settings: set[str] = field(default_factory=set)  # the ad sets' attribution settings


def unique_reach(ad_reach: int, level: str, days: int) -> int:
    """The sandbox's model of the people one entity reached over a bucket of `days` days with
    delivery, from the sum of its ads' daily reach: the ads' audiences overlap (REACH_OVERLAP at
    the level, as data.py's daily rows) and so do the days (each day after the first adds a
    tenth to the divisor), so a range's reach is below the sum of its days' reach, as Meta's
    is. Deterministic."""
    return max(1, int(ad_reach * REACH_OVERLAP[level] / (1 + 0.1 * (days - 1))))


def period_reach_truth(sandbox: SandboxContext, account_id: str, level: str, key: str,
                       since: dt.date, until: dt.date) -> int | None:
    """What the sandbox answers as the reach of `key` at `level` over since..until (a range
    request without time_increment); None when it had no delivery then."""
    account = sandbox.world.account(account_id)
    assert account is not None
    today = sandbox.state.clock.today_in(account.timezone)
    query = Query(level, since, until, "all_days", ("reach",), ())
    found = dict(_bucket_sums(sandbox, account, query, since, until, today))
    total = found.get(key)
    return None if total is None else unique_reach(total.reach, level, len(total.days))


def _keeps(ad: Entity, filters: tuple[tuple[str, str, frozenset[str]], ...]) -> bool:
    for attribute, operator, values in filters:
        inside = str(getattr(ad, attribute)) in values
        if inside != (operator in ("IN", "EQUAL")):
            return False
    return True


def _buckets(query: Query, first: dt.date, today: dt.date) -> Iterator[tuple[dt.date, dt.date]]:
    """The (start, stop) periods of the query from the one starting at `first`; none after today."""
    start = first
    while start <= query.until and start <= today:
        if query.increment == "all_days":
            stop = query.until
        elif query.increment == "monthly":
            stop = min(query.until, months_back(start.replace(day=1), -1) - dt.timedelta(days=1))
        else:
            stop = min(query.until, start + dt.timedelta(days=int(query.increment) - 1))
        yield start, stop
        start = stop + dt.timedelta(days=1)


def _split(row: Row, step: int, purchases: int) -> tuple[int, dict[str, int], dict[str, int], int]:
    """Link clicks and the purchases (and values) per attribution window for one ad-day.

    The account default is 7d_click + 1d_view; 1d_click ≤ 7d_click ≤ 28d_click."""
    ad_number, ordinal = int(row.entity.id), row.date.toordinal()
    link_clicks = meta_actions.link_clicks(row)
    # 10–30% view-through, rounded by a deterministic dither so small counts split too.
    dither = (ad_number * 37 + ordinal * 101) % 100
    view = (purchases * (10 + (ad_number + ordinal) % 21) + dither) // 100
    click7 = purchases - view
    counts = {"1d_view": view, "7d_click": click7, "1d_click": click7 * 4 // 5,
              "28d_click": click7 + purchases // 10, "1d_ev": view // 2, "default": purchases}
    total = row.conversion_value_micros

    def share(count: int) -> int:
        return (total * count // purchases) // step * step if purchases else 0

    if not purchases:
        total = 0
    values = {"1d_view": share(view)}
    values["7d_click"] = total - values["1d_view"]
    values["1d_click"] = share(counts["1d_click"])
    values["28d_click"] = values["7d_click"] + share(purchases // 10)
    values["1d_ev"] = share(counts["1d_ev"])
    values["default"] = total
    return link_clicks, counts, values, purchases


def _bucket_sums(sandbox: SandboxContext, account: Account, query: Query, start: dt.date, stop: dt.date,
                 today: dt.date) -> list[tuple[str, _Sum]]:
    step = 10 ** (6 - MINOR_UNITS.get(account.currency, 2))  # the currency's minor unit in micros
    sums: dict[str, _Sum] = {}
    settings = _settings(sandbox, account)
    for row in sandbox.world.rows(account.id, "ad", start, stop, today):
        ad = row.entity
        if query.filters and not _keeps(ad, query.filters):
            continue
        if query.status_filtered and ad.status in FILTERED_STATUSES:
            continue
        key = {"ad": ad.id, "adset": str(ad.parent_id), "campaign": ad.campaign_id,
               "account": account.id}[query.level]
        total = sums.setdefault(key, _Sum())
        link_clicks, counts, values, purchases = _split(
            row, step, meta_actions.purchases(account, row))
        total.settings.add(settings[str(ad.parent_id)])
        others = total.others
        for kind, count in meta_actions.ad_actions(account, row, link_clicks).items():
            others[kind] = others.get(kind, 0) + count
        total.impressions += row.impressions
        total.clicks += row.clicks
        total.spend += row.spend_micros
        total.reach += row.reach
        total.link_clicks += link_clicks
        total.purchases += purchases
        total.value += row.conversion_value_micros if purchases else 0
        total.days.add(row.date)
        for window in query.windows:  # only the windows asked for are ever shown
            total.counts[window] = total.counts.get(window, 0) + counts[window]
            total.values[window] = total.values.get(window, 0) + values[window]
    order = [account.id] if query.level == "account" else \
        [e.id for e in sandbox.world.entities(account.id, query.level)]
    return [(key, sums[key]) for key in order if key in sums and sums[key].impressions]


def _settings(sandbox: SandboxContext, account: Account) -> dict[str, str]:
    """The attribution setting of each ad set of the account, by ad-set id."""
    found: dict[str, dict[str, str]] = sandbox.state.extra.setdefault("meta_attribution", {})
    if account.id not in found:
        adsets = sandbox.world.entities(account.id, "adset")
        found[account.id] = {adset.id: meta_actions.attribution_setting(account, adset, adsets)
                             for adset in adsets}
    return found[account.id]


def _entity_index(sandbox: SandboxContext, account: Account) -> dict[str, Entity]:
    """Campaigns, ad sets and ads of an account by id (ids are unique across levels)."""
    indexes: dict[str, dict[str, Entity]] = sandbox.state.extra.setdefault("meta_entity_index", {})
    if account.id not in indexes:
        indexes[account.id] = {e.id: e for level in ("campaign", "adset", "ad")
                               for e in sandbox.world.entities(account.id, level)}
    return indexes[account.id]


def _number(value: Decimal, places: int = 6) -> str:
    """Graph's way with numbers: a string, rounded, without trailing zeros ("5339.5", "100")."""
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    text = format(rounded, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _money(micros: int, currency: str) -> str:
    """Micros (already whole minor units) as Graph writes money: "5339.5", "100" (integer math:
    this runs for every row served)."""
    places = MINOR_UNITS.get(currency, 2)
    units, rest = divmod(micros, MICROS)
    fraction = f"{rest // 10 ** (6 - places):0{places}d}".rstrip("0") if places else ""
    return f"{units}.{fraction}" if fraction else str(units)


def _format(sandbox: SandboxContext, account: Account, query: Query, key: str, total: _Sum,
            start: dt.date, stop: dt.date, today: dt.date) -> dict[str, Any]:
    names: dict[str, str] = {}
    if query.level != "account":
        index = _entity_index(sandbox, account)
        chain = [index[key]]
        while chain[-1].parent_id is not None:
            chain.append(index[str(chain[-1].parent_id)])
        for item in chain:
            names[f"{item.level}_id"] = item.id
            names[f"{item.level}_name"] = item.name_on(today)
    wanted = set(query.fields)
    spend = Decimal(total.spend) / MICROS
    reach = unique_reach(total.reach, query.level, len(total.days))
    metrics: dict[str, Any] = {
        "account_id": account.id, "account_name": account.name, "account_currency": account.currency,
        "spend": _money(total.spend, account.currency), "impressions": str(total.impressions),
        "clicks": str(total.clicks), "inline_link_clicks": str(total.link_clicks),
        "reach": str(reach), **names,
    }
    mixed = len(total.settings) > 1
    metrics["attribution_setting"] = meta_actions.MIXED if mixed else \
        next(iter(total.settings), ATTRIBUTION_SETTING)
    # The derived rates cost Decimal arithmetic on every row: only when asked for.
    if "frequency" in wanted:
        metrics["frequency"] = _number(Decimal(total.impressions) / reach)
    if "ctr" in wanted:
        metrics["ctr"] = _number(Decimal(total.clicks) * 100 / total.impressions)
    if "cpm" in wanted:
        metrics["cpm"] = _number(spend * 1000 / total.impressions)
    if "cpc" in wanted and total.clicks:
        metrics["cpc"] = _number(spend / total.clicks)
    if "results" in wanted and not mixed:
        indicator = meta_actions.INDICATORS[account.objective]
        count = meta_actions.result_count(account, total.others, total.purchases)
        metrics["results"] = [{"indicator": indicator, "values": [
            {"value": str(count), "attribution_windows": ["default"]}]} if count else
            {"indicator": indicator}]
    if wanted & {"actions", "action_values"} and not mixed:
        actions, action_values = _actions(query, total, account.currency)
        if actions:
            metrics["actions"] = actions
        if action_values:
            metrics["action_values"] = action_values
    if "purchase_roas" in wanted and total.purchases and total.spend:
        metrics["purchase_roas"] = [{"action_type": "omni_purchase",
                                     "value": _number(Decimal(total.value) / total.spend)}]
    row = {name: metrics[name] for name in query.fields if name in metrics}
    row["date_start"], row["date_stop"] = start.isoformat(), stop.isoformat()
    return row


def _actions(query: Query, total: _Sum, currency: str) -> tuple[list[dict[str, str]],
                                                                list[dict[str, str]]]:
    actions: list[dict[str, str]] = []
    values: list[dict[str, str]] = []
    if total.link_clicks:
        item = {"action_type": "link_click", "value": str(total.link_clicks)}
        for window in query.windows:
            if window.endswith("click") or window == "default":
                item[window] = str(total.link_clicks)
        actions.append(item)
    if total.purchases:
        # Formatted once, then repeated under every purchase-family name (never sum them).
        count_fields = {"value": str(total.purchases)}
        money_fields = {"value": _money(total.value, currency)}
        for window in query.windows:
            if total.counts.get(window):
                count_fields[window] = str(total.counts[window])
                money_fields[window] = _money(total.values[window], currency)
        for action_type in PURCHASE_TYPES:
            actions.append({"action_type": action_type, **count_fields})
            values.append({"action_type": action_type, **money_fields})
    # The other types are attributed on click here: every click window (and default) repeats the
    # count, so the windows asked for still add up to the value.
    for action_type, count in sorted(total.others.items()):
        item = {"action_type": action_type, "value": str(count)}
        for window in query.windows:
            if window.endswith("click") or window == "default":
                item[window] = str(count)
        actions.append(item)
    return actions, values


def spoil_rows(kind: str, response: Response) -> Response:
    """The "bad_actions", "bad_results", "no_reach" and "bad_reach" faults: the answer's rows
    with `actions` items without their value, `results` as a bare number, or (rows over more
    than one day: a period's reach) without `reach` (withheld) or with `reach` as words."""
    body = json.loads(response.body) if response.body.startswith(b"{") else None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return response
    for row in body["data"]:
        if kind == "bad_actions" and "actions" in row:
            row["actions"] = [{"action_type": item["action_type"]} for item in row["actions"]]
        elif kind == "bad_results" and "results" in row:
            row["results"] = "13"
        elif kind in ("no_reach", "bad_reach") and row.get("date_start") != row.get("date_stop"):
            if kind == "no_reach":
                row.pop("reach", None)
            elif "reach" in row:
                row["reach"] = "about 1200"
    names = {"content-type", "content-length"}
    return Response.json(body, response.status,
                         [(k, v) for k, v in response.headers if k.lower() not in names])


def _position(cursor: str | None) -> tuple[dt.date, int] | None | Response:
    if not cursor:
        return None
    decoded = decode_cursor(cursor)
    try:
        ordinal, _, index = (decoded or "").partition(":")
        return dt.date.fromordinal(int(ordinal)), int(index)
    except (ValueError, OverflowError):
        return graph_error("(#100) The after cursor is invalid", 100)


def page(request: Request, sandbox: SandboxContext, account: Account, query: Query, today: dt.date,
         headers: list[tuple[str, str]]) -> Response:
    """One page of rows after the request's cursor: regenerated from the cursor's bucket on."""
    raw_limit = request.query.get("limit") or str(DEFAULT_LIMIT)
    if not raw_limit.isdigit() or int(raw_limit) < 1:
        return graph_error("(#100) Param limit must be a positive integer", 100)
    limit = int(raw_limit)
    if withholds_impression_device(sandbox, account, query.breakdowns, today):
        return Response.json({"data": []}, headers=headers)
    after = _position(request.query.get("after"))
    if isinstance(after, Response):
        return after
    first = after[0] if after is not None else query.since
    found: list[tuple[str, dict[str, Any]]] = []
    for start, stop in _buckets(query, first, today):
        sums = _bucket_sums(sandbox, account, query, start, stop, today)
        for index, (key, total, split) in enumerate(breakdown_rows(sandbox, account, query, sums, start)
                                                    if query.breakdowns else
                                                    [(key, total, None) for key, total in sums]):
            if after is not None and start == after[0] and index <= after[1]:
                continue
            row = _format(sandbox, account, query, key, total, start, stop, today)
            if split is not None:
                row = _broken_down(query, row, split, today)
            found.append((encode_cursor(f"{start.toordinal()}:{index}"), row))
            if len(found) > limit:
                break
        if len(found) > limit:
            break
    rows = found[:limit]
    body: dict[str, Any] = {"data": [row for _, row in rows]}
    if rows:
        body["paging"] = {"cursors": {"before": rows[0][0], "after": rows[-1][0]}}
        if len(found) > limit:
            body["paging"]["next"] = next_url(request, rows[-1][0])
    return Response.json(body, headers=headers)


def breakdown_rows(sandbox: SandboxContext, account: Account, query: Query,
                   sums: list[tuple[str, _Sum]], start: dt.date
                   ) -> list[tuple[str, _Sum, tuple[dict[str, str], int]]]:
    """Each entity's sum split over the query's breakdown values, with each part's fields and
    reach (the entity row's reach, split)."""
    found = []
    for key, total in sums:
        reach = unique_reach(total.reach, query.level, len(total.days))
        for fields, part, part_reach in breakdown_parts(sandbox, account, query.breakdowns,
                                                        query.windows, key, start, total, reach):
            found.append((key, part, (fields, part_reach)))
    return found


def _broken_down(query: Query, row: dict[str, Any], split: tuple[dict[str, str], int],
                 today: dt.date) -> dict[str, Any]:
    fields, reach = split
    if reach_withheld(query.since, today):
        row.pop("reach", None)
        row.pop("frequency", None)
    elif "reach" in row:
        row["reach"] = str(reach)
        if "frequency" in row:
            row["frequency"] = _number(Decimal(int(row["impressions"])) / max(1, reach))
    row.update(fields)
    return row


def estimated_rows(sandbox: SandboxContext, account: Account, query: Query, today: dt.date) -> int:
    days = max(0, (min(query.until, today) - query.since).days + 1)
    entities = 1 if query.level == "account" else len(sandbox.world.entities(account.id, query.level))
    return days * entities


def sync_insights(request: Request, sandbox: SandboxContext, account: Account, version: str) -> Response:
    today = sandbox.state.clock.today_in(account.timezone)
    query = parse_query(request.query, today)
    headers = usage_headers(sandbox, [account.id])
    if isinstance(query, Response):
        query.headers.extend(headers)
        return query
    if query.breakdowns and "after" not in request.query:
        record_breakdowns(sandbox, account, dict(request.query))
    if estimated_rows(sandbox, account, query, today) > REDUCE_DATA_ROWS:
        response = reduce_data_error()
        response.headers.extend(headers)
        return response
    return page(request, sandbox, account, query, today, headers)


def create_run(request: Request, sandbox: SandboxContext, account: Account) -> Response:
    params = {k: v for k, v in request.form().items() if k != "access_token"}
    today = sandbox.state.clock.today_in(account.timezone)
    query = parse_query(params, today)
    if isinstance(query, Response):
        return query
    if query.breakdowns:
        record_breakdowns(sandbox, account, params)
    with sandbox.state.lock:
        number = sandbox.state.extra.get("meta_run_counter", 0) + 1
        sandbox.state.extra["meta_run_counter"] = number
        run = ReportRun(str(6021234567890 + number * 7919), account.id, params,
                        sandbox.state.clock.now(), polls_to_complete=sandbox.config.async_polls)
        sandbox.state.report_runs[run.id] = run
    return Response.json({"report_run_id": run.id}, headers=usage_headers(sandbox, [account.id]))


RUN_FIELDS = ("id", "account_id", "time_ref", "time_completed", "async_status",
              "async_percent_completion", "date_start", "date_stop", "is_running", "is_bookmarked",
              "friendly_name", "emails", "schedule_id")


def _completed(run: ReportRun) -> bool:
    return not run.failed and run.polls > run.polls_to_complete


def run_status(request: Request, sandbox: SandboxContext, run: ReportRun) -> Response:
    """The run object; it moves one step on each poll: Not Started → Running → Completed."""
    with sandbox.state.lock:
        run.polls += 1
    account = sandbox.world.account(run.account_id)
    assert account is not None  # runs are only made for existing accounts
    query = parse_query(run.params, run_today(sandbox, run))
    assert not isinstance(query, Response)  # validated when the run was made
    if run.failed:
        status, percent = "Job Failed", 0
    elif _completed(run):
        status, percent = "Job Completed", 100
    elif run.polls == 1:
        status, percent = "Job Not Started", 0
    else:
        status, percent = "Job Running", 100 * (run.polls - 1) // max(1, run.polls_to_complete)
    time_ref = int(run.created_at.timestamp())
    node: dict[str, Any] = {
        "id": run.id, "account_id": run.account_id, "time_ref": time_ref, "async_status": status,
        "async_percent_completion": percent, "date_start": query.since.isoformat(),
        "date_stop": query.until.isoformat(), "is_running": status in ("Job Not Started", "Job Running"),
        "is_bookmarked": False, "friendly_name": "", "emails": [], "schedule_id": "0"}
    if status == "Job Completed":
        node["time_completed"] = time_ref + 2 * run.polls_to_complete
    asked = request.query.get("fields")
    if asked:
        unknown = [f.strip() for f in asked.split(",") if f.strip() not in RUN_FIELDS]
        if unknown:
            return graph_error(f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type "
                               "(AdReportRun)", 100)
        wanted = ["id", *(f.strip() for f in asked.split(","))]
    else:
        wanted = ["id", "account_id", "time_ref", "time_completed", "async_status",
                  "async_percent_completion", "date_start", "date_stop", "is_running"]
    return Response.json({name: node[name] for name in dict.fromkeys(wanted) if name in node},
                         headers=usage_headers(sandbox, [run.account_id]))


def run_today(sandbox: SandboxContext, run: ReportRun) -> dt.date:
    """The account's day when the run was made: its rows are a snapshot of that moment."""
    account = sandbox.world.account(run.account_id)
    assert account is not None
    return run.created_at.astimezone(ZoneInfo(account.timezone)).date()


def read_run(request: Request, sandbox: SandboxContext, run: ReportRun) -> Response:
    headers = usage_headers(sandbox, [run.account_id])
    if not _completed(run):
        return graph_error(
            "Error accessing adreport job.", 2601, subcode=1815107, transient=True,
            extra={"error_user_title": "Loading Async Ads Report Failed",
                   "error_user_msg": "Sorry, the report cannot be loaded successfully. Please check "
                   "if your job status is completed instead of failed or running before fetching "
                   "the data."}, headers=headers)
    account = sandbox.world.account(run.account_id)
    assert account is not None
    today = run_today(sandbox, run)
    query = parse_query(run.params, today)
    assert not isinstance(query, Response)
    return page(request, sandbox, account, query, today, headers)


def lifetime_spend_minor(sandbox: SandboxContext, account: Account) -> int:
    """The account's spend to date in the currency's minor unit (amount_spent)."""
    today = sandbox.state.clock.today_in(account.timezone)
    cache: dict[tuple[str, dt.date], int] = sandbox.state.extra.setdefault("meta_amount_spent", {})
    key = (account.id, today)
    if key not in cache:
        first = min(e.start for e in sandbox.world.entities(account.id, "ad"))
        micros = sum(row.spend_micros for row in sandbox.world.rows(account.id, "ad", first, today, today))
        cache[key] = micros // 10 ** (6 - MINOR_UNITS.get(account.currency, 2))
    return cache[key]


def fail_run(request: Request, sandbox: SandboxContext) -> Response:
    """The job_failed fault: the report run this request starts (POST act_…/insights) or polls
    (GET /{run_id}) ends as "Job Failed"; any other request is answered as usual."""
    poll = re.search(r"/(\d{6,})/?$", request.path)
    if request.method == "GET" and poll is not None and poll.group(1) in sandbox.state.report_runs:
        with sandbox.state.lock:
            sandbox.state.report_runs[poll.group(1)].failed = True
    response = sandbox.router.dispatch(request) or graph_error(f"no such path: {request.path}", 100)
    if request.method == "POST" and request.path.rstrip("/").endswith("/insights") \
            and response.status == 200:
        run_id = str(json.loads(response.body)["report_run_id"])
        with sandbox.state.lock:
            sandbox.state.report_runs[run_id].failed = True
    return response
