"""KPIs from the workbook: sums grouped in SQL, rates computed from the summed parts.

Every figure comes from one GROUP BY over metric_daily (by day, week, month, platform, account,
client, campaign, ad set or ad), never from a Python loop over rows. Totals and every breakdown
but the ad set and ad ones read the campaign level: an account's campaigns add up to the account.

Amounts are blended into one reporting currency (the client's, or the agency's for several
clients). When an account's currency differs, the database also groups by currency and day, and
each day's sum is converted with the rate of that day (datadrip.fx); a missing rate is an error
naming the pair, never a sum of rupees and dollars. Rates (CTR, CPC, CPA, ROAS…) are computed
from the summed parts, so they are never an average of daily rates, and rounded half up as a
person (or a spreadsheet) would; a rate over zero is None ("n/a"), not a division by zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from datadrip.db.models import AdAccount, Agency, Client, Entity, MetricDaily
from datadrip.errors import UsageError
from datadrip.fx import RateBook
from datadrip.money import MICROS, minor_units, to_amount
from datadrip.periods import Period

DIMENSIONS = ("total", "day", "week", "month", "platform", "account", "client", "campaign", "adset", "ad")
BASE_METRICS = ("spend", "impressions", "clicks", "conversions", "conversion_value")
RATE_METRICS = ("ctr", "cpc", "cpm", "cpa", "roas", "conversion_rate")
METRICS = BASE_METRICS + RATE_METRICS
MONEY_METRICS = frozenset({"spend", "conversion_value", "cpc", "cpm", "cpa"})
# +1: a rise is good, -1: a fall is good, 0: neither (more spend is not better or worse by itself)
DIRECTION = {"spend": 0, "impressions": 1, "clicks": 1, "conversions": 1, "conversion_value": 1,
             "ctr": 1, "cpc": -1, "cpm": -1, "cpa": -1, "roas": 1, "conversion_rate": 1}
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
    """Summed parts, in the reporting currency's micros."""

    spend_micros: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions: Decimal = Decimal(0)
    conversion_value_micros: int = 0

    def add(self, other: Totals) -> None:
        self.spend_micros += other.spend_micros
        self.impressions += other.impressions
        self.clicks += other.clicks
        self.conversions += other.conversions
        self.conversion_value_micros += other.conversion_value_micros

    def values(self, currency: str) -> dict[str, Decimal | int | None]:
        """Every metric: money in currency units, percentages as percent, n/a as None."""
        spend = Decimal(self.spend_micros) / MICROS
        value = Decimal(self.conversion_value_micros) / MICROS
        places = Decimal(1).scaleb(-minor_units(currency))
        return {
            "spend": to_amount(self.spend_micros, currency),
            "impressions": self.impressions,
            "clicks": self.clicks,
            "conversions": _plain(self.conversions),
            "conversion_value": to_amount(self.conversion_value_micros, currency),
            "ctr": _ratio(self.clicks * HUNDRED, self.impressions, Decimal("0.01")),
            "cpc": _ratio(spend, self.clicks, places),
            "cpm": _ratio(spend * 1000, self.impressions, places),
            "cpa": _ratio(spend, self.conversions, places),
            "roas": _ratio(value, spend, Decimal("0.01")),
            "conversion_rate": _ratio(self.conversions * HUNDRED, self.clicks, Decimal("0.01")),
        }


def _ratio(part: Decimal | int, whole: Decimal | int, places: Decimal) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(places, rounding=ROUND_HALF_UP)


def _plain(number: Decimal) -> Decimal:
    """A sum of conversions without float dust (stored as REAL: 0.1 + 0.2)."""
    rounded = number.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    return rounded.to_integral_value() if rounded == rounded.to_integral_value() else rounded.normalize()


@dataclass
class Line:
    """One group of a breakdown: what it is (key and labels) and its totals."""

    key: tuple[Any, ...]
    labels: dict[str, Any]
    totals: Totals = field(default_factory=Totals)


def _level(by: str) -> str:
    return by if by in ("campaign", "adset", "ad") else "campaign"


def _bucket(dialect: str, by: str) -> Any:
    day = _m.c.date
    if by == "day":
        return day
    if dialect == "postgresql":
        return sa.cast(sa.func.date_trunc(by, day), sa.Date)
    if by == "week":  # the Monday on or before the day
        return sa.func.date(day, "-6 days", "weekday 1", type_=sa.Date)
    return sa.func.date(day, "start of month", type_=sa.Date)


def _key_columns(dialect: str, by: str) -> list[Any]:
    if by == "total":
        return []
    if by in ("day", "week", "month"):
        return [_bucket(dialect, by).label(by)]
    if by == "platform":
        return [_a.c.platform.label("platform")]
    if by == "account":
        return [_a.c.id.label("account_id"), _a.c.platform.label("platform"),
                _a.c.external_id.label("account"), _a.c.name.label("account_name"),
                _c.c.name.label("client")]
    if by == "client":
        return [_c.c.id.label("client_id"), _c.c.name.label("client")]
    return [_e.c.id.label(f"{by}_id"), _e.c.external_id.label(f"{by}_external_id"),
            _e.c.name.label(by), _a.c.platform.label("platform"), _c.c.name.label("client")]


def breakdown(session: Session, scope: Scope, period: Period, by: str,
              rates: RateBook | None = None) -> list[Line]:
    """The scope's totals over the period, one Line per group of `by` (one Line for "total",
    even when there is nothing), in the scope's currency."""
    if by not in DIMENSIONS:
        raise UsageError(f"cannot break down by {by!r}", hint=f"Use one of: {', '.join(DIMENSIONS)}.")
    dialect = session.get_bind().dialect.name
    keys = _key_columns(dialect, by)
    currencies = _currencies(session, scope)
    convert = any(currency != scope.currency for currency in currencies)
    extra = [_a.c.currency.label("_currency"), _m.c.date.label("_date")] if convert else []
    sums = [sa.func.sum(_m.c.spend_micros).label("_spend"),
            sa.func.sum(_m.c.impressions).label("_impressions"),
            sa.func.sum(_m.c.clicks).label("_clicks"),
            sa.func.sum(_m.c.conversions).label("_conversions"),
            sa.func.sum(_m.c.conversion_value_micros).label("_value")]
    joined = _m.join(_a, _a.c.id == _m.c.account_id).join(_c, _c.c.id == _a.c.client_id)
    if by in ("campaign", "adset", "ad"):
        joined = joined.join(_e, _e.c.id == _m.c.entity_id)
    query = (sa.select(*keys, *extra, *sums).select_from(joined)
             .where(_c.c.id.in_(scope.client_ids), _m.c.level == _level(by),
                    _m.c.date.between(period.since, period.until)))
    group = [*keys, *extra]
    if group:
        query = query.group_by(*group)
    lines: dict[tuple[Any, ...], Line] = {}
    book = rates if rates is not None or not convert else RateBook.load(session)
    width = len(keys)
    for row in session.execute(query):
        if row._spend is None:  # SUM over no rows
            continue
        key = tuple(row[:width])
        line = lines.get(key)
        if line is None:
            line = lines[key] = Line(key, {column.name: row[i] for i, column in enumerate(keys)})
        spend, value = int(row._spend), int(row._value)
        if convert and row._currency != scope.currency:
            assert book is not None
            spend = book.convert(spend, row._currency, scope.currency, row._date)
            value = book.convert(value, row._currency, scope.currency, row._date)
        line.totals.add(Totals(spend, int(row._impressions), int(row._clicks),
                               Decimal(repr(float(row._conversions))), value))
    if by == "total" and not lines:
        lines[()] = Line((), {})
    return sorted(lines.values(), key=lambda line: _sort_key(by, line))


def _sort_key(by: str, line: Line) -> Any:
    if by in ("day", "week", "month"):
        return line.key
    return (-line.totals.spend_micros, tuple(str(part) for part in line.key))


def _currencies(session: Session, scope: Scope) -> set[str]:
    query = sa.select(_a.c.currency).where(_a.c.client_id.in_(scope.client_ids)).distinct()
    return set(session.execute(query).scalars())


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


def totals(session: Session, scope: Scope, period: Period, rates: RateBook | None = None) -> Totals:
    return breakdown(session, scope, period, "total", rates)[0].totals



# --- what a command asks for ---------------------------------------------------------------------

def resolve_scope(session: Session, client_ref: str | None, agency_ref: str | None) -> Scope:
    """--client C (optionally within --agency A), or --agency A (or the only agency)."""
    from datadrip.agencies import agency_or_only
    from datadrip.clients import find_client

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
    unknown = [name for name in chosen if name not in METRICS]
    if unknown:
        raise UsageError(f"unknown metric {unknown[0]!r}", hint=f"Use any of: {', '.join(METRICS)}.")
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
        values = line.totals.values(currency)
        record = {name: line.labels.get(name) for name in LABELS[by]}
        record.update({metric: values[metric] for metric in metrics})
        record["currency"] = currency
        records.append(record)
    return records
