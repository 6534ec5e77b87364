"""The Google Ads API connector (REST)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from datadrip.platforms.base import (
    AccountRef,
    BreakdownRow,
    DateWindow,
    FetchNotes,
    Record,
    SyncOptions,
    TokenSource,
)
from datadrip.platforms.google import breakdowns
from datadrip.platforms.google.accounts import list_accounts
from datadrip.platforms.google.ads import AdsClient, GoogleAdsApiError
from datadrip.platforms.google.metrics import daily_metrics
from datadrip.platforms.http import RetryPolicy, Sleep, WaitFn

if TYPE_CHECKING:
    import datetime as dt

    import httpx

__all__ = ["GoogleAds", "GoogleAdsApiError"]


class GoogleAds:
    """Google Ads through its REST API with an OAuth access token from `get_token`.

    `developer_token` is sent only when configured (optional and ignored by Google since
    2026-09-09); `retry` says how hard to try (RetryPolicy)."""

    name = "google"

    def __init__(self, *, http: httpx.Client, api_url: str, api_version: str, get_token: TokenSource,
                 developer_token: str | None = None, sleep: Sleep = time.sleep,
                 retry: RetryPolicy | None = None, on_wait: WaitFn | None = None) -> None:
        self._ads = AdsClient(http=http, api_url=api_url, api_version=api_version,
                              get_token=get_token, developer_token=developer_token, retry=retry,
                              sleep=sleep, on_wait=on_wait)

    def __repr__(self) -> str:
        return f"GoogleAds({self._ads!r})"

    def list_accounts(self) -> list[AccountRef]:
        """The accounts this login can read metrics from, directly or through its managers."""
        return list_accounts(self._ads)

    def daily_metrics(self, account: AccountRef, window: DateWindow, level: str,
                      options: SyncOptions, notes: FetchNotes) -> Iterator[Record]:
        """Entity records and daily rows of `account` at `level` over `window`: one searchStream
        call, through `account.login_customer_id` when a manager reaches the account.

        `options` has nothing for Google: conversions are the account's own conversion actions."""
        return daily_metrics(self._ads, account, window, level, notes)

    def breakdown_limit(self, dimension: str, today: dt.date) -> dt.date | None:
        """The first day Google still answers (37 months back)."""
        return breakdowns.breakdown_limit(dimension, today)

    def breakdown_metrics(self, account: AccountRef, window: DateWindow, dimension: str,
                          options: SyncOptions, notes: FetchNotes, *,
                          today: dt.date) -> Iterator[BreakdownRow]:
        """Campaign rows of `account` over `window` by age, gender, country or device (Google
        has no placement breakdown: none, with a warning). `options` and `today` change nothing
        for Google."""
        return breakdowns.breakdown_metrics(self._ads, account, window, dimension, notes)
