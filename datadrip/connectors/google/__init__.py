"""The Google Ads API connector (REST)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from datadrip.connectors.base import AccountRef, TokenSource
from datadrip.connectors.google.accounts import list_accounts
from datadrip.connectors.google.ads import AdsClient, GoogleAdsApiError
from datadrip.connectors.http import RetryPolicy, Sleep

if TYPE_CHECKING:
    import httpx

__all__ = ["GoogleAds", "GoogleAdsApiError"]


class GoogleAds:
    """Google Ads through its REST API with an OAuth access token from `get_token`.

    `developer_token` is sent only when configured (optional and ignored by Google since
    2026-09-09); `retry` says how hard to try (RetryPolicy)."""

    name = "google"

    def __init__(self, *, http: httpx.Client, api_url: str, api_version: str, get_token: TokenSource,
                 developer_token: str | None = None, sleep: Sleep = time.sleep,
                 retry: RetryPolicy | None = None) -> None:
        self._ads = AdsClient(http=http, api_url=api_url, api_version=api_version,
                              get_token=get_token, developer_token=developer_token, retry=retry,
                              sleep=sleep)

    def __repr__(self) -> str:
        return f"GoogleAds({self._ads!r})"

    def list_accounts(self) -> list[AccountRef]:
        """The accounts this login can read metrics from, directly or through its managers."""
        return list_accounts(self._ads)
