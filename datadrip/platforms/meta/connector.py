"""The Meta Marketing API connector."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from datadrip.platforms.http import RetryPolicy, Sleep, WaitFn
from datadrip.platforms.meta import breakdowns
from datadrip.platforms.meta.accounts import list_accounts
from datadrip.platforms.meta.catalogue import custom_conversions
from datadrip.platforms.meta.entities import entities
from datadrip.platforms.meta.graph import GraphClient, MetaApiError, MetaReduceDataError
from datadrip.platforms.meta.insights import INSIGHTS_PAGE_LIMIT, daily_metrics
from datadrip.platforms.meta.reach import period_reach

if TYPE_CHECKING:
    import datetime as dt

    import httpx

    from datadrip.platforms.base import (
        AccountRef,
        BreakdownRow,
        ConversionActionInfo,
        DateWindow,
        EntityRecord,
        FetchNotes,
        PeriodReach,
        Record,
        SyncOptions,
    )

__all__ = ["MetaAds", "MetaApiError", "MetaReduceDataError"]


class MetaAds:
    """Meta ads through the Graph API with one access token (a user or system-user token).

    `page_limit` is the `limit` asked of list edges, `insights_page_limit` that of insights pages;
    `retry` how hard to try (RetryPolicy); `sleep` every pause (retries, usage pacing, report-run
    polls) goes through it, and `on_wait` hears of each one longer than a moment;
    `device_breakdown` is Meta's breakdown behind the device dimension ([meta] device_breakdown,
    settings.DEVICE_BREAKDOWNS)."""

    name = "meta"

    def __init__(self, *, http: httpx.Client, graph_url: str, api_version: str, access_token: str,
                 sleep: Sleep = time.sleep, page_limit: int = 100,
                 insights_page_limit: int = INSIGHTS_PAGE_LIMIT,
                 retry: RetryPolicy | None = None, on_wait: WaitFn | None = None,
                 device_breakdown: str = breakdowns.DEVICE_PLATFORM) -> None:
        self._graph = GraphClient(http=http, graph_url=graph_url, api_version=api_version,
                                  access_token=access_token, retry=retry, sleep=sleep,
                                  on_wait=on_wait)
        self._page_limit = page_limit
        self._insights_page_limit = insights_page_limit
        self._device_breakdown = breakdowns.device_keys(device_breakdown)

    def __repr__(self) -> str:
        return f"MetaAds({self._graph!r})"

    def list_accounts(self) -> list[AccountRef]:
        """The ad accounts this login can read; DISABLED and CLOSED ones come back "disabled"."""
        return list_accounts(self._graph, page_limit=self._page_limit)

    def daily_metrics(self, account: AccountRef, window: DateWindow, level: str,
                      options: SyncOptions, notes: FetchNotes) -> Iterator[Record]:
        """Entity records and daily rows of `account` at `level` over `window` from the insights
        edge: synchronously for short windows, through report runs for long ones or when Meta asks
        for less data. `notes` gets the attribution setting, requests, pauses and warnings.
        Campaign rows that Meta sends without actions (their ad sets have different attribution
        settings) get their ad sets' actions (insights.campaign_actions_from_adsets)."""
        return daily_metrics(self._graph, account, window, level, options, notes,
                             page_limit=self._insights_page_limit)

    def conversion_actions(self, account: AccountRef, notes: FetchNotes) -> list[ConversionActionInfo]:
        """The account's custom conversions (`act_…/customconversions`, every page), named as
        insights report them: "offsite_conversion.custom.<id>"."""
        return custom_conversions(self._graph, account, notes, page_limit=self._page_limit)

    def entities(self, account: AccountRef, level: str, notes: FetchNotes) -> Iterator[EntityRecord]:
        """Every campaign, ad set or ad of `account` (deleted and archived ones too) with its
        settings: budgets, bid strategy, dates, optimisation goal, attribution, creative."""
        return entities(self._graph, account, level, notes, page_limit=self._page_limit)

    def breakdown_limit(self, dimension: str, today: dt.date) -> dt.date | None:
        """The first day Meta still answers breakdowns for (37 months back)."""
        return breakdowns.breakdown_limit(dimension, today)

    def breakdown_metrics(self, account: AccountRef, window: DateWindow, dimension: str,
                          options: SyncOptions, notes: FetchNotes, *,
                          today: dt.date) -> Iterator[BreakdownRow]:
        """Campaign rows of `account` over `window` broken down by `dimension` (age, gender,
        country, placement, device)."""
        return breakdowns.breakdown_metrics(self._graph, account, window, dimension, options,
                                            notes, today=today, page_limit=self._insights_page_limit,
                                            device=self._device_breakdown)

    def period_reach(self, account: AccountRef, periods: Sequence[DateWindow],
                     levels: Sequence[str], notes: FetchNotes, *,
                     today: dt.date) -> Iterator[PeriodReach]:
        """Each entity's reach over each whole range (one request per range and level, no
        time_increment): Meta counts the range's people once (reach.py)."""
        return period_reach(self._graph, account, periods, levels, notes,
                            page_limit=self._insights_page_limit)
