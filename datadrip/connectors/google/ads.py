"""A small Google Ads REST client: listAccessibleCustomers, googleAds:search with paging, errors."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from datadrip.connectors.base import TokenSource
from datadrip.connectors.http import (
    RetryPolicy,
    Sleep,
    google_error_codes,
    google_errors,
    google_retryable,
    send,
)
from datadrip.errors import AuthRequiredError, DataDripError, ReauthRequiredError

if TYPE_CHECKING:
    import httpx

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
                 sleep: Sleep = time.sleep) -> None:
        self._http = http
        self._base = f"{api_url.rstrip('/')}/{api_version.strip('/')}"
        self._get_token = get_token
        self._developer_token = developer_token or None
        self._retry = retry
        self._sleep = sleep
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

    def _call(self, method: str, path: str, what: str, *, json_body: Any = None,
              login_customer_id: str | None = None) -> dict[str, Any]:
        response = self._send(method, path, self._token(False), json_body, login_customer_id)
        if response.status_code == 401:
            self._raise_if_not_ads_user(response)
            response = self._send(method, path, self._token(True), json_body, login_customer_id)
            if response.status_code == 401:
                self._raise_if_not_ads_user(response)
                from datadrip.auth.google import REAUTH_HINT

                raise ReauthRequiredError("Google Ads does not accept the stored login, even with "
                                          "a fresh access token", hint=REAUTH_HINT)
        try:
            body = response.json()
        except ValueError:  # not JSON, or not UTF-8
            body = None
        if response.status_code >= 400:
            raise self._error(response.status_code, body, what)
        if not isinstance(body, dict):
            raise DataDripError(f"Google Ads answered {what} with something that is not a JSON "
                                f"object (HTTP {response.status_code})",
                                hint="Try again; if it persists, check [google] api_url.")
        return body

    def _token(self, force_refresh: bool) -> str:
        # Whatever get_token raises (ReauthRequiredError, say) is the caller's answer as it is.
        token = self._get_token(force_refresh)
        self._secrets.add(token)
        return token

    def _send(self, method: str, path: str, token: str, json_body: Any,
              login_customer_id: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        if login_customer_id:
            headers["login-customer-id"] = customer_id(login_customer_id)
        if self._developer_token:  # optional and ignored since 2026-09-09; only if configured
            headers["developer-token"] = self._developer_token
        return send(self._http, method, f"{self._base}/{path}", service=SERVICE,
                    classify=google_retryable, json_body=json_body, headers=headers,
                    policy=self._retry, sleep=self._sleep)

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
        from datadrip.secrets import redact

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
