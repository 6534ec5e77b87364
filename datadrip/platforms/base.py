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
from typing import TYPE_CHECKING, Protocol, runtime_checkable

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
class EntitySettings:
    """How a campaign, ad set or ad is set up, in the platform's own words where it has them
    (objective "OUTCOME_SALES", channel "PERFORMANCE_MAX", bid strategy "COST_CAP"). Budgets are
    integer micros of the account currency (the plug-in applies the platform's currency offsets);
    days are the account's calendar days. None: the platform does not say, or the level has no
    such setting."""

    objective: str | None = None  # Meta campaign objective; Google advertising_channel_type
    effective_status: str | None = None  # Meta effective_status; Google primary_status
    daily_budget_micros: int | None = None
    lifetime_budget_micros: int | None = None
    bid_strategy: str | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    optimization_goal: str | None = None  # Meta ad sets
    attribution_setting: str | None = None  # Meta ad sets: "7d_click_1d_view"
    creative_title: str | None = None  # ads
    thumbnail_url: str | None = None  # ads


@dataclass(frozen=True, slots=True)
class EntityRecord:
    """A campaign, ad set / ad group, or ad, as the platform names it today.

    `parent_id` is the platform id of the level above (an ad's ad set, an ad set's campaign).
    `settings`: how it is set up, when the connector read them (None: not read in this stream;
    the workbook keeps what it had)."""

    level: str
    external_id: str
    name: str
    parent_id: str | None = None
    status: str = ""
    settings: EntitySettings | None = None


@dataclass(frozen=True, slots=True)
class ActionCount:
    """One conversion action's number on a metric row: `action` is the platform's own id (a Meta
    action_type such as "offsite_conversion.fb_pixel_purchase" or "offsite_conversion.custom.123",
    a Google conversion action id), `count` exact (Google credits fractions), `value_micros` the
    value in micros of the account currency (None: the platform gives no value for it)."""

    action: str
    count: Decimal
    value_micros: int | None = None


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
    # What the platforms' own screens show beside clicks (all): Meta's link clicks
    # (actions[link_click]), Google's interactions. None: the platform has no such number.
    link_clicks: int | None = None
    interactions: int | None = None
    # Google's all_conversions (every action, the UI's "All conv."), kept apart from conversions
    # (the actions included in the Conversions column). None on platforms without it.
    all_conversions: Decimal | None = None
    all_conversion_value_micros: int | None = None
    # Meta's Results column: its indicator ("actions:offsite_conversion.fb_pixel_purchase") and
    # count; None where the API gives none. Different indicators are never added up.
    result_indicator: str | None = None
    results: Decimal | None = None
    # The attribution setting the platform applied to this row's conversions ("7d_click_1d_view").
    attribution_setting: str | None = None
    # Every conversion action the platform reported for the row; None: the connector does not
    # report actions (the workbook then marks the row's day as without actions).
    actions: tuple[ActionCount, ...] | None = None
    # Google's search impression share and the shares lost to budget and to rank, exact ratios
    # 0–1 as the API gives them (< 0.1 is sent as 0.0999, > 0.9 lost as 0.9001). None: the
    # platform gives none for the row (Meta, levels below campaign, campaigns not on search).
    # Ratios: a period's share is weighted by eligible impressions, never summed.
    search_impression_share: Decimal | None = None
    search_budget_lost_share: Decimal | None = None
    search_rank_lost_share: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ConversionActionInfo:
    """An entry of an account's catalogue of conversion actions: how people read `action`.

    `kind`: "standard" (a Meta action type), "custom" (a Meta custom conversion),
    "conversion_action" (a Google conversion action). Google's flags say whether the action is
    primary for its goal and counted in the Conversions column; None where a platform has no such
    flag."""

    action: str
    name: str
    kind: str
    category: str | None = None
    primary: bool | None = None
    included_in_conversions: bool | None = None
    status: str | None = None


# What a client may name as its key results (`client edit --results`), besides a platform's own
# action ids and custom conversion names. Each plug-in says which of its actions make each one.
RESULT_NAMES = ("purchase", "lead", "add_to_cart", "initiate_checkout", "complete_registration",
                "messaging_conversation", "app_install", "landing_page_view", "link_click",
                "video_view")
# How people read each result: its column ("Purchases") and the singular its cost uses ("Cost per
# purchase"). Our own words in Ads Manager's style: no platform publishes a list of them.
RESULT_WORDS: dict[str, tuple[str, str]] = {
    "purchase": ("Purchases", "purchase"),
    "lead": ("Leads", "lead"),
    "add_to_cart": ("Adds to cart", "add to cart"),
    "initiate_checkout": ("Checkouts initiated", "checkout initiated"),
    "complete_registration": ("Registrations completed", "registration completed"),
    "messaging_conversation": ("Messaging conversations started", "messaging conversation started"),
    "app_install": ("App installs", "app install"),
    "landing_page_view": ("Landing page views", "landing page view"),
    "link_click": ("Link clicks", "link click"),
    "video_view": ("3-second video plays", "3-second video play"),
}


@dataclass(frozen=True)
class ResultActions:
    """The actions of one account that make up one result, and how they combine: `overlapping`
    actions report the same conversions (Meta's purchase variants), so a day's number is the
    largest of them, never their sum; otherwise they are distinct and added up."""

    actions: tuple[str, ...]
    overlapping: bool


BREAKDOWN_DIMENSIONS = ("age", "gender", "country", "placement", "device")
# What a client opts into ([sync] breakdowns, `client edit --breakdowns`) → the dimensions kept.
BREAKDOWNS = {"age_gender": ("age", "gender"), "country": ("country",),
              "placement": ("placement",), "device": ("device",)}


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    """A campaign's numbers on one day for one value of one dimension ("age" = "25-34"). A number
    the platform withholds under the breakdown is None (unknown), never 0."""

    entity_id: str  # the campaign's platform id
    date: dt.date
    dimension: str  # one of BREAKDOWN_DIMENSIONS
    value: str  # the platform's own value: "25-34", "female", "IN", "instagram/feed", "MOBILE"
    spend_micros: int | None
    impressions: int | None
    clicks: int | None
    conversions: Decimal | None
    conversion_value_micros: int | None
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


@runtime_checkable
class ConversionCatalogue(Protocol):
    """A connector that can name an account's conversion actions (optional)."""

    def conversion_actions(self, account: AccountRef, notes: FetchNotes) -> list[ConversionActionInfo]:
        """The account's catalogue: its custom conversions (Meta) or conversion actions (Google)."""
        ...


@runtime_checkable
class EntityCatalogue(Protocol):
    """A connector that can list an account's entities with their settings (optional): every
    campaign, ad set and ad, deleted and archived ones included."""

    def entities(self, account: AccountRef, level: str, notes: FetchNotes) -> Iterator[EntityRecord]:
        """The entities of `level`, each with its `settings`, parents before children."""
        ...


@runtime_checkable
class BreakdownSource(Protocol):
    """A connector that can break campaigns' daily numbers down (optional)."""

    def breakdown_limit(self, dimension: str, today: dt.date) -> dt.date | None:
        """The first day the platform still answers `dimension` for (None: no limit)."""
        ...

    def breakdown_metrics(self, account: AccountRef, window: DateWindow, dimension: str,
                          options: SyncOptions, notes: FetchNotes, *,
                          today: dt.date) -> Iterator[BreakdownRow]:
        """Campaign rows of `account` over `window` broken down by `dimension`; conversions
        counted as `options` says (as daily_metrics does); `today` is the account's day (what
        is still answered, and with which numbers, depends on how far back the window starts)."""
        ...


REACH_LEVELS = ("account", "campaign")  # the levels a period's reach is fetched at


@dataclass(frozen=True, slots=True)
class PeriodReach:
    """The people one entity reached over a range of the account's days, as the platform counts
    them for the whole range (daily reach is not additive: Monday's and Tuesday's people
    overlap). `entity_id` is the platform id at `level` (at level "account" the account's own
    id); `reach` None: the platform withheld it for the range (never 0 in its place)."""

    level: str
    entity_id: str
    since: dt.date
    until: dt.date
    reach: int | None


@runtime_checkable
class PeriodReachSource(Protocol):
    """A connector that can count an entity's reach over a range of days (optional)."""

    def period_reach(self, account: AccountRef, periods: Sequence[DateWindow],
                     levels: Sequence[str], notes: FetchNotes, *,
                     today: dt.date) -> Iterator[PeriodReach]:
        """Each entity's reach at each of `levels` (of REACH_LEVELS) over each of `periods`;
        `today` is the account's day (how far back a range starts decides whether the platform
        still answers). An entity without delivery in a range has no record for it."""
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


@runtime_checkable
class ResultRules(Protocol):
    """A plug-in that knows what its actions mean (optional; all built-in plug-ins have it): which
    of an account's actions make each of RESULT_NAMES, and how people read an action id."""

    def result_actions(self, result: str,
                       catalogue: Sequence[ConversionActionInfo]) -> ResultActions | None:
        """The account's actions that make `result` (one of RESULT_NAMES, one of the platform's
        own action ids, or a catalogue entry's name); None when the account has no such action."""
        ...

    def action_label(self, action: str, catalogue: Sequence[ConversionActionInfo]) -> str:
        """How people read an action id: Ads Manager's own words ("Purchases", "Leads"), the
        catalogue's name for a custom conversion or a Google conversion action."""
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
