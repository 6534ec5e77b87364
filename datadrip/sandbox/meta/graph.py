"""The sandbox's Meta Graph API: versions, tokens, errors, ad accounts, usage headers and faults.

Insights and report runs live in insights.py, the login dialog and token endpoints in
dialog.py, what they share with this module in common.py; this module routes every
`/meta/graph/{version}/…` request to them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from datadrip.sandbox.data import Account
from datadrip.sandbox.meta import actions as meta_actions
from datadrip.sandbox.meta import dialog as meta_dialog
from datadrip.sandbox.meta import insights as meta_insights
from datadrip.sandbox.meta import objects as meta_objects
from datadrip.sandbox.meta.common import (
    INVALID_SESSION,
    REVOKED_REASONS,
    UNPARSEABLE,
    decode_cursor,
    encode_cursor,
    expired_message,
    graph_error,
    next_url,
    reduce_data_error,
    token_error,
    token_problem,
    usage_headers,
)
from datadrip.sandbox.state import SandboxContext, Token
from datadrip.sandbox.web import Request, Response, Router

NEWEST_VERSION = 26
OLDEST_LIVE_VERSION = 21
ACCOUNT_FIELDS = ("id", "account_id", "name", "currency", "timezone_name",
                  "timezone_offset_hours_utc", "account_status", "amount_spent")
DEFAULT_ACCOUNT_PAGE = 25
_VERSION = re.compile(r"v(\d+)\.(\d+)")


def revoke(sandbox: SandboxContext, token: Token, reason: int) -> None:
    with sandbox.state.lock:
        token.revoked = True
        sandbox.state.extra.setdefault(REVOKED_REASONS, {})[token.value] = reason


def forget_revocation(sandbox: SandboxContext, value: str) -> None:
    sandbox.state.extra.get(REVOKED_REASONS, {}).pop(value, None)


def request_token_value(request: Request) -> str | None:
    params = request.form() if request.method == "POST" else request.query
    return params.get("access_token") or request.bearer()


def authenticate(request: Request, sandbox: SandboxContext) -> Token | Response:
    """The request's live token, or the error Graph answers with."""
    value = request_token_value(request)
    if not value:
        return graph_error("An access token is required to request this resource.", 104)
    token = sandbox.state.token(value, "meta")
    problem = token_problem(token, value, sandbox)
    if problem is not None or token is None:
        return problem or token_error(UNPARSEABLE, None)
    return token


def meta_account(sandbox: SandboxContext, account_id: str) -> Account | None:
    account = sandbox.world.account(account_id)
    return account if account is not None and account.platform == "meta" else None


def no_such_object(object_id: str, method: str = "get") -> Response:
    return graph_error(f"Unsupported {method} request. Object with ID '{object_id}' does not exist, "
                       "cannot be loaded due to missing permissions, or does not support this "
                       "operation. Please read the Graph API documentation at "
                       "https://developers.facebook.com/docs/graph-api",
                       100, kind="GraphMethodException", subcode=33)


def account_object(sandbox: SandboxContext, account: Account, fields: list[str]) -> dict[str, Any]:
    """An AdAccount node with the asked fields (id always), typed as Graph types them."""
    now = sandbox.state.clock.now().astimezone(ZoneInfo(account.timezone))
    offset = Decimal((now.utcoffset() or dt.timedelta(0)).total_seconds()) / 3600
    values: dict[str, Any] = {
        "id": account.act_id, "account_id": account.id, "name": account.name,
        "currency": account.currency, "timezone_name": account.timezone,
        "timezone_offset_hours_utc": int(offset) if offset == int(offset) else float(offset),
        "account_status": 1 if account.status == "active" else 2,
    }
    node: dict[str, Any] = {}
    for field in fields:
        if field == "amount_spent":
            node[field] = str(meta_insights.lifetime_spend_minor(sandbox, account))
        else:
            node[field] = values[field]
    if "id" not in node:
        node["id"] = account.act_id
    return node


def parse_fields(raw: str | None, known: Iterable[str], default: list[str],
                 node_type: str) -> list[str] | Response:
    if raw is None or not raw.strip():
        return default
    fields = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [field for field in fields if field not in known]
    if unknown:
        return graph_error(f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type "
                           f"({node_type})", 100)
    return fields


def _adaccounts(request: Request, sandbox: SandboxContext) -> Response:
    fields = parse_fields(request.query.get("fields"), ACCOUNT_FIELDS, ["id"], "AdAccount")
    if isinstance(fields, Response):
        return fields
    accounts = sandbox.world.of_platform("meta")
    paged = _cursor_page(request, accounts)
    if isinstance(paged, Response):
        return paged
    page, paging = paged
    headers = usage_headers(sandbox, [a.id for a in page] or [accounts[0].id], "ads_management")
    return Response.json({"data": [account_object(sandbox, a, fields) for a in page], **paging},
                         headers=headers)


def _cursor_page(request: Request, items: Sequence[Any]) -> tuple[Sequence[Any], dict[str, Any]] | Response:
    """The page of `items` the request's `limit` and `after` cursor ask for, and its `paging`
    ({} for an empty page), or Graph's error for a bad limit or cursor."""
    limit = _positive_int(request.query.get("limit"), DEFAULT_ACCOUNT_PAGE)
    if limit is None:
        return graph_error("(#100) Param limit must be a positive integer", 100)
    start = 0
    if request.query.get("after"):
        position = decode_cursor(request.query["after"])
        if position is None or not position.isdigit():
            return graph_error("(#100) Invalid after cursor", 100)
        start = int(position) + 1
    page = items[start:start + limit]
    if not page:
        return page, {}
    paging: dict[str, Any] = {"cursors": {"before": encode_cursor(str(start)),
                                          "after": encode_cursor(str(start + len(page) - 1))}}
    if start + len(page) < len(items):
        paging["next"] = next_url(request, paging["cursors"]["after"])
    return page, {"paging": paging}


CUSTOM_CONVERSION_FIELDS = ("id", "name", "custom_event_type", "is_archived")


def _custom_conversions(request: Request, sandbox: SandboxContext, account: Account) -> Response:
    """`act_…/customconversions`: the account's custom conversions, cursor-paged."""
    fields = parse_fields(request.query.get("fields"), CUSTOM_CONVERSION_FIELDS, ["id"],
                          "CustomConversion")
    if isinstance(fields, Response):
        return fields
    paged = _cursor_page(request, meta_actions.custom_conversions(account))
    if isinstance(paged, Response):
        return paged
    page, paging = paged
    body = {"data": [{name: item[name] for name in fields} for item in page], **paging}
    return Response.json(body, headers=usage_headers(sandbox, [account.id], "ads_management"))


def _positive_int(raw: str | None, default: int) -> int | None:
    if raw is None or raw == "":
        return default
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def _graph(request: Request, match: re.Match[str], sandbox: SandboxContext) -> Response:
    rest = match.group("rest")
    head, _, path = rest.partition("/")
    version = _VERSION.fullmatch(head)
    if version is None:
        # Unversioned calls go to the oldest live version, as Graph does.
        path, version_text = rest, f"v{OLDEST_LIVE_VERSION}.0"
    else:
        major = int(version.group(1))
        if major < OLDEST_LIVE_VERSION:
            return graph_error("(#2635) You are calling a deprecated version of the Ads API. Please "
                               f"update to the latest version: v{NEWEST_VERSION}.0.", 2635)
        if major > NEWEST_VERSION or version.group(2) != "0":
            return graph_error(f"Unknown path components: /{rest}", 2500)
        version_text = head
    path = path.strip("/")
    method = request.method
    if path == "oauth/access_token" and method in ("GET", "POST"):
        return meta_dialog.exchange(request, sandbox)
    if path == "debug_token" and method == "GET":
        return meta_dialog.debug_token(request, sandbox)
    token = authenticate(request, sandbox)
    if isinstance(token, Response):
        return token
    if path == "me/permissions" and method == "DELETE":
        revoke(sandbox, token, 458)
        return Response.json({"success": True})
    if path == "me/adaccounts" and method == "GET":
        return _adaccounts(request, sandbox)
    account_path = re.fullmatch(r"act_(\d+)(/insights|/customconversions|/campaigns|/adsets|/ads)?",
                                path)
    if account_path is not None:
        account = meta_account(sandbox, account_path.group(1))
        if account is None:
            return no_such_object(f"act_{account_path.group(1)}", method.lower())
        if account_path.group(2) == "/customconversions":
            if method == "GET":
                return _custom_conversions(request, sandbox, account)
            return no_such_object(path, method.lower())
        if account_path.group(2) in ("/campaigns", "/adsets", "/ads"):
            if method != "GET":
                return no_such_object(path, method.lower())
            return meta_objects.list_edge(request, sandbox, account, account_path.group(2)[1:])
        if account_path.group(2) and method == "GET":
            return meta_insights.sync_insights(request, sandbox, account, version_text)
        if account_path.group(2) and method == "POST":
            return meta_insights.create_run(request, sandbox, account)
        if method == "GET":
            fields = parse_fields(request.query.get("fields"), ACCOUNT_FIELDS, ["id", "account_id"],
                                  "AdAccount")
            if isinstance(fields, Response):
                return fields
            return Response.json(account_object(sandbox, account, fields),
                                 headers=usage_headers(sandbox, [account.id], "ads_management"))
    run_path = re.fullmatch(r"(\d+)(/insights)?", path)
    if run_path is not None and method == "GET":
        run = sandbox.state.report_runs.get(run_path.group(1))
        if run is not None:
            if run_path.group(2):
                return meta_insights.read_run(request, sandbox, run)
            return meta_insights.run_status(request, sandbox, run)
    return no_such_object(path.split("/")[0] or "me", method.lower())


def register(router: Router, sandbox: SandboxContext) -> None:
    """Add the Graph API and the login dialog; the system-user token exists from the start."""
    credentials = sandbox.state.credentials
    sandbox.state.issue("meta", "SYSTEM_USER", lifetime=None, prefix="",
                        scopes=("ads_read", "business_management"),
                        value=credentials.meta_system_user_token)
    for method in ("GET", "POST", "DELETE"):
        router.add(method, r"/meta/graph/(?P<rest>.+)",
                   lambda request, match: _graph(request, match, sandbox))
    meta_dialog.register(router, sandbox)


def _path_account(request: Request, sandbox: SandboxContext) -> str:
    """The ad account a request concerns, for the usage header of a throttled answer."""
    found = re.search(r"/act_(\d+)", request.path)
    if found is not None:
        return found.group(1)
    run = re.search(r"/(\d{6,})(?:/insights)?/?$", request.path)
    if run is not None and run.group(1) in sandbox.state.report_runs:
        return sandbox.state.report_runs[run.group(1)].account_id
    return sandbox.world.of_platform("meta")[0].id


def fault_response(kind: str, request: Request, sandbox: SandboxContext, regain: float = 300.0) -> Response:
    """Meta's own answer for a fault of this kind; a rate limit lifts after `regain` seconds."""
    if kind == "rate_limit":
        return graph_error(
            "(#80000) There have been too many calls from this ad-account. Wait a bit and try again. "
            "For more info, please refer to "
            "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
            80000, subcode=2446079, transient=True,
            headers=usage_headers(sandbox, [_path_account(request, sandbox)], throttled=True,
                                  regain=regain))
    if kind == "server_error":
        # Real 500s of this kind carry no type (Airbyte test_errors.py "error_500_unknown").
        return graph_error("An unknown error occurred", 1, 500, kind=None, subcode=99)
    if kind == "unavailable":
        return graph_error("(#2) Service temporarily unavailable", 2, 503, transient=True)
    if kind == "reduce_data":
        return reduce_data_error()
    if kind == "expired_token":
        value = request_token_value(request)
        token = sandbox.state.token(value, "meta")
        expired = token.expires_at if token is not None and token.expires_at is not None else None
        when = expired if expired is not None and expired <= sandbox.state.clock.now() else \
            sandbox.state.clock.now() - dt.timedelta(hours=1)
        return token_error(expired_message(when), 463)
    if kind == "revoked_token":
        token = sandbox.state.token(request_token_value(request), "meta")
        if token is not None:
            revoke(sandbox, token, 460)
        return token_error(INVALID_SESSION, 460)
    if kind == "permission":
        return graph_error("(#200) Requires business_management permission to manage the object",
                           200, 403)
    if kind == "job_failed":
        return meta_insights.fail_run(request, sandbox)
    if kind in ("bad_actions", "bad_results", "no_reach", "bad_reach"):
        return meta_insights.spoil_rows(kind, sandbox.router.dispatch(request)
                                        or no_such_object(request.path))
    if kind == "high_usage":
        response = sandbox.router.dispatch(request) or no_such_object(request.path)
        names = {"x-business-use-case-usage", "x-ad-account-usage", "x-app-usage",
                 "x-fb-ads-insights-throttle"}
        response.headers = [(k, v) for k, v in response.headers if k.lower() not in names]
        response.headers += usage_headers(sandbox, [_path_account(request, sandbox)], busy=True)
        return response
    return graph_error("An unknown error occurred", 1, 500, kind=None, subcode=99)
