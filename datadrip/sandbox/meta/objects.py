"""The sandbox's Meta ad objects: `act_…/campaigns`, `/adsets` and `/ads` with their settings.

As Graph does, these edges leave deleted and archived objects out unless the request filters on
`effective_status` with those statuses (`filtering=[{"field":"effective_status","operator":"IN",
"value":[…]}]`). Budgets are strings in the currency's budget unit (Meta's per-currency offset:
whole yen, cents of a dollar); times are the account's local midnight with its UTC offset. An
ad's `creative` is `{"id": …}` unless expanded as `creative{title,thumbnail_url}`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from datadrip.sandbox.data import MICROS, Account, Entity
from datadrip.sandbox.meta.common import (
    decode_cursor,
    encode_cursor,
    graph_error,
    next_url,
    usage_headers,
)
from datadrip.sandbox.state import SandboxContext
from datadrip.sandbox.web import Request, Response

# Currencies whose budgets Meta counts in whole units (offset 1); every other one in hundredths.
WHOLE_UNIT_CURRENCIES = frozenset({"CLP", "COP", "CRC", "HUF", "ISK", "IDR", "JPY", "KRW", "PYG",
                                   "TWD"})
EDGES = {"campaigns": "campaign", "adsets": "adset", "ads": "ad"}
NODE_TYPES = {"campaign": "Campaign", "adset": "AdSet", "ad": "Ad"}
STATUS = {"active": "ACTIVE", "paused": "PAUSED", "removed": "ARCHIVED", "archived": "ARCHIVED"}
HIDDEN = frozenset({"DELETED", "ARCHIVED"})
EFFECTIVE_STATUSES = frozenset({"ACTIVE", "PAUSED", "DELETED", "ARCHIVED", "IN_PROCESS",
                                "WITH_ISSUES", "CAMPAIGN_PAUSED", "ADSET_PAUSED", "DISAPPROVED",
                                "PENDING_REVIEW", "PREAPPROVED", "PENDING_BILLING_INFO"})
OBJECTIVES = {"sales": "OUTCOME_SALES", "traffic": "OUTCOME_TRAFFIC", "leads": "OUTCOME_LEADS",
              "awareness": "OUTCOME_AWARENESS"}
BIDS = {"lowest_cost": "LOWEST_COST_WITHOUT_CAP", "cost_cap": "COST_CAP",
        "bid_cap": "LOWEST_COST_WITH_BID_CAP", "min_roas": "LOWEST_COST_WITH_MIN_ROAS"}
FIELDS = {
    "campaign": ("id", "name", "objective", "status", "effective_status", "daily_budget",
                 "lifetime_budget", "bid_strategy", "start_time", "stop_time", "account_id"),
    "adset": ("id", "name", "campaign_id", "status", "effective_status", "optimization_goal",
              "attribution_spec", "daily_budget", "lifetime_budget", "bid_strategy", "start_time",
              "end_time", "account_id"),
    "ad": ("id", "name", "adset_id", "campaign_id", "status", "effective_status", "creative",
           "account_id"),
}
CREATIVE_FIELDS = ("id", "title", "thumbnail_url", "name")
DEFAULT_PAGE = 25


def budget_text(micros: int, currency: str) -> str:
    """Micros of `currency` as Meta writes a budget: "5000" for ¥5,000, "2000" for $20.00."""
    per_unit = MICROS if currency in WHOLE_UNIT_CURRENCIES else MICROS // 100
    return str(micros // per_unit)


def list_edge(request: Request, sandbox: SandboxContext, account: Account, edge: str) -> Response:
    """One page of an account's campaigns, ad sets or ads."""
    level = EDGES[edge]
    fields = _fields(request.query.get("fields"), level)
    if isinstance(fields, Response):
        return fields
    statuses = _status_filter(request.query.get("filtering"))
    if isinstance(statuses, Response):
        return statuses
    limit_text = request.query.get("limit") or str(DEFAULT_PAGE)
    if not limit_text.isdigit() or int(limit_text) <= 0:
        return graph_error("(#100) Param limit must be a positive integer", 100)
    start = 0
    if request.query.get("after"):
        position = decode_cursor(request.query["after"])
        if position is None or not position.isdigit():
            return graph_error("(#100) Invalid after cursor", 100)
        start = int(position) + 1
    today = sandbox.state.clock.today_in(account.timezone)
    world = sandbox.world
    entities = [e for e in world.entities(account.id, level)
                if e.start <= today and STATUS[e.status] in statuses]
    page = entities[start:start + int(limit_text)]
    body: dict[str, Any] = {"data": [_node(sandbox, account, e, fields, today) for e in page]}
    if page:
        after = encode_cursor(str(start + len(page) - 1))
        body["paging"] = {"cursors": {"before": encode_cursor(str(start)), "after": after}}
        if start + len(page) < len(entities):
            body["paging"]["next"] = next_url(request, after)
    return Response.json(body, headers=usage_headers(sandbox, [account.id], "ads_management"))


def _fields(raw: str | None, level: str) -> dict[str, tuple[str, ...] | None] | Response:
    """{field: None, "creative": ("title", …)}: the asked fields, an expansion's subfields."""
    if raw is None or not raw.strip():
        return {"id": None}
    found: dict[str, tuple[str, ...] | None] = {}
    depth, part, parts = 0, "", []
    for char in raw:
        depth += (char == "{") - (char == "}")
        if char == "," and depth == 0:
            parts.append(part)
            part = ""
        else:
            part += char
    parts.append(part)
    for text in (p.strip() for p in parts if p.strip()):
        name, _, rest = text.partition("{")
        name = name.strip()
        if name not in FIELDS[level]:
            return graph_error(f"(#100) Tried accessing nonexisting field ({name}) on node type "
                               f"({NODE_TYPES[level]})", 100)
        if rest:
            if name != "creative" or not rest.endswith("}"):
                return graph_error(f"(#100) Field {name} cannot be expanded", 100)
            sub = tuple(s.strip() for s in rest[:-1].split(",") if s.strip())
            unknown = [s for s in sub if s not in CREATIVE_FIELDS]
            if unknown:
                return graph_error(f"(#100) Tried accessing nonexisting field ({unknown[0]}) on "
                                   "node type (AdCreative)", 100)
            found[name] = sub
        else:
            found[name] = None
    return found


def _status_filter(raw: str | None) -> frozenset[str] | Response:
    """The effective statuses a `filtering` parameter asks for; without one, all but the hidden."""
    visible = frozenset(EFFECTIVE_STATUSES - HIDDEN)
    if raw is None or not raw.strip():
        return visible
    try:
        rules = json.loads(raw)
    except ValueError:
        return graph_error("(#100) param filtering must be an array.", 100)
    if not isinstance(rules, list):
        return graph_error("(#100) param filtering must be an array.", 100)
    wanted = visible  # any filtering keeps the default status filter, unless it names statuses
    for rule in rules:
        if not isinstance(rule, dict) or not {"field", "operator", "value"} <= rule.keys():
            return graph_error("(#100) param filtering[0] must be an object with field, operator "
                               "and value", 100)
        if rule["field"] != "effective_status":
            continue
        values = rule["value"]
        if rule["operator"] != "IN" or not isinstance(values, list) or \
                not all(isinstance(v, str) and v in EFFECTIVE_STATUSES for v in values):
            return graph_error("(#100) Filtering field effective_status with operation "
                               f"{rule['operator']} and value {json.dumps(values)} is not "
                               "supported", 100)
        wanted = frozenset(values)
    return wanted


def _node(sandbox: SandboxContext, account: Account, entity: Entity,
          fields: dict[str, tuple[str, ...] | None], today: dt.date) -> dict[str, Any]:
    setup = sandbox.world.setup(entity, today)
    pinned = sandbox.world.pinned_budget_texts.get((account.id, entity.id))
    status = STATUS[entity.status]
    values: dict[str, Any] = {
        "id": entity.id, "name": entity.name_on(today), "account_id": account.id,
        "status": status, "effective_status": status,
        "objective": OBJECTIVES[setup.objective],
        "bid_strategy": BIDS[setup.bid_strategy] if entity.level == "campaign" else None,
        "start_time": _time(setup.start, account, dt.time(0)),
        "optimization_goal": setup.optimization_goal,
    }
    end = _time(setup.end, account, dt.time(23, 59, 59)) if setup.end is not None else None
    values["stop_time" if entity.level == "campaign" else "end_time"] = end
    if setup.daily_budget_micros is not None:
        values["daily_budget"] = pinned if pinned is not None else \
            budget_text(setup.daily_budget_micros, account.currency)
    if setup.lifetime_budget_micros is not None:
        values["lifetime_budget"] = pinned if pinned is not None else \
            budget_text(setup.lifetime_budget_micros, account.currency)
    if setup.attribution_days is not None:
        click, view = setup.attribution_days
        values["attribution_spec"] = [{"event_type": "CLICK_THROUGH", "window_days": click}] + \
            ([{"event_type": "VIEW_THROUGH", "window_days": view}] if view else [])
    if entity.level == "adset":
        values["campaign_id"] = entity.parent_id
    if entity.level == "ad":
        values["adset_id"], values["campaign_id"] = entity.parent_id, entity.campaign_id
    node: dict[str, Any] = {}
    for name, sub in fields.items():
        if name == "creative":
            creative = {"id": f"9{entity.id}", "name": f"{entity.name} creative",
                        "title": setup.creative_title, "thumbnail_url": setup.thumbnail_url}
            node[name] = {key: creative[key] for key in ("id", *(sub or ()))}
        elif values.get(name) is not None:  # Graph leaves unset fields out
            node[name] = values[name]
    node.setdefault("id", entity.id)
    return node


def _time(day: dt.date | None, account: Account, at: dt.time) -> str | None:
    if day is None:
        return None
    moment = dt.datetime.combine(day, at, tzinfo=ZoneInfo(account.timezone))
    return moment.strftime("%Y-%m-%dT%H:%M:%S%z")
