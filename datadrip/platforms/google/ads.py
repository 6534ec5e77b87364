"""A small Google Ads REST client: listAccessibleCustomers, googleAds:search with paging,
googleAds:searchStream read batch by batch, errors."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from datadrip.core.errors import AuthRequiredError, DataDripError, ReauthRequiredError
from datadrip.platforms.base import TokenSource
from datadrip.platforms.google.login import REAUTH_HINT
from datadrip.platforms.google.retry import google_error_codes, google_errors, google_retryable
from datadrip.platforms.http import RetryPolicy, Sleep, WaitFn, send
from datadrip.secrets.store import redact

if TYPE_CHECKING:
    import httpx

    from datadrip.platforms.base import FetchNotes

SERVICE = "Google Ads"
NOT_ADS_USER = "authenticationError.NOT_ADS_USER"
NOT_ENABLED = "authorizationError.CUSTOMER_NOT_ENABLED"
PERMISSION_DENIED = "authorizationError.USER_PERMISSION_DENIED"
DAILY_QUOTA = "quotaError.RESOURCE_EXHAUSTED"
UNSUPPORTED_VERSION = "requestError.UNSUPPORTED_VERSION"


class GoogleAdsApiError(DataDripError):
    """Google Ads refused a request. `codes` are GoogleAdsFailure codes ("category.ENUM")."""

    def __init__(self, message: str, *, status: int, codes: Iterable[str] = (),
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.codes = tuple(codes)


def customer_id(value: Any) -> str:
    """A customer id as URLs and headers want it: ten digits, no dashes ("customers/…" accepted)."""
    text = str(value).removeprefix("customers/").replace("-", "").strip()
    if not text.isdigit():
        raise DataDripError("Google Ads named a customer with an unexpected id",
                            hint="Check [google] api_url and api_version.")
    return text


class AdsClient:
    """Calls `{api_url}/{api_version}/…` with a bearer token from `get_token`.

    On HTTP 401 the token is renewed once (`get_token(True)`) and the request sent again; a
    second 401 means the login itself is no longer accepted."""

    def __init__(self, *, http: httpx.Client, api_url: str, api_version: str, get_token: TokenSource,
                 developer_token: str | None = None, retry: RetryPolicy | None = None,
                 sleep: Sleep = time.sleep, on_wait: WaitFn | None = None) -> None:
        self._http = http
        self._base = f"{api_url.rstrip('/')}/{api_version.strip('/')}"
        self._get_token = get_token
        self._developer_token = developer_token or None
        self._retry = retry
        self._sleep = sleep
        self._on_wait = on_wait
        self._secrets: set[str] = {developer_token} if developer_token else set()

    def __repr__(self) -> str:
        return f"AdsClient({self._base!r})"

    def accessible_customers(self) -> list[str]:
        """The customer ids the login reaches directly (not the accounts under its managers)."""
        body = self._call("GET", "customers:listAccessibleCustomers", "listAccessibleCustomers")
        names = body.get("resourceNames", [])
        if not isinstance(names, list):
            raise DataDripError("Google Ads answered listAccessibleCustomers without a list",
                                hint="Check [google] api_url and api_version.")
        return [customer_id(name) for name in names]

    def search(self, customer: str, query: str, *,
               login_customer_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Every row of a GAQL query, following `nextPageToken` (pages are a fixed 10,000 rows)."""
        cid = customer_id(customer)
        body: dict[str, str] = {"query": query}
        tokens: set[str] = set()
        while True:
            page = self._call("POST", f"customers/{cid}/googleAds:search",
                              f"googleAds:search on customer {cid}", json_body=body,
                              login_customer_id=login_customer_id)
            results = page.get("results", [])  # absent when there are no rows
            if not isinstance(results, list):
                raise DataDripError(f"Google Ads answered googleAds:search on customer {cid} "
                                    "without a results list")
            yield from (row for row in results if isinstance(row, dict))
            token = page.get("nextPageToken")
            if not isinstance(token, str) or not token:
                return
            if token in tokens:  # a server bug must not become an endless loop
                raise DataDripError(f"Google Ads paging on customer {cid} repeated itself; stopped",
                                    hint="Try again later.")
            tokens.add(token)
            body = {"query": query, "pageToken": token}

    def search_stream(self, customer: str, query: str, *, login_customer_id: str | None = None,
                      notes: FetchNotes | None = None) -> Iterator[dict[str, Any]]:
        """Every row of a GAQL query from one googleAds:searchStream call (one operation).

        The body is parsed one batch at a time, so only one batch of rows is ever held as Python
        objects; JSON numbers with a fraction come back as Decimal (doubles stay exact). `notes`
        counts the HTTP requests and the seconds spent waiting out rate limits."""
        cid = customer_id(customer)
        what = f"googleAds:searchStream on customer {cid}"
        response = self._checked("POST", f"customers/{cid}/googleAds:searchStream", what,
                                 json_body={"query": query}, login_customer_id=login_customer_id,
                                 notes=notes)
        try:
            text = response.content.decode("utf-8")
            for batch in json_array_items(text):
                if not isinstance(batch, dict):
                    raise ValueError("a batch is not a JSON object")
                if "error" in batch:  # an error after some batches: the HTTP status was already sent
                    status = batch["error"].get("code") if isinstance(batch["error"], dict) else None
                    raise self._error(status if isinstance(status, int) else 500, batch, what)
                results = batch.get("results", [])  # absent when there are no rows
                if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
                    raise ValueError("a batch's results are not a list of rows")
                yield from results
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
            raise DataDripError(f"Google Ads answered {what} with a body that is not a stream of "
                                f"result batches ({_why(exc)})",
                                hint="Try again; if it persists, check [google] api_url.") from None

    def _call(self, method: str, path: str, what: str, *, json_body: Any = None,
              login_customer_id: str | None = None) -> dict[str, Any]:
        response = self._checked(method, path, what, json_body=json_body,
                                 login_customer_id=login_customer_id)
        try:
            body = response.json()
        except ValueError:  # not JSON, or not UTF-8
            body = None
        if not isinstance(body, dict):
            raise DataDripError(f"Google Ads answered {what} with something that is not a JSON "
                                f"object (HTTP {response.status_code})",
                                hint="Try again; if it persists, check [google] api_url.")
        return body

    def _checked(self, method: str, path: str, what: str, *, json_body: Any = None,
                 login_customer_id: str | None = None,
                 notes: FetchNotes | None = None) -> httpx.Response:
        """The successful response to one call: a 401 renews the token once and sends it again;
        an API error body (unary, or array-wrapped from searchStream) becomes an exception."""
        response = self._send(method, path, self._token(False), json_body, login_customer_id, notes)
        if response.status_code == 401:
            self._raise_if_not_ads_user(response)
            response = self._send(method, path, self._token(True), json_body, login_customer_id,
                                  notes)
            if response.status_code == 401:
                self._raise_if_not_ads_user(response)

                raise ReauthRequiredError("Google Ads does not accept the stored login, even with "
                                          "a fresh access token", hint=REAUTH_HINT)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:  # not JSON, or not UTF-8
                body = None
            raise self._error(response.status_code, body, what)
        return response

    def _token(self, force_refresh: bool) -> str:
        # Whatever get_token raises (ReauthRequiredError, say) is the caller's answer as it is.
        token = self._get_token(force_refresh)
        self._secrets.add(token)
        return token

    def _send(self, method: str, path: str, token: str, json_body: Any,
              login_customer_id: str | None, notes: FetchNotes | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        if login_customer_id:
            headers["login-customer-id"] = customer_id(login_customer_id)
        if self._developer_token:  # optional and ignored since 2026-09-09; only if configured
            headers["developer-token"] = self._developer_token
        # `notes` counts every HTTP attempt and the waits Google asked for (retryDelay).
        return send(self._http, method, f"{self._base}/{path}", service=SERVICE,
                    classify=google_retryable, json_body=json_body, headers=headers,
                    policy=self._retry, sleep=self._sleep, traffic=notes, on_wait=self._on_wait)

    def _raise_if_not_ads_user(self, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            return
        _, errors = google_errors(body)
        if NOT_ADS_USER in google_error_codes(errors):
            raise AuthRequiredError("the Google login has no Google Ads account",
                                    hint="Log in with another Google user: 'datadrip connect "
                                         "google CLIENT'.")

    def _error(self, status: int, body: Any, what: str) -> DataDripError:
        rpc, errors = google_errors(body)
        if not rpc:
            return GoogleAdsApiError(f"Google Ads answered {what} with HTTP {status} and no API "
                                     "error body", status=status,
                                     hint="Check [google] api_url and api_version.")
        codes = google_error_codes(errors)
        first = errors[0].get("message") if errors else None
        message = redact(str(first or rpc.get("message") or "no message").strip(), self._secrets)
        if PERMISSION_DENIED in codes:
            return GoogleAdsApiError(f"Google Ads denied access for {what}: {message}", status=status,
                                     codes=codes, hint="Check that this Google login can reach the "
                                                       "account (directly or through its manager).")
        hint = None
        if DAILY_QUOTA in codes:
            hint = "The daily operations quota is used up; try again tomorrow."
        elif UNSUPPORTED_VERSION in codes:
            hint = "Set [google] api_version to a live version (DATADRIP_GOOGLE_API_VERSION)."
        label = ", ".join(codes) or str(rpc.get("status") or "")
        return GoogleAdsApiError(f"Google Ads refused {what} (HTTP {status} {label}): {message}",
                                 status=status, codes=codes, hint=hint)


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def json_array_items(text: str) -> Iterator[Any]:
    """The elements of a JSON array one at a time, numbers with a fraction or exponent as
    Decimal; ValueError when `text` is not one JSON array."""
    decoder = json.JSONDecoder(parse_float=Decimal)
    index = _skip(text, 0)
    if not text.startswith("[", index):
        raise ValueError("not a JSON array")
    index = _skip(text, index + 1)
    closed = text.startswith("]", index)
    while not closed:
        item, index = decoder.raw_decode(text, index)
        yield item
        index = _skip(text, index)
        if text.startswith(",", index):
            index = _skip(text, index + 1)
        elif text.startswith("]", index):
            closed = True
        else:
            raise ValueError(f"expected ',' or ']' at character {index}")
    if _skip(text, index + 1) != len(text):
        raise ValueError(f"unexpected data after the array at character {index + 1}")


def _skip(text: str, index: int) -> int:
    """The index of the first non-whitespace character at or after `index`."""
    found = _WHITESPACE.match(text, index)
    return found.end() if found else index


def _why(exc: ValueError) -> str:
    # JSONDecodeError's text names a position, never content; keep other messages short too.
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
