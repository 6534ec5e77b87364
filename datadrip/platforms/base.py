"""What every connector hands back, whatever the platform: plain records, no database.

A connector lists the accounts a login reaches and streams one account's daily numbers for a date
window at one level. The stream holds `EntityRecord`s (a campaign, ad set or ad, each sent before
the first row that names it) and `MetricRow`s. Money is integer micros of the account currency,
dates are the account's own calendar days, and nothing is held in lists: rows go out as they
arrive. Third-party connectors register in the `datadrip.connectors` entry-point group
(registry.py), as the built-in Meta and Google Ads ones do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import httpx

    from datadrip.core.config import Settings
    from datadrip.platforms.http import RetryPolicy, Sleep, WaitFn

# `get_token(force_refresh)` gives a bearer token; force_refresh=True after the platform answered
# 401, so an expired access token is renewed once before a request is retried.
TokenSource = Callable[[bool], str]

LEVELS = ("campaign", "adset", "ad")  # Google calls the middle level "ad group"


@dataclass(frozen=True)
class AccountRef:
    """An ad account a login can read.

    `external_id` is how the workbook names it: Meta "act_1234567890", Google "1234567890" (ten
    digits, no dashes). `status` is an AccountStatus value ("active" or "disabled").
    `login_customer_id`: Google only, the manager (MCC) the account is reached through, sent as
    the login-customer-id header; None when the login reaches the account directly.
    """

    platform: str
    external_id: str
    name: str
    currency: str
    timezone: str
    status: str = "active"
    login_customer_id: str | None = None
    manager_name: str | None = None  # Google: the name of that manager, for the picker


@dataclass(frozen=True)
class DateWindow:
    """Calendar days `since` … `until`, both included, in the account's time zone."""

    since: dt.date
    until: dt.date

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise ValueError(f"window ends ({self.until}) before it starts ({self.since})")

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def chunks(self, days: int) -> Iterator[DateWindow]:
        """Consecutive windows of at most `days` days covering this one, oldest first."""
        start = self.since
        while start <= self.until:
            stop = min(self.until, start + dt.timedelta(days=days - 1))
            yield DateWindow(start, stop)
            start = stop + dt.timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.since.isoformat()}..{self.until.isoformat()}"


@dataclass(frozen=True, slots=True)
class EntityRecord:
    """A campaign, ad set / ad group, or ad, as the platform names it today.

    `parent_id` is the platform id of the level above (an ad's ad set, an ad set's campaign)."""

    level: str
    external_id: str
    name: str
    parent_id: str | None = None
    status: str = ""


@dataclass(frozen=True, slots=True)
class MetricRow:
    """One entity's numbers on one account day. `entity_id` is the platform id at `level`.

    Conversions stay exact (Decimal: Meta counts, Google's fractional data-driven credit); reach is
    None where the platform does not report it (Google)."""

    level: str
    entity_id: str
    date: dt.date
    spend_micros: int
    impressions: int
    clicks: int
    conversions: Decimal
    conversion_value_micros: int
    reach: int | None = None


Record = EntityRecord | MetricRow


@dataclass(frozen=True)
class SyncOptions:
    """What a client wants counted, handed to `daily_metrics`.

    `conversion_actions`: Meta action types whose counts and values are the conversions; empty
    means the purchase family (the first purchase type present, never a sum of them)."""

    conversion_actions: tuple[str, ...] = ()


@dataclass
class FetchNotes:
    """What a connector learnt while fetching, for the sync run: warnings, the attribution setting
    the platform applied, how many requests it took and how long it paused for rate limits."""

    warnings: list[str] = field(default_factory=list)
    attribution: str | None = None
    requests: int = 0
    throttled_seconds: float = 0.0


class Connector(Protocol):
    """One platform, one login."""

    name: str

    def list_accounts(self) -> list[AccountRef]:
        """The accounts the login can read metrics from."""
        ...

    def daily_metrics(self, account: AccountRef, window: DateWindow, level: str,
                      options: SyncOptions, notes: FetchNotes) -> Iterator[Record]:
        """Entity records and daily metric rows of `account` at `level` over `window`."""
        ...


@dataclass(frozen=True)
class ConnectorContext:
    """Everything a connector factory may use to build a connector for one login."""

    http: httpx.Client
    settings: Settings
    get_token: TokenSource
    secrets: Mapping[str, str | None]  # "google.developer_token" → value, when configured
    retry: RetryPolicy
    sleep: Sleep
    # Told of every wait longer than a moment before it starts (http.Wait): a sync shows it.
    on_wait: WaitFn | None = None


class ConnectorFactory(Protocol):
    """What the `datadrip.connectors` entry points name: a callable building a Connector."""

    def __call__(self, context: ConnectorContext) -> Connector: ...
