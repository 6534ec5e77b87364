"""What DataDrip needs of an ad platform: the plug-in protocol, and the plain records its
connector hands back (no database).

A platform is one `PlatformPlugin` object, registered in the `datadrip.platforms` entry-point
group (registry.py); the built-in Meta and Google Ads plug-ins register there exactly as a third
party's would. The plug-in names the platform, checks its account ids, owns its `[name]` settings
section and secrets, logs in (browser on a loopback address, a pasted redirect, a token on stdin),
keeps logins working (refresh, check, revoke) and opens the connector that reads metrics.

A connector lists the accounts a login reaches and streams one account's daily numbers for a date
window at one level. The stream holds `EntityRecord`s (a campaign, ad set or ad, each sent before
the first row that names it) and `MetricRow`s. Money is integer micros of the account currency,
dates are the account's own calendar days, and nothing is held in lists: rows go out as they
arrive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from datadrip.core.errors import DataDripError

if TYPE_CHECKING:
    import httpx

    from datadrip.core.config import Loaded, Section, Settings
    from datadrip.platforms.http import RetryPolicy, Sleep, WaitFn
    from datadrip.platforms.tokens import StoredLogin

# `get_token(force_refresh)` gives a bearer token; force_refresh=True after the platform answered
# 401, so an expired access token is renewed once before a request is retried.
TokenSource = Callable[[bool], str]


class LoginTokens(Protocol):
    """A stored login's bearer tokens for a sync, shared by every account on that login (a
    plug-in's `token_source`). Called as a TokenSource is; a renewal that has to wait (a busy
    token endpoint) waits through `sleep` and tells `on_wait`, those of the account that asked.
    A source that never waits accepts and ignores them."""

    def __call__(self, force_refresh: bool = False, *, sleep: Sleep | None = None,
                 on_wait: WaitFn | None = None) -> str: ...


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
    """A callable building a Connector for one login (a plug-in's `open_connector`)."""

    def __call__(self, context: ConnectorContext) -> Connector: ...


# --- the platform plug-in ------------------------------------------------------------------------

@dataclass(frozen=True)
class LoginUi:
    """How a browser login reaches the person; the command supplies these (plug-ins never print)."""

    open_url: Callable[[str], object]  # opens the consent page; a falsy answer: no browser opened
    on_url: Callable[[str, bool], None]  # the consent URL, and whether a browser opened it
    read_pasted: Callable[[], str] | None = None  # --no-browser: the address (or code) pasted back


@dataclass(frozen=True)
class LoginRequest:
    """One `datadrip connect NAME CLIENT`: a browser login, or a token read from stdin."""

    ui: LoginUi
    stdin_token: str | None = field(default=None, repr=False)  # --token-stdin
    reauth_hint: str = ""  # "run: datadrip connect meta \"Client\"", for messages


@dataclass(frozen=True)
class NewLogin:
    """What a login gives: the login to keep in the secret store, and the accounts it reaches."""

    login: StoredLogin
    accounts: list[AccountRef]


@dataclass(frozen=True)
class LoginCheck:
    """A stored login tried once: why the platform refuses it (None: it works), and its expiry
    as the platform now tells it (None: none; a platform that cannot tell gives the stored
    login's own `expires_at`). The workbook keeps that expiry on the login's accounts."""

    problem: str | None
    expires_at: dt.datetime | None = None


class PlatformPlugin(Protocol):
    """Everything DataDrip needs of one ad platform. Nothing outside the plug-in's own package
    (and its sandbox) branches on a platform's name: the workbook, sync, reports and the commands
    ask the plug-in."""

    name: str  # "meta": the workbook's platform column, the [meta] section, `connect meta`
    label: str  # "Meta", "Google Ads": how people read it
    colour: str  # "#1877F2": the platform's colour in charts
    token_kind: str  # what `connect NAME --token-stdin` reads: "token", "refresh token"
    settings_model: type[Section]  # the [name] section of datadrip.toml (DATADRIP_NAME_* variables)
    secrets: Mapping[str, tuple[str, ...]]  # "meta.app_secret" → its environment variables

    def sunset(self, api_version: str) -> dt.date | None:
        """When that version of the platform's API stops answering; None when not announced."""
        ...

    def account_id(self, text: str) -> str:
        """An account id as typed (`--account`) in the form the workbook keeps it; UsageError
        naming the expected form when `text` is not one."""
        ...

    def log_in(self, loaded: Loaded, request: LoginRequest) -> NewLogin:
        """Log in (or adopt `request.stdin_token`) and list the accounts the login reaches.
        Nothing is stored here; failures raise LoginError / DataDripError."""
        ...

    def token_source(self, loaded: Loaded, login: StoredLogin, *, reauth_hint: str,
                     retry: RetryPolicy) -> LoginTokens:
        """The bearer tokens of a stored login for a sync (renewed as the platform needs)."""
        ...

    def check_login(self, loaded: Loaded, login: StoredLogin) -> LoginCheck:
        """Try the login once (`account check`, the daemon's token job). Config and network
        failures raise; a refusal is returned."""
        ...

    def expiry_warning(self, expires_at: dt.datetime | None, now: dt.datetime) -> str | None:
        """A sentence when a login ends soon or has ended ("the Meta login expires in 3 days")."""
        ...

    def revoke(self, loaded: Loaded, login: StoredLogin, others: Sequence[StoredLogin]) -> str | None:
        """Revoke a login DataDrip obtained, unless one of `others` (this platform's other
        stored logins) may share its grant: None when revoked, else why not."""
        ...

    def open_connector(self, context: ConnectorContext) -> Connector:
        """The metric connector for one login."""
        ...


def accounts_reached(list_accounts: Callable[[], list[AccountRef]]) -> list[AccountRef]:
    """The accounts a new login reaches (a `log_in`'s last step), a failure saying that nothing
    was stored."""
    try:
        return list_accounts()
    except DataDripError as exc:
        exc.message = f"could not list the accounts this login reaches: {exc.message}; " \
                      "nothing was stored"
        raise
