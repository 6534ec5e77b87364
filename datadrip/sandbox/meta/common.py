"""What every Meta Graph endpoint of the sandbox shares: error bodies, token checks, cursors and
paging, and the usage headers."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import secrets
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from datadrip.sandbox.state import SandboxContext, Token
from datadrip.sandbox.web import Request, Response

ACCESS_TIER = "standard_access"
# Why a token was revoked decides its 190 subcode: 458 app removed (DELETE /me/permissions),
# 460 session invalidated (password change; the revoked_token fault).
REVOKED_REASONS = "meta_revoked_reasons"


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
