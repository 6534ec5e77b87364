"""The sandbox's Google Ads REST API: listAccessibleCustomers, googleAds:search and :searchStream.

Auth, versions, login-customer-id and account rules, paging and error bodies follow
docs/…/google-ads-api.md (the reference); GAQL is parsed for real (gaql.py) and run against the
synthetic world (query.py). The OAuth server is in oauth.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from datadrip.sandbox.data import Account
from datadrip.sandbox.google import breakdowns as google_breakdowns
from datadrip.sandbox.google import gaql
from datadrip.sandbox.google import oauth as google_oauth
from datadrip.sandbox.google import query as google_query
from datadrip.sandbox.google.errors import (
    NOT_ENABLED,
    AdsError,
    for_fault,
    new_request_id,
    permission_denied,
    respond,
    unauthenticated,
)
from datadrip.sandbox.state import SandboxContext
from datadrip.sandbox.web import Request, Response, Router

OLDEST_LIVE, NEWEST = 23, 26  # v22 was sunset on 2026-10-07; v26 is the newest (2026-10-14)
# The list in state.extra of queries that filtered on a status (tests read it).
STATUS_FILTERED = "google_status_filtered"
PAGE_SIZE = 10_000  # googleAds:search pages are fixed at 10,000 rows (docs/reporting/paging)
STREAM_BATCH = 10_000  # rows per searchStream batch, as clients observe (Opteo #453)
API = r"/google/ads/(?P<version>[^/]+)"
Handler = Callable[[Request, "re.Match[str]", str, str], Response]
NOT_FOUND_PAGE = ("<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error 404 (Not Found)!!1"
                  "</title><p><b>404.</b> <ins>That’s an error.</ins><p>The requested URL <code>"
                  "{path}</code> was not found on this server. <ins>That’s all we know.</ins></html>")


def register(router: Router, sandbox: SandboxContext) -> None:
    """Add the Ads API and OAuth routes."""
    google_oauth.register(router, sandbox)
    router.add("GET", rf"{API}/customers:listAccessibleCustomers",
               _api(sandbox, lambda request, match, version, rid: _accessible(sandbox, rid)))
    router.add("POST", rf"{API}/customers/(?P<cid>[^/]+)/googleAds:(?P<method>search|searchStream)",
               _api(sandbox, lambda request, match, version, rid: _search(
                   request, match, sandbox, rid, _version(version))))
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        router.add(method, r"/google/ads(/.*)?", lambda request, _: _not_found(request))


def fault_response(kind: str, request: Request, sandbox: SandboxContext) -> Response:
    """Google's own answer for a fault of this kind (OAuth shapes at the OAuth server)."""
    if request.path.startswith("/google/oauth/"):
        return google_oauth.fault_response(kind, request, sandbox)
    match = re.match(API, request.path)
    version = match["version"] if match and _version(match["version"]) else f"v{NEWEST}"
    if kind == "bad_share":
        return _spoil_shares(sandbox.router.dispatch(request) or _not_found(request))
    if kind == "revoked_token" and request.bearer():
        google_oauth.revoke_grant(sandbox, request.bearer() or "")
    return respond(for_fault(kind), version, stream=request.path.endswith(":searchStream"))


def _spoil_shares(response: Response) -> Response:
    """The "bad_share" fault: every row's search impression share, where it has one, is 1.5."""
    if not response.body.startswith((b"[", b"{")):
        return response
    body = json.loads(response.body)
    for batch in body if isinstance(body, list) else [body]:
        for row in batch.get("results", []) if isinstance(batch, dict) else []:
            if "searchImpressionShare" in row.get("metrics", {}):
                row["metrics"]["searchImpressionShare"] = 1.5
    names = {"content-type", "content-length"}
    return Response.json(body, response.status,
                         [(k, v) for k, v in response.headers if k.lower() not in names])


def _not_found(request: Request) -> Response:
    return Response.html(NOT_FOUND_PAGE.format(path=request.path.removeprefix("/google/ads")), 404)


def _version(text: str) -> int | None:
    found = re.fullmatch(r"v(\d+)", text)
    return int(found.group(1)) if found else None


def _api(sandbox: SandboxContext, handler: Handler) -> Callable[[Request, re.Match[str]], Response]:
    """Version, auth and error handling around one endpoint."""

    def wrapped(request: Request, match: re.Match[str]) -> Response:
        version = match["version"]
        number = _version(version)
        if number is None or number > NEWEST:
            return _not_found(request)
        request_id = new_request_id()
        stream = request.path.endswith(":searchStream")
        try:
            _authenticate(request, sandbox)
            if number < OLDEST_LIVE:
                raise AdsError.one(400, "requestError", "UNSUPPORTED_VERSION",
                                   f" Version {version} is deprecated. Requests to this version "
                                   "will be blocked.")
            response = handler(request, match, version, request_id)
        except AdsError as error:
            return respond(error, version, stream=stream, request_id=request_id)
        except gaql.GaqlError as error:
            failure = AdsError.one(400, error.category, error.code, error.message)
            return respond(failure, version, stream=stream, request_id=request_id)
        response.headers.append(("request-id", request_id))
        return response

    return wrapped


def _authenticate(request: Request, sandbox: SandboxContext) -> None:
    value = request.bearer()
    if not value:
        raise unauthenticated(missing=True)
    token = sandbox.state.token(value, "google")
    if token is None or token.kind != "access" or not sandbox.state.is_live(token):
        raise unauthenticated()


def _accessible(sandbox: SandboxContext, request_id: str) -> Response:
    direct = [f"customers/{a.id}" for a in sandbox.world.of_platform("google") if a.manager_id is None]
    return Response.json({"resourceNames": direct})


def _reach(request: Request, cid: str, sandbox: SandboxContext) -> Account:
    """The account, if this caller may read it directly or through its manager."""
    if not re.fullmatch(r"\d{10}", cid):
        raise AdsError.one(400, "requestError", "INVALID_CUSTOMER_ID", f"Invalid customer ID '{cid}'.")
    account = sandbox.world.account(cid)
    if account is None or account.platform != "google":
        raise permission_denied()
    login = request.headers.get("login-customer-id")
    via = login if login and login != cid else None
    if via is None and account.manager_id is not None:
        raise permission_denied()
    if via is not None and via not in _managers_above(sandbox, account):
        raise permission_denied()
    if account.status == "disabled":
        raise AdsError.one(403, "authorizationError", "CUSTOMER_NOT_ENABLED", NOT_ENABLED)
    return account


def _managers_above(sandbox: SandboxContext, account: Account) -> set[str]:
    """Every manager up the account's hierarchy: any of them may be the login-customer-id."""
    above: set[str] = set()
    parent = account.manager_id
    while parent is not None and parent not in above:
        above.add(parent)
        manager = sandbox.world.account(parent)
        parent = manager.manager_id if manager is not None else None
    return above


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise AdsError(400, [], "Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(body, dict):
        raise AdsError(400, [], "Invalid JSON payload received. Expected an object.")
    return body


def _search(request: Request, match: re.Match[str], sandbox: SandboxContext, request_id: str,
            version: int | None = None) -> Response:
    cid, stream = match["cid"], match["method"] == "searchStream"
    account = _reach(request, cid, sandbox)
    body = _body(request)
    if "pageSize" in body and not stream:
        raise AdsError.one(400, "requestError", "PAGE_SIZE_NOT_SUPPORTED",
                           f"Setting the page size is not supported. Search Responses will have "
                           f"fixed page size of '{PAGE_SIZE}' rows.")
    text = body.get("query")
    if not isinstance(text, str) or not text.strip():
        raise AdsError.one(400, "requestError", "REQUIRED_FIELD_MISSING",
                           "Required field was not specified.", location="query")
    query = gaql.parse(text)
    if google_breakdowns.recorded(query.resource, query.select):
        with sandbox.state.lock:
            sandbox.state.extra.setdefault(google_breakdowns.QUERIES, []).append(text)
    if any(c.field.endswith(".status") for c in query.where):
        # A status filter drops removed campaigns and the spend they had: tests check DataDrip
        # never sends one.
        with sandbox.state.lock:
            sandbox.state.extra.setdefault(STATUS_FILTERED, []).append(text)
    today = sandbox.state.clock.today_in(account.timezone)
    outcome = google_query.run(query, sandbox.world, account, today, cid, version)
    setting = str(body.get("summaryRowSetting", "NO_SUMMARY_ROW"))
    summary = outcome.summary if setting in ("SUMMARY_ROW_WITH_RESULTS", "SUMMARY_ROW_ONLY") else None
    rows = [] if setting == "SUMMARY_ROW_ONLY" else outcome.rows
    consumption = str(100 + 3 * len(outcome.rows))
    if body.get("validateOnly") is True:
        return Response.json({"fieldMask": outcome.field_mask, "requestId": request_id})
    if stream:
        return Response.json(_batches(rows, summary, outcome.field_mask, request_id, consumption))
    return Response.json(_page(body, cid, text, setting, rows, summary, outcome.field_mask,
                               request_id, consumption))


def _batches(rows: list[dict[str, Any]], summary: dict[str, Any] | None, mask: str,
             request_id: str, consumption: str) -> list[dict[str, Any]]:
    batches: list[dict[str, Any]] = [
        {"results": rows[start:start + STREAM_BATCH], "fieldMask": mask, "requestId": request_id}
        for start in range(0, len(rows), STREAM_BATCH)]
    if summary is not None:
        batches.append({"summaryRow": summary, "fieldMask": mask, "requestId": request_id})
    if not batches:  # zero rows: one element, no "results" key
        batches.append({"fieldMask": mask, "requestId": request_id})
    batches[-1]["queryResourceConsumption"] = consumption
    return batches


def _page(body: dict[str, Any], cid: str, text: str, setting: str, rows: list[dict[str, Any]],
          summary: dict[str, Any] | None, mask: str, request_id: str,
          consumption: str) -> dict[str, Any]:
    digest = hashlib.sha256(f"{cid}\n{setting}\n{text}".encode()).hexdigest()[:16]
    offset = 0
    if body.get("pageToken"):
        offset = _read_token(str(body["pageToken"]), digest, len(rows))
    page: dict[str, Any] = {}
    chunk = rows[offset:offset + PAGE_SIZE]
    if chunk:
        page["results"] = chunk
    last = offset + PAGE_SIZE >= len(rows)
    if not last:
        token = f"{digest}:{offset + PAGE_SIZE}".encode()
        page["nextPageToken"] = base64.urlsafe_b64encode(token).decode().rstrip("=")
    if body.get("returnTotalResultsCount") is True:
        page["totalResultsCount"] = str(len(rows))
    if last and summary is not None:
        page["summaryRow"] = summary
    page.update({"fieldMask": mask, "requestId": request_id,
                 "queryResourceConsumption": consumption})
    return page


def _read_token(token: str, digest: str, total: int) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        owner, _, offset = raw.partition(":")
        if owner == digest and offset.isdigit() and 0 < int(offset) < total:
            return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    # A token belongs to one query: another query, or garbage, is refused.
    raise AdsError.one(400, "requestError", "INVALID_PAGE_TOKEN", "Page token is invalid.",
                       location="page_token")
