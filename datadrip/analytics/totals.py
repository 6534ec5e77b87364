"""KPIs from the workbook: sums grouped in SQL, rates computed from the summed parts.

Every figure comes from a GROUP BY over metric_daily, never from a Python loop over its rows: the
database sums per account (and per day, week, month, campaign, ad set or ad where asked), in the
key's own order where it can, and the few sums per account are then folded into the lines asked
for (platform, account, client…) with the names of the accounts and entities. Totals and every
breakdown but the ad set and ad ones read the campaign level: an account's campaigns add up to it.

Amounts are blended into one reporting currency (the client's, or the agency's for several
clients). An account in another currency is summed per day, and each day's sum converted with the
rate of that day (datadrip.workbook.fx); a missing rate is an error naming the pair, never a sum of rupees
and dollars. Rates (CTR, CPC, CPA, ROAS…) are computed
from the summed parts, so they are never an average of daily rates, and rounded half up as a
person (or a spreadsheet) would; a rate over zero is None ("n/a"), not a division by zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from datadrip.core.errors import UsageError
from datadrip.core.money import MICROS, MILLIONTHS, conversions_from_millionths, minor_units, to_amount
from datadrip.core.periods import Period
from datadrip.db.models import AdAccount, Agency, Client, Entity, MetricDaily, MetricPeriodReach
from datadrip.workbook.agencies import agency_or_only
from datadrip.workbook.clients import find_client
from datadrip.workbook.fx import RateBook

DIMENSIONS = ("total", "day", "week", "month", "platform", "account", "client", "campaign", "adset", "ad")
BASE_METRICS = ("spend", "impressions", "clicks", "conversions", "conversion_value")
RATE_METRICS = ("ctr", "cpc", "cpm", "cpa", "roas", "conversion_rate")
METRICS = BASE_METRICS + RATE_METRICS
# Shown where asked (--metrics): what the platforms' screens show beside clicks (all). Link CTR
# and link CPC divide by the impressions and spend of the rows that have link clicks (Meta's), as
# Ads Manager does; n/a where no row has them.
PARITY_METRICS = ("link_clicks", "link_ctr", "link_cpc", "interactions")
# A period's reach (Meta's people reached over the whole period, fetched for it: daily reach does
# not add up) and frequency = impressions / that reach; n/a where no reach was fetched for the
# line's exact period and scope (see `period_reach`).
REACH_METRICS = ("reach", "frequency")
# Google's search impression shares over the period, in percent, weighted by eligible
# impressions (impressions / share), never summed; a bound where the API gave one (see `Shares`).
SHARE_METRICS = ("search_impression_share", "search_budget_lost_share", "search_rank_lost_share")
CHOOSABLE = METRICS + PARITY_METRICS + REACH_METRICS + SHARE_METRICS
MONEY_METRICS = frozenset({"spend", "conversion_value", "cpc", "cpm", "cpa", "link_cpc"})
# +1: a rise is good, -1: a fall is good, 0: neither (more spend is not better or worse by itself)
DIRECTION = {"spend": 0, "impressions": 1, "clicks": 1, "conversions": 1, "conversion_value": 1,
             "ctr": 1, "cpc": -1, "cpm": -1, "cpa": -1, "roas": 1, "conversion_rate": 1,
             "link_clicks": 1, "link_ctr": 1, "link_cpc": -1, "interactions": 1,
             "reach": 1, "frequency": 0, "search_impression_share": 1,
             "search_budget_lost_share": -1, "search_rank_lost_share": -1}
HUNDRED = Decimal(100)
_m, _a, _c, _e = (MetricDaily.__table__, AdAccount.__table__,  # type: ignore[attr-defined]
                  Client.__table__, Entity.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Scope:
    """Whose numbers: one client, or every client of an agency; and in which currency."""

    agency: Agency
    clients: tuple[Client, ...]
    currency: str
    label: str

    @property
    def client_ids(self) -> list[str]:
        return [client.id for client in self.clients]


def client_scope(agency: Agency, client: Client) -> Scope:
    return Scope(agency, (client,), client.currency, client.name)


def agency_scope(session: Session, agency: Agency, *, active_only: bool = True) -> Scope:
    query = sa.select(Client).where(col(Client.agency_id) == agency.id).order_by(col(Client.name))
    if active_only:
        query = query.where(col(Client.active) == sa.true())
    clients = tuple(session.execute(query).scalars())
    return Scope(agency, clients, agency.currency, agency.name)


@dataclass
class Totals:
    """Summed parts, in micros of one currency (the reporting currency's, or an insight entity's
    account currency), and every rate computed from them: the one aggregate of metrics.

    The rates are exact quotients of the integer sums (never an average of daily rates); `values`
    rounds them for people, the insight heuristics compare them unrounded. A rate over zero is None.
    `daily_reach_sum` (the sum of daily reach, for the average daily frequency the insights
    watch) and `days` (days with a row) are filled where asked for; `reach` is the period's own
    reach (None: n/a), set on a line that has one, never a sum."""

    spend_micros: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions_millionths: int = 0
    conversion_value_micros: int = 0
    daily_reach_sum: int = 0  # impressions / this is the average daily frequency (insights)
    days: int = 0  # days with a row (delivery)
    # Link clicks (None: no row has them) with the impressions and spend of the rows that have
    # them; interactions (None: no row has them).
    link_clicks: int | None = None
    link_impressions: int = 0
    link_spend_micros: int = 0
    interactions: int | None = None
    reach: int | None = None  # the period's reach (metric_period_reach or a day's row); None: n/a
    shares: Shares = field(default_factory=lambda: Shares())

    @property
    def conversions(self) -> Decimal:
        return conversions_from_millionths(self.conversions_millionths)

    @property
    def ctr(self) -> Decimal | None:
        """Clicks per impression, as a fraction (0.0152 is 1.52 %)."""
        return _quotient(self.clicks, self.impressions)

    @property
    def cvr(self) -> Decimal | None:
        """Conversions per click, as a fraction."""
        return _quotient(self.conversions_millionths, self.clicks * MILLIONTHS)

    @property
    def cpc_micros(self) -> Decimal | None:
        return _quotient(self.spend_micros, self.clicks)

    @property
    def cpm_micros(self) -> Decimal | None:
        return _quotient(self.spend_micros * 1000, self.impressions)

    @property
    def cpa(self) -> Decimal | None:
        """Spend per conversion in micros, exact: micros per millionth of a conversion are
        currency units per conversion, so this is spend_micros × 10⁶ / conversions_millionths."""
        return _quotient(self.spend_micros * MILLIONTHS, self.conversions_millionths)

    @property
    def cpa_micros(self) -> int | None:
        """The CPA in whole micros (truncated), as the insight findings quote it."""
        cpa = self.cpa
        return None if cpa is None else int(cpa)

    @property
    def roas(self) -> Decimal | None:
        """Conversion value per unit of spend."""
        return _quotient(self.conversion_value_micros, self.spend_micros)

    @property
    def daily_frequency(self) -> Decimal | None:
        """Impressions per person per day, on average over the days (the sum of daily reach):
        what the insights compare between two windows. Not the period's frequency."""
        return _quotient(self.impressions, self.daily_reach_sum)

    @property
    def frequency(self) -> Decimal | None:
        """Impressions per person over the period: impressions / the period's reach."""
        return None if self.reach is None else _quotient(self.impressions, self.reach)

    def add(self, other: Totals) -> None:
        self.spend_micros += other.spend_micros
        self.impressions += other.impressions
        self.clicks += other.clicks
        self.conversions_millionths += other.conversions_millionths
        self.conversion_value_micros += other.conversion_value_micros
        self.daily_reach_sum += other.daily_reach_sum
        self.days += other.days
        self.reach = None  # two lines' people overlap: a period's reach is never added
        if other.link_clicks is not None:
            self.link_clicks = (self.link_clicks or 0) + other.link_clicks
        self.link_impressions += other.link_impressions
        self.link_spend_micros += other.link_spend_micros
        if other.interactions is not None:
            self.interactions = (self.interactions or 0) + other.interactions
        self.shares.add(other.shares)

    def values(self, currency: str) -> dict[str, Decimal | int | None]:
        """Every metric but the search shares (`shares.values()`): money in currency units,
        percentages as percent, n/a as None; the rates
        above rounded half up (money at the currency's minor unit, percentages and ROAS at 0.01)."""
        places = Decimal(1).scaleb(-minor_units(currency))
        cent = Decimal("0.01")
        return {
            "spend": to_amount(self.spend_micros, currency),
            "impressions": self.impressions,
            "clicks": self.clicks,
            "conversions": self.conversions,
            "conversion_value": to_amount(self.conversion_value_micros, currency),
            "ctr": _rounded(self.ctr, HUNDRED, cent),
            "cpc": _rounded(self.cpc_micros, ONE_PER_MICRO, places),
            "cpm": _rounded(self.cpm_micros, ONE_PER_MICRO, places),
            "cpa": _rounded(self.cpa, ONE_PER_MICRO, places),
            "roas": _rounded(self.roas, Decimal(1), cent),
            "conversion_rate": _rounded(self.cvr, HUNDRED, cent),
            "link_clicks": self.link_clicks,
            "link_ctr": _rounded(_quotient(self.link_clicks or 0, self.link_impressions),
                                 HUNDRED, cent),
            "link_cpc": _rounded(_quotient(self.link_spend_micros, self.link_clicks or 0),
                                 ONE_PER_MICRO, places),
            "interactions": self.interactions,
            "reach": self.reach,
            "frequency": _rounded(self.frequency, Decimal(1), cent),
        }


ONE_PER_MICRO = Decimal(1) / MICROS
SHARE_FLOOR = 99_900  # Google's 0.0999: a search impression share below 10 %
LOST_CEILING = 900_100  # Google's 0.9001: a lost share above 90 %
# Eligible impressions are summed in thousandths (impressions × 10⁹ / share in millionths): an
# integer, within 64 bits up to a billion impressions a campaign-day.
ELIGIBLE_SCALE = 10 ** 9


@dataclass
class Shares:
    """Google's search impression shares over a period, re-aggregated as the platform does:
    each day weighted by its eligible impressions (impressions / the day's share), so a
    period's share is Σ impressions / Σ eligible and a lost share Σ (eligible × lost) /
    Σ eligible; never a sum or plain average of daily shares. Only rows with all three shares
    take part (search campaigns); integers throughout (eligible in thousandths).

    Bounds: Google sends a share below 10 % as 0.0999 and a lost share above 90 % as 0.9001.
    A floored day's eligible impressions are at least the estimate, so a period with one has a
    share of at most the computed one: shown "<=x" ("<10" when x is under 10 %). A period
    with a lost share at the ceiling has a lost share of at least the computed one: ">=x"
    (">90" above 90 %). Exact values are Decimals in percent at 0.01; bounds are strings."""

    impressions: int = 0  # of the rows with shares
    eligible: int = 0  # thousandths of an impression
    budget_lost: int = 0  # eligible × budget-lost share, thousandths
    rank_lost: int = 0
    floored: int = 0  # rows whose share is the 0.0999 floor
    budget_capped: int = 0  # rows whose budget-lost share is the 0.9001 ceiling
    rank_capped: int = 0

    def add(self, other: Shares) -> None:
        self.impressions += other.impressions
        self.eligible += other.eligible
        self.budget_lost += other.budget_lost
        self.rank_lost += other.rank_lost
        self.floored += other.floored
        self.budget_capped += other.budget_capped
        self.rank_capped += other.rank_capped

    def share(self) -> Decimal | None:
        """The period's search impression share as a fraction (None: no search rows)."""
        return _quotient(self.impressions * 1000, self.eligible)

    def lost(self, which: str) -> Decimal | None:
        return _quotient(self.budget_lost if which == "budget" else self.rank_lost, self.eligible)

    def values(self) -> dict[str, Decimal | str | None]:
        return {"search_impression_share": _bounded(self.share(), "<=" if self.floored else None),
                "search_budget_lost_share": _bounded(self.lost("budget"),
                                                     ">=" if self.budget_capped else None),
                "search_rank_lost_share": _bounded(self.lost("rank"),
                                                   ">=" if self.rank_capped else None)}


def _bounded(fraction: Decimal | None, bound: str | None) -> Decimal | str | None:
    """A share in percent at 0.01: exact (rounded half up), or the bound it is, rounded away
    from the truth's side ("<=42.32" rounds up, ">=93.49" down); "<10" and ">90" where the
    bound passes Google's own."""
    if fraction is None:
        return None
    cent = Decimal("0.01")
    if bound is None:
        return (fraction * HUNDRED).quantize(cent, rounding=ROUND_HALF_UP)
    if bound == "<=":
        value = (fraction * HUNDRED).quantize(cent, rounding=ROUND_CEILING)
        return "<10" if value <= 10 else f"<={value}"
    value = (fraction * HUNDRED).quantize(cent, rounding=ROUND_FLOOR)
    return ">90" if value >= 90 else f">={value}"


def _quotient(part: int, whole: int) -> Decimal | None:
    return Decimal(part) / Decimal(whole) if whole else None


def _rounded(rate: Decimal | None, scale: Decimal, places: Decimal) -> Decimal | None:
    """`rate` × `scale` (a power of ten, so the product is exact) rounded half up at `places`."""
    return None if rate is None else (rate * scale).quantize(places, rounding=ROUND_HALF_UP)


@dataclass
class Line:
    """One group of a breakdown: what it is (key and labels) and its totals."""

    key: tuple[Any, ...]
    labels: dict[str, Any]
    totals: Totals = field(default_factory=Totals)
    accounts: set[str] = field(default_factory=set)  # the accounts whose rows make the line


def _level(by: str) -> str:
    return by if by in ("campaign", "adset", "ad") else "campaign"


@dataclass(frozen=True)
class ScopeAccount:
    """An ad account of a scope's clients, with what sums and conversions need of it."""

    id: str
    platform: str
    external_id: str
    name: str
    currency: str
    client_id: str
    client: str
    client_currency: str


def scope_accounts(session: Session, scope: Scope) -> dict[str, ScopeAccount]:
    """The ad accounts of the scope's clients, by id."""
    query = (sa.select(_a.c.id, _a.c.platform, _a.c.external_id, _a.c.name, _a.c.currency,
                       _c.c.id, _c.c.name, _c.c.currency)
             .select_from(_a.join(_c, _c.c.id == _a.c.client_id))
             .where(_c.c.id.in_(scope.client_ids)))
    return {row[0]: ScopeAccount(*row) for row in session.execute(query)}


def _bucket(dialect: str, by: str) -> Any:
    """The first day of the row's week (Monday) or month."""
    day = _m.c.date
    if dialect == "postgresql":
        return sa.cast(sa.func.date_trunc(by, day), sa.Date)
    if by == "week":  # the Monday on or before the day
        return sa.func.date(day, "-6 days", "weekday 1", type_=sa.Date)
    return sa.func.date(day, "start of month", type_=sa.Date)


def _sums(session: Session, accounts: dict[str, ScopeAccount], level: str, period: Period,
          key: Any | None, by_day: Callable[[ScopeAccount], bool]) -> Iterator[tuple[Any, ...]]:
    """Summed parts as (account id, day or None, key or None, spend, impressions, clicks,
    conversions, value): per day for the accounts `by_day` picks (those whose amounts are
    converted, at each day's rate), per account for the rest. Read in metric_daily's key order
    where it can be: (account, level, day) is a prefix of the key, so grouping by it needs no sort."""
    daily = [account_id for account_id, account in accounts.items() if by_day(account)]
    whole = [account_id for account_id in accounts if account_id not in set(daily)]
    with_links = _m.c.link_clicks.is_not(None)
    share, budget, rank = (_m.c.search_impression_share_millionths,
                           _m.c.search_budget_lost_share_millionths,
                           _m.c.search_rank_lost_share_millionths)
    with_shares = sa.and_(share > 0, budget.is_not(None), rank.is_not(None))

    def over_shares(value: Any) -> Any:
        return sa.func.sum(sa.case((with_shares, value), else_=0))

    # Eligible impressions per row (impressions / share), in thousandths, in integers: `//` is
    # SQL's integer division on SQLite and PostgreSQL (`/` would divide as REAL or NUMERIC).
    sums = (over_shares(_m.c.impressions),
            over_shares(_m.c.impressions * ELIGIBLE_SCALE // share),
            over_shares(_m.c.impressions * budget * 1000 // share),
            over_shares(_m.c.impressions * rank * 1000 // share),
            over_shares(sa.case((share == SHARE_FLOOR, 1), else_=0)),
            over_shares(sa.case((budget == LOST_CEILING, 1), else_=0)),
            over_shares(sa.case((rank == LOST_CEILING, 1), else_=0)),
            sa.func.sum(_m.c.link_clicks),
            sa.func.sum(sa.case((with_links, _m.c.impressions), else_=0)),
            sa.func.sum(sa.case((with_links, _m.c.spend_micros), else_=0)),
            sa.func.sum(_m.c.interactions),
            sa.func.sum(_m.c.spend_micros), sa.func.sum(_m.c.impressions), sa.func.sum(_m.c.clicks),
            sa.func.sum(_m.c.conversions_millionths), sa.func.sum(_m.c.conversion_value_micros))
    for ids, days in ((whole, False), (daily, True)):
        if not ids:
            continue
        columns = [_m.c.account_id] + ([_m.c.date] if days else []) + ([key] if key is not None else [])
        query = (sa.select(*columns, *sums)
                 .where(_m.c.account_id.in_(ids), _m.c.level == level,
                        _m.c.date.between(period.since, period.until))
                 .group_by(*columns))
        for row in session.execute(query):
            yield (row[0], row[1] if days else None, row[-17] if key is not None else None,
                   *row[-16:])


def _totals(row: Any, account: ScopeAccount, currency: str, day: dt.date | None,
            book: RateBook | None) -> Totals:
    shares = Shares(*(int(part or 0) for part in row[-16:-9]))
    links, link_impressions, link_spend, interactions = row[-9:-5]
    spend, impressions, clicks, conversions, value = row[-5:]
    spend, value, link_spend = int(spend or 0), int(value or 0), int(link_spend or 0)
    if account.currency != currency:
        if book is None:
            raise AssertionError("a conversion without rates")  # callers load them when needed
        spend = book.convert(spend, account.currency, currency, day)
        value = book.convert(value, account.currency, currency, day)
        link_spend = book.convert(link_spend, account.currency, currency, day)
    return Totals(spend, int(impressions or 0), int(clicks or 0),
                  int(conversions or 0), value,
                  link_clicks=None if links is None else int(links),
                  link_impressions=int(link_impressions or 0), link_spend_micros=link_spend,
                  interactions=None if interactions is None else int(interactions),
                  shares=shares)


def breakdown(session: Session, scope: Scope, period: Period, by: str,
              rates: RateBook | None = None, *, reach: bool = False) -> list[Line]:
    """The scope's totals over the period, one Line per group of `by` (one Line for "total",
    even when there is nothing), in the scope's currency; with `reach`, each line's period
    reach where the workbook has it (`period_reach`)."""
    if by not in DIMENSIONS:
        raise UsageError(f"cannot break down by {by!r}", hint=f"Use one of: {', '.join(DIMENSIONS)}.")
    accounts = scope_accounts(session, scope)
    lines: dict[tuple[Any, ...], Line] = {}
    if by == "total":
        lines[()] = Line((), {})
    if not accounts:
        return list(lines.values())
    convert = any(account.currency != scope.currency for account in accounts.values())
    book = rates if rates is not None or not convert else RateBook.load(session)
    level = _level(by)
    key = _m.c.entity_id if level == by else \
        _bucket(session.get_bind().dialect.name, by) if by in ("week", "month") else None
    entities = _entities(session, accounts, level) if key is _m.c.entity_id else {}
    daily = by == "day"
    for row in _sums(session, accounts, level, period, key,
                     lambda account: daily or account.currency != scope.currency):
        account, day = accounts[row[0]], row[1]
        group, labels = _group(by, account, day, row[2], entities)
        line = lines.get(group)
        if line is None:
            line = lines[group] = Line(group, labels)
        line.totals.add(_totals(row, account, scope.currency, day, book))
        if row[-4]:  # impressions: the account delivered in the line
            line.accounts.add(account.id)
    if reach:
        period_reach(session, accounts, list(lines.values()), by, period)
    return sorted(lines.values(), key=lambda line: _sort_key(by, line))


_r = MetricPeriodReach.__table__  # type: ignore[attr-defined]


def period_reach(session: Session, accounts: dict[str, ScopeAccount], lines: Sequence[Line],
                 by: str, period: Period) -> None:
    """Set each line's `reach` where the workbook has it for exactly the line's period and
    scope; the rest stay None (n/a). Reach never adds up (the same people are reached on
    several days, by several campaigns, through several accounts), so:

    - a campaign, ad set or ad line: its reach over the period from metric_period_reach (synced
      for the periods DataDrip shows), or over a one-day period the day's own row;
    - a line of one account's delivery (by account, or a total, platform or client line whose
      impressions all come from one account): the account's reach over the period from
      metric_period_reach;
    - any other line (several accounts; by day, week or month): n/a."""
    if by in ("day", "week", "month"):
        return
    level = _level(by)
    one_day = period.since == period.until
    if by in ("campaign", "adset", "ad"):
        wanted = [line.key[0] for line in lines]
        if one_day:
            query = sa.select(_m.c.entity_id, _m.c.reach).where(
                _m.c.account_id.in_(list(accounts)), _m.c.level == level,
                _m.c.date == period.since, _m.c.entity_id.in_(wanted))
        else:
            query = sa.select(_r.c.entity_id, _r.c.reach).where(
                _r.c.account_id.in_(list(accounts)), _r.c.level == level,
                _r.c.entity_id.in_(wanted), _r.c.date_from == period.since,
                _r.c.date_to == period.until)
        found = {entity_id: reach for entity_id, reach in session.execute(query)}
        for line in lines:
            line.totals.reach = found.get(line.key[0])
        return
    single = {line.key: next(iter(line.accounts)) for line in lines if len(line.accounts) == 1}
    if one_day or not single:
        return
    query = sa.select(_r.c.account_id, _r.c.reach).where(
        _r.c.account_id.in_(set(single.values())), _r.c.level == "account",
        _r.c.entity_id == _r.c.account_id, _r.c.date_from == period.since,
        _r.c.date_to == period.until)
    found = {account_id: reach for account_id, reach in session.execute(query)}
    for line in lines:
        if line.key in single:
            line.totals.reach = found.get(single[line.key])


def _group(by: str, account: ScopeAccount, day: dt.date | None, key: Any,
           entities: dict[str, tuple[str, str]]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if by == "total":
        return (), {}
    if by == "day":
        return (day,), {"day": day}
    if by in ("week", "month"):
        return (key,), {by: key}
    if by == "platform":
        return (account.platform,), {"platform": account.platform}
    if by == "account":
        return (account.id,), {"account_id": account.id, "platform": account.platform,
                               "account": account.external_id, "account_name": account.name,
                               "client": account.client}
    if by == "client":
        return (account.client_id,), {"client_id": account.client_id, "client": account.client}
    external_id, name = entities.get(key, (key, key))
    return (key,), {f"{by}_id": key, f"{by}_external_id": external_id, by: name,
                    "platform": account.platform, "client": account.client}


def _entities(session: Session, accounts: dict[str, ScopeAccount], level: str) -> dict[str, tuple[str, str]]:
    query = sa.select(_e.c.id, _e.c.external_id, _e.c.name).where(
        _e.c.account_id.in_(list(accounts)), _e.c.level == level)
    return {row[0]: (row[1], row[2]) for row in session.execute(query)}


def client_totals(session: Session, scope: Scope, period: Period,
                  rates: RateBook | None = None) -> tuple[dict[str, Totals], Totals]:
    """Each client of the scope over the period in the client's own currency, and the scope's
    total in the scope's currency, from one query."""
    accounts = scope_accounts(session, scope)
    found: dict[str, Totals] = {client_id: Totals() for client_id in scope.client_ids}
    total = Totals()
    if not accounts:
        return found, total

    def converted(account: ScopeAccount) -> bool:
        return account.currency != account.client_currency or account.currency != scope.currency

    convert = any(converted(account) for account in accounts.values())
    book = rates if rates is not None or not convert else RateBook.load(session)
    for row in _sums(session, accounts, "campaign", period, None, converted):
        account, day = accounts[row[0]], row[1]
        found[account.client_id].add(_totals(row, account, account.client_currency, day, book))
        total.add(_totals(row, account, scope.currency, day, book))
    return found, total


def _sort_key(by: str, line: Line) -> Any:
    if by in ("day", "week", "month"):
        return line.key
    return (-line.totals.spend_micros, tuple(str(part) for part in line.key))


# --- comparisons ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    metric: str
    current: Decimal | int | None
    previous: Decimal | int | None
    change: Decimal | int | None
    change_pct: Decimal | None
    verdict: str | None  # "good", "bad", or None (no change, no direction, or n/a)


def compare(current: Totals, previous: Totals, currency: str,
            metrics: Sequence[str] = METRICS) -> list[Change]:
    now, before = current.values(currency), previous.values(currency)
    changes = []
    for metric in metrics:
        a, b = now[metric], before[metric]
        if a is None or b is None:
            changes.append(Change(metric, a, b, None, None, None))
            continue
        delta = a - b
        pct = None if not b else (Decimal(delta) * HUNDRED / Decimal(b)).quantize(Decimal("0.1"))
        direction = DIRECTION[metric]
        verdict = None if not delta or not direction else (
            "good" if (delta > 0) == (direction > 0) else "bad")
        changes.append(Change(metric, a, b, delta, pct, verdict))
    return changes


# --- what a command asks for ---------------------------------------------------------------------

def resolve_scope(session: Session, client_ref: str | None, agency_ref: str | None) -> Scope:
    """--client C (optionally within --agency A), or --agency A (or the only agency)."""
    if client_ref is not None:
        client = find_client(session, client_ref, agency_ref)
        agency = session.get(Agency, client.agency_id)
        assert agency is not None  # a client always belongs to an agency
        return client_scope(agency, client)
    agency = agency_or_only(session, agency_ref)
    return agency_scope(session, agency)


def agency_today(agency: Agency, now: dt.datetime | None = None) -> dt.date:
    from zoneinfo import ZoneInfo

    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(agency.timezone)).date()


def parse_metrics(text: str | None) -> list[str]:
    if text is None or not text.strip():
        return list(METRICS)
    chosen = [name.strip().lower().replace("-", "_") for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in CHOOSABLE]
    if unknown:
        raise UsageError(f"unknown metric {unknown[0]!r}", hint=f"Use any of: {', '.join(CHOOSABLE)}.")
    return list(dict.fromkeys(chosen))


LABELS = {"day": ("day",), "week": ("week",), "month": ("month",), "platform": ("platform",),
          "account": ("client", "platform", "account", "account_name"), "client": ("client",),
          "campaign": ("client", "platform", "campaign_external_id", "campaign"),
          "adset": ("client", "platform", "adset_external_id", "adset"),
          "ad": ("client", "platform", "ad_external_id", "ad"), "total": ()}


def record_columns(by: str, metrics: Sequence[str]) -> list[str]:
    return [*LABELS[by], *metrics, "currency"]


def line_records(lines: Sequence[Line], by: str, metrics: Sequence[str],
                 currency: str) -> list[dict[str, Any]]:
    """Each Line as a flat record: its labels, the chosen metrics, and the currency."""
    records = []
    for line in lines:
        values: dict[str, Any] = {**line.totals.values(currency), **line.totals.shares.values()}
        record = {name: line.labels.get(name) for name in LABELS[by]}
        record.update({metric: values[metric] for metric in metrics})
        record["currency"] = currency
        records.append(record)
    return records
