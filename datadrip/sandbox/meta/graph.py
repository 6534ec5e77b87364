"""The sandbox's Meta Graph API: versions, tokens, errors, ad accounts, usage headers and faults.

Insights and report runs live in insights.py, the login dialog and token endpoints in
dialog.py; this module routes every `/meta/graph/{version}/…` request to them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import secrets
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from datadrip.sandbox.data import Account
from datadrip.sandbox.state import SandboxContext, Token
from datadrip.sandbox.web import Request, Response, Router

NEWEST_VERSION = 26
OLDEST_LIVE_VERSION = 21
ACCESS_TIER = "standard_access"
# Why a token was revoked decides its 190 subcode: 458 app removed (DELETE /me/permissions),
# 460 session invalidated (password change; the revoked_token fault).
REVOKED_REASONS = "meta_revoked_reasons"
ACCOUNT_FIELDS = ("id", "account_id", "name", "currency", "timezone_name",
                  "timezone_offset_hours_utc", "account_status", "amount_spent")
DEFAULT_ACCOUNT_PAGE = 25
_VERSION = re.compile(r"v(\d+)\.(\d+)")


def graph_error(message: str, code: int, status: int = 400, *, kind: str | None = "OAuthException",
                subcode: int | None = None, transient: bool | None = None,
                extra: dict[str, Any] | None = None,
                headers: Iterable[tuple[str, str]] = ()) -> Response:
    """A Graph API error body: {"error": {message, type, code, error_subcode, …, fbtrace_id}}."""
    error: dict[str, Any] = {"message": message}
    if kind is not None:
        error["type"] = kind
    error["code"] = code
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    error.update(extra or {})
    trace = "A" + secrets.token_urlsafe(16)[:22]
    error["fbtrace_id"] = trace
    return Response.json({"error": error}, status, [("x-fb-trace-id", trace), *headers])


def reduce_data_error() -> Response:
    # Real bodies carry neither type nor subcode (Airbyte test_errors.py).
    return graph_error("Please reduce the amount of data you're asking for, then retry your request",
                       1, 500, kind=None)


def token_error(message: str, subcode: int | None) -> Response:
    # Graph repeats a 190's message in WWW-Authenticate, as OAuth bearer errors do.
    challenge = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
    return graph_error(message, 190, subcode=subcode, headers=[("WWW-Authenticate", challenge)])


def expired_message(expired_at: dt.datetime) -> str:
    pacific = expired_at.astimezone(ZoneInfo("America/Los_Angeles"))
    return ("Error validating access token: Session has expired on "
            f"{pacific:%A, %d-%b-%y %H:%M:%S} {pacific.tzname()}.")


INVALID_SESSION = ("Error validating access token: The session has been invalidated because the user "
                   "changed their password or Facebook has changed the session for security reasons")
UNPARSEABLE = "Invalid OAuth access token - Cannot parse access token"
LOGGED_OUT = "Error validating access token: The session is invalid because the user logged out."


def token_problem(token: Token | None, value: str | None, sandbox: SandboxContext) -> Response | None:
    """The 190 error for a token that is unknown, expired or revoked; None when it is live."""
    if token is None:
        # An EAA… token this server never issued (or forgot) reads as a logged-out session;
        # anything else cannot even be parsed, and Graph sends no subcode for that.
        if value is not None and value.startswith("EAA"):
            return token_error(LOGGED_OUT, 467)
        return token_error(UNPARSEABLE, None)
    if token.revoked:
        reason = sandbox.state.extra.get(REVOKED_REASONS, {}).get(token.value, 460)
        if reason == 458:
            app = sandbox.state.credentials.meta_app_id
            return token_error(f"Error validating access token: The user has not authorized "
                               f"application {app}.", 458)
        return token_error(INVALID_SESSION, 460)
    if token.expires_at is not None and token.expires_at <= sandbox.state.clock.now():
        return token_error(expired_message(token.expires_at), 463)
    return None


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


# Cursors look like Meta's: base64 with each "=" written as "ZD" ("0" → "MAZDZD").
def encode_cursor(position: str) -> str:
    return base64.b64encode(position.encode()).decode().replace("=", "ZD")


def decode_cursor(cursor: str) -> str | None:
    for pads in (0, 1, 2):
        if pads and not cursor.endswith("ZD" * pads):
            continue
        candidate = (cursor[:-2 * pads] if pads else cursor) + "=" * pads
        if len(candidate) % 4:
            continue
        try:
            return base64.b64decode(candidate, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def next_url(request: Request, after: str) -> str:
    """`paging.next`: this request again on this server, token included, from `after`."""
    params = {key: value for key, value in request.query.items() if key != "before"}
    if request.method == "POST":
        params.update(request.form())
    params["after"] = after
    return f"{request.base_url}{request.path}?{urlencode(params)}"


# Usage accounting: the share of the hourly budget grows slowly (a percent per 20 calls), so a
# long sync shows rising numbers without tripping a client's back-off on its own.
def _count_call(sandbox: SandboxContext, key: str) -> int:
    now = sandbox.state.clock.now()
    with sandbox.state.lock:
        calls: list[dt.datetime] = sandbox.state.extra.setdefault("meta_calls", {}).setdefault(key, [])
        calls.append(now)
        hour_ago = now - dt.timedelta(hours=1)
        while calls and calls[0] <= hour_ago:
            calls.pop(0)
        return len(calls)


# Calls that stand for a busy hour (the high_usage fault: 90 %) and a throttled one (102 %).
BUSY_CALLS = 1800
THROTTLED_CALLS = 2040


def usage_headers(sandbox: SandboxContext, account_ids: Iterable[str], use_case: str = "ads_insights",
                  *, throttled: bool = False, busy: bool = False,
                  regain: float = 300.0) -> list[tuple[str, str]]:
    """X-Business-Use-Case-Usage, X-Ad-Account-Usage, X-App-Usage, x-fb-ads-insights-throttle.

    `busy`: the account near its limit (90 %) but not over it; `throttled`: over it, with
    `regain` seconds to regain access (whole minutes in the business header, as Meta counts)."""
    pinned = THROTTLED_CALLS if throttled else BUSY_CALLS if busy else None
    app_calls = _count_call(sandbox, "app") if pinned is None else pinned - 40
    business: dict[str, list[dict[str, Any]]] = {}
    account_pct = 0.0
    for account_id in account_ids:
        calls = _count_call(sandbox, account_id) if pinned is None else pinned
        account_pct = max(account_pct, float(round(Decimal(calls) / 20, 2)))
        business[account_id] = [{
            "type": use_case, "call_count": (calls + 19) // 20, "total_cputime": (calls + 39) // 40,
            "total_time": (calls + 29) // 30,
            "estimated_time_to_regain_access": int(regain // 60) if throttled else 0,
            "ads_api_access_tier": ACCESS_TIER}]
    app = {"call_count": min(100, (app_calls + 19) // 20), "total_cputime": min(100, (app_calls + 39) // 40),
           "total_time": min(100, (app_calls + 29) // 30)}
    account_usage = {"acc_id_util_pct": account_pct,
                     "reset_time_duration": round(regain) if throttled else 0,
                     "ads_api_access_tier": ACCESS_TIER}
    throttle = {"app_id_util_pct": float(round(Decimal(app_calls) / 100, 2)),
                "acc_id_util_pct": account_pct, "ads_api_access_tier": ACCESS_TIER}
    return [("X-Business-Use-Case-Usage", _compact(business)),
            ("X-Ad-Account-Usage", _compact(account_usage)),
            ("X-App-Usage", _compact(app)),
            ("x-fb-ads-insights-throttle", _compact(throttle))]


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def account_object(sandbox: SandboxContext, account: Account, fields: list[str]) -> dict[str, Any]:
    """An AdAccount node with the asked fields (id always), typed as Graph types them."""
    from datadrip.sandbox.meta import insights as meta_insights

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
    limit = _positive_int(request.query.get("limit"), DEFAULT_ACCOUNT_PAGE)
    if limit is None:
        return graph_error("(#100) Param limit must be a positive integer", 100)
    accounts = sandbox.world.of_platform("meta")
    start = 0
    if request.query.get("after"):
        position = decode_cursor(request.query["after"])
        if position is None or not position.isdigit():
            return graph_error("(#100) Invalid after cursor", 100)
        start = int(position) + 1
    page = accounts[start:start + limit]
    headers = usage_headers(sandbox, [a.id for a in page] or [accounts[0].id], "ads_management")
    body: dict[str, Any] = {"data": [account_object(sandbox, a, fields) for a in page]}
    if page:
        body["paging"] = {"cursors": {"before": encode_cursor(str(start)),
                                      "after": encode_cursor(str(start + len(page) - 1))}}
        if start + len(page) < len(accounts):
            body["paging"]["next"] = next_url(request, body["paging"]["cursors"]["after"])
    return Response.json(body, headers=headers)


def _positive_int(raw: str | None, default: int) -> int | None:
    if raw is None or raw == "":
        return default
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def _graph(request: Request, match: re.Match[str], sandbox: SandboxContext) -> Response:
    from datadrip.sandbox.meta import dialog as meta_dialog
    from datadrip.sandbox.meta import insights as meta_insights

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
    account_path = re.fullmatch(r"act_(\d+)(/insights)?", path)
    if account_path is not None:
        account = meta_account(sandbox, account_path.group(1))
        if account is None:
            return no_such_object(f"act_{account_path.group(1)}", method.lower())
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
    from datadrip.sandbox.meta import dialog as meta_dialog

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
    from datadrip.sandbox.meta import insights as meta_insights

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
    if kind == "high_usage":
        response = sandbox.router.dispatch(request) or no_such_object(request.path)
        names = {"x-business-use-case-usage", "x-ad-account-usage", "x-app-usage",
                 "x-fb-ads-insights-throttle"}
        response.headers = [(k, v) for k, v in response.headers if k.lower() not in names]
        response.headers += usage_headers(sandbox, [_path_account(request, sandbox)], busy=True)
        return response
    return graph_error("An unknown error occurred", 1, 500, kind=None, subcode=99)
