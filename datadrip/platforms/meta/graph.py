"""A small Meta Graph API client: requests with the access token, Graph error bodies as exceptions,
paging, and pacing by Meta's usage headers."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from datadrip.core.errors import DataDripError, ReauthRequiredError
from datadrip.platforms.http import (
    RetryPolicy,
    Sleep,
    TrafficLog,
    Wait,
    WaitFn,
    retry_later,
    send,
    tell_wait,
)
from datadrip.platforms.meta.login import REAUTH_HINT
from datadrip.platforms.meta.retry import (
    MetaUsage,
    is_meta_reduce_data,
    meta_retryable,
    meta_usage,
    usage_pace,
)
from datadrip.secrets.store import redact

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

SERVICE = "Meta"
REAUTH_CODES = frozenset({190, 102})  # invalid or expired token; session key invalid
PERMISSION_CODES = frozenset({10, *range(200, 300)})
PERMISSION_HINT = ("Log in again with 'datadrip connect meta CLIENT' and allow ads_read, or ask the "
                   "Business Manager admin to give this user access to the ad account.")


class MetaApiError(DataDripError):
    """Meta refused a request. `code` and `subcode` are Graph's; `status` the HTTP status."""

    def __init__(self, message: str, *, status: int, code: int | None = None,
                 subcode: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.subcode = subcode


class MetaReduceDataError(MetaApiError):
    """Meta's "Please reduce the amount of data you're asking for" (code 1, HTTP 500): ask for less
    (a smaller page, a shorter window, an asynchronous report run), not the same again."""


class GraphClient:
    """`{graph_url}/{api_version}/{path}` with `access_token`, retrying what Meta calls temporary.
    The token goes in the query string (a POST's form body), as Meta's own `paging.next` links
    carry it, so no URL is ever put in a message.

    After every answer the usage headers set a pause before the next call (retry.meta_usage): one
    that grows with utilisation from 75 %, or Meta's time to regain access. `notes` (a TrafficLog,
    FetchNotes for instance) counts requests and those pauses."""

    def __init__(self, *, http: httpx.Client, graph_url: str, api_version: str, access_token: str,
                 retry: RetryPolicy | None = None, sleep: Sleep = time.sleep,
                 on_wait: WaitFn | None = None) -> None:
        self._http = http
        self._base = f"{graph_url.rstrip('/')}/{api_version.strip('/')}"
        self._token = access_token
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._on_wait = on_wait
        self._pause = 0.0  # before the next call, from the last answer's usage headers
        self._pause_why = MetaUsage()

    def __repr__(self) -> str:
        return f"GraphClient({self._base!r})"

    @property
    def sleep(self) -> Sleep:
        return self._sleep

    def tell(self, wait: Wait) -> None:
        """Let the caller know of a wait about to start (report runs tell their polls)."""
        tell_wait(self._on_wait, wait)

    def get(self, path: str, params: Mapping[str, str] | None = None, *,
            notes: TrafficLog | None = None) -> dict[str, Any]:
        """One object (or one page) as a JSON object."""
        return self._call("GET", f"{self._base}/{path.lstrip('/')}", dict(params or {}), path, notes)

    def post(self, path: str, form: Mapping[str, str], *, notes: TrafficLog | None = None
             ) -> dict[str, Any]:
        """POST a form (the token goes in it too) and return the JSON object answered."""
        return self._call("POST", f"{self._base}/{path.lstrip('/')}", dict(form), path, notes)

    def get_all(self, path: str, params: Mapping[str, str] | None = None, *,
                notes: TrafficLog | None = None, shrink: bool = True) -> Iterator[dict[str, Any]]:
        """Every item of an edge, page after page, until a page has no `paging.next`.

        A short or empty page is not the end; only a missing `next` is (Meta "Paginated Results").
        With `shrink`, "reduce the amount of data" halves the page's `limit` and asks again;
        without it (or at limit 1) MetaReduceDataError goes to the caller."""
        url, query = f"{self._base}/{path.lstrip('/')}", dict(params or {})
        followed: set[str] = set()
        while True:
            try:
                page = self._call("GET", url, query, path, notes)
            except MetaReduceDataError:
                limit = query.get("limit", "")
                if not shrink or not limit.isdigit() or int(limit) <= 1:
                    raise
                query["limit"] = str(int(limit) // 2)
                log.info("Meta: reduce the data of %s; page size now %s", path, query["limit"])
                continue
            data = page.get("data")
            if not isinstance(data, list):
                raise DataDripError(f"Meta answered {path} without a data list",
                                    hint="Check [meta] graph_url and api_version.")
            yield from (item for item in data if isinstance(item, dict))
            paging = page.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            if not isinstance(following, str) or not following:
                return
            if following in followed:  # a server bug must not become an endless loop
                raise DataDripError(f"Meta's paging of {path} repeated itself; stopped",
                                    hint="Try again later.")
            followed.add(following)
            url, query = self._next(following, url)

    def _next(self, following: str, url: str) -> tuple[str, dict[str, str]]:
        # The token goes only where graph_url points: a `next` naming another host (a proxy's
        # upstream, say) is replayed against our own endpoint with its query.
        ours, theirs = urlsplit(self._base), urlsplit(following)
        query = dict(parse_qsl(theirs.query, keep_blank_values=True))
        if (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc):
            return following.split("?", 1)[0], query
        return url, query

    def _call(self, method: str, url: str, values: dict[str, str], path: str,
              notes: TrafficLog | None) -> dict[str, Any]:
        self._wait_for_usage(notes)
        values = {**values, "access_token": self._token}
        response = send(self._http, method, url, service=SERVICE, classify=meta_retryable,
                        params=values if method == "GET" else None,
                        data=values if method != "GET" else None, policy=self._retry,
                        sleep=self._sleep, traffic=notes, on_wait=self._on_wait)
        usage = meta_usage(response.headers)
        # Our own pace never waits longer than the policy allows; Meta's regain time may, and
        # then the next call gives up (RetryLaterError) instead of sleeping.
        self._pause = max(min(usage_pace(usage.percent), self._retry.max_wait), usage.regain_seconds)
        self._pause_why = usage
        try:
            body = response.json()
        except ValueError:  # not JSON, or not UTF-8
            body = None
        if response.status_code >= 400:
            raise graph_error(response.status_code, body, self._token, path)
        if not isinstance(body, dict):
            raise DataDripError(f"Meta answered {path} with something that is not a JSON object "
                                f"(HTTP {response.status_code})",
                                hint="Try again; if it persists, check [meta] graph_url.")
        return body

    def _wait_for_usage(self, notes: TrafficLog | None) -> None:
        pause, self._pause = self._pause, 0.0
        if pause <= 0:
            return
        usage = self._pause_why
        if pause > self._retry.max_wait:
            raise retry_later(SERVICE, pause, f"{usage.describe()}: its usage headers say access is "
                                              "limited")
        log.info("Meta: usage is high (%s); pausing %.1f s before the next call", usage.describe(),
                 pause)
        regained = usage.regain_seconds > 0 and pause == usage.regain_seconds
        self.tell(Wait(SERVICE, pause, usage.describe(), "rate_limit" if regained else "pace"))
        self._sleep(pause)
        if notes is not None:
            notes.throttled_seconds += pause


def graph_error(status: int, body: Any, token: str, path: str) -> DataDripError:
    """The exception for a Graph error body {"error": {code, error_subcode, message, …}}."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return MetaApiError(f"Meta answered {path} with HTTP {status} and no Graph error body",
                            status=status, hint="Check [meta] graph_url and api_version.")
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    numbers = f"{code}/{subcode}" if subcode is not None else f"{code}"
    message = redact(str(error.get("message") or "no message"), [token])
    if code in REAUTH_CODES:
        return ReauthRequiredError(f"Meta no longer accepts the stored login (error {numbers}: "
                                   f"{message})", hint=REAUTH_HINT)
    if code == 1 and is_meta_reduce_data(error):
        return MetaReduceDataError(f"Meta asks to reduce the amount of data asked of {path} (error 1, "
                                   f"HTTP {status})", status=status, code=code, subcode=subcode,
                                   hint="Sync a shorter window (datadrip sync --since).")
    if code in PERMISSION_CODES:
        return MetaApiError(f"the Meta login lacks the ads_read permission for this (error "
                            f"{numbers}: {message})", status=status, code=code, subcode=subcode,
                            hint=PERMISSION_HINT)
    hint = None
    if code == 2635:
        hint = "Set [meta] api_version to the version Meta names (DATADRIP_META_API_VERSION)."
    return MetaApiError(f"Meta refused {path} (error {numbers}, HTTP {status}): {message}",
                        status=status, code=code, subcode=subcode, hint=hint)
