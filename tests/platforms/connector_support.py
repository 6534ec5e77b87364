"""Helpers for connector scenarios: a recording sleep, a Google token source that refreshes, and
totals from both sides of a Meta insights fetch."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import httpx

from datadrip.platforms.base import DateWindow, MetricRow, Record
from datadrip.platforms.google.connector import GoogleAds
from datadrip.platforms.google.login import GoogleOAuth


class RecordedSleep:
    """A `sleep` that only writes down how long it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class RefreshingTokens:
    """A TokenSource as a sync will build one: a real refresh at the sandbox's token endpoint,
    the access token kept until the API refuses it. `calls` records each force_refresh flag."""

    def __init__(self, oauth: GoogleOAuth, refresh_token: str) -> None:
        self._oauth = oauth
        self._refresh_token = refresh_token
        self._access: str | None = None
        self.calls: list[bool] = []
        self.issued: list[str] = []

    def __call__(self, force_refresh: bool) -> str:
        self.calls.append(force_refresh)
        if force_refresh or self._access is None:
            self._access = self._oauth.refresh(self._refresh_token).access_token
            self.issued.append(self._access)
        return self._access


# --- Meta insights scenarios ----------------------------------------------------------------------

Totals = tuple[int, int, int, Decimal, int]  # spend micros, impressions, clicks, conversions, value


def world_totals(sandbox: Any, account_id: str, window: DateWindow) -> Totals:
    """The sandbox World's own numbers for an account over a window: its ad-level rows, summed,
    as reported on the sandbox's today in the account's time zone."""
    world = sandbox.app.world
    account = world.account(account_id)
    today = sandbox.app.state.clock.today_in(account.timezone)
    spend = impressions = clicks = value = 0
    conversions = Decimal(0)
    for row in world.rows(account.id, "ad", window.since, window.until, today):
        spend += row.spend_micros
        impressions += row.impressions
        clicks += row.clicks
        conversions += row.conversions
        value += row.conversion_value_micros
    return spend, impressions, clicks, conversions, value


def record_totals(records: Iterable[Record]) -> Totals:
    """The same sums over a connector's MetricRows."""
    rows = [r for r in records if isinstance(r, MetricRow)]
    return (sum(r.spend_micros for r in rows), sum(r.impressions for r in rows),
            sum(r.clicks for r in rows), sum((r.conversions for r in rows), Decimal(0)),
            sum(r.conversion_value_micros for r in rows))


def watch(http: httpx.Client) -> list[httpx.Request]:
    """Every request the client sends from now on."""
    sent: list[httpx.Request] = []
    http.event_hooks["request"].append(sent.append)
    return sent


def google(http: httpx.Client, settings: dict[str, Any], tokens: Any, sleeps: RecordedSleep,
           **overrides: Any) -> GoogleAds:
    """The Google Ads connector on the sandbox, with a recording sleep; `overrides` replace options."""
    options: dict[str, Any] = {"http": http, "api_url": settings["api_url"],
                               "api_version": settings["api_version"], "get_token": tokens,
                               "sleep": sleeps}
    return GoogleAds(**{**options, **overrides})
