"""The Google Ads API connector (REST)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from datadrip.platforms.base import (
    AccountRef,
    BreakdownRow,
    ConversionActionInfo,
    DateWindow,
    EntityRecord,
    FetchNotes,
    Record,
    SyncOptions,
    TokenSource,
)
from datadrip.platforms.google import breakdowns
from datadrip.platforms.google.accounts import list_accounts
from datadrip.platforms.google.ads import AdsClient, GoogleAdsApiError
from datadrip.platforms.google.catalogue import conversion_actions
from datadrip.platforms.google.entities import entities, version_number
from datadrip.platforms.google.metrics import BY_INCLUSION, daily_metrics
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
                 retry: RetryPolicy | None = None, on_wait: WaitFn | None = None,
                 action_counts: str = BY_INCLUSION) -> None:
        self._ads = AdsClient(http=http, api_url=api_url, api_version=api_version,
                              get_token=get_token, developer_token=developer_token, retry=retry,
                              sleep=sleep, on_wait=on_wait)
        self._action_counts = action_counts
        # Each account's catalogue, read once per connector (a sync reads it before the rows).
        self._catalogues: dict[str, list[ConversionActionInfo]] = {}
        self._api_version = api_version

    def __repr__(self) -> str:
        return f"GoogleAds({self._ads!r})"

    def list_accounts(self) -> list[AccountRef]:
        """The accounts this login can read metrics from, directly or through its managers."""
        return list_accounts(self._ads)

    def daily_metrics(self, account: AccountRef, window: DateWindow, level: str,
                      options: SyncOptions, notes: FetchNotes) -> Iterator[Record]:
        """Entity records and daily rows of `account` at `level` over `window`, each row with its
        conversion actions: two searchStream calls (the actions, then the rows), a third at the
        ad-set level for Performance Max asset groups; through `account.login_customer_id` when
        a manager reaches the account.

        `options` has nothing for Google: conversions are the account's own conversion actions."""
        def included() -> dict[str, bool]:
            return {entry.action: bool(entry.included_in_conversions)
                    for entry in self.conversion_actions(account, notes)}
        return daily_metrics(self._ads, account, window, level, notes, included=included,
                             action_counts=self._action_counts)

    def conversion_actions(self, account: AccountRef, notes: FetchNotes) -> list[ConversionActionInfo]:
        """The account's conversion actions (removed ones too), read once per connector."""
        found = self._catalogues.get(account.external_id)
        if found is None:
            found = conversion_actions(self._ads, account, notes)
            self._catalogues[account.external_id] = found
        return found

    def entities(self, account: AccountRef, level: str, notes: FetchNotes) -> Iterator[EntityRecord]:
        """Every campaign, ad group or ad of `account` (removed ones too) with its settings:
        channel, primary status, budget, bidding strategy and dates for campaigns."""
        return entities(self._ads, account, level, version_number(self._api_version), notes)

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
