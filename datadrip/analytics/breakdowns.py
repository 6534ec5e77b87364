"""Who saw the ads: campaigns' numbers by age, gender, country, placement or device, from
metric_breakdown_daily (synced for clients that opted into breakdowns).

Sums are grouped in SQL per account and value (per day too for an account whose currency is
converted), then folded into one line per value, both platforms together: Google's enum values
are shown as Meta writes them ("AGE_RANGE_25_34" → "25-34", "FEMALE" → "female", UNDETERMINED →
"Unknown" / "unknown", "MOBILE" → "mobile"). A number some row of a line does not have (reach on
Google; anything a platform withholds under a breakdown) makes that line's number unknown (None,
"n/a"), never a partial sum shown as whole. Reach is shown only for a one-day period: daily reach
is not additive (one person reached on two days is one person), and a breakdown's period reach is
not fetched, so over more days it is n/a. Breakdown sums may fall below the campaign totals
(Google has no age or gender for Performance Max), so they are shown for themselves, never as
shares of the totals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from datadrip.analytics.totals import HUNDRED, ONE_PER_MICRO, Scope, Totals, scope_accounts
from datadrip.core.errors import UsageError
from datadrip.core.money import conversions_from_millionths, minor_units, to_amount
from datadrip.core.periods import Period
from datadrip.db.models import MetricBreakdownDaily
from datadrip.workbook.fx import RateBook

DIMENSIONS = ("age", "gender", "country", "placement", "device")
COLUMNS = ("spend", "impressions", "clicks", "conversions", "conversion_value", "ctr", "cpa",
           "reach")
_b = MetricBreakdownDaily.__table__  # type: ignore[attr-defined]
_NUMBERS = ("spend_micros", "impressions", "clicks", "conversions_millionths",
            "conversion_value_micros", "reach")
_GOOGLE_AGES = {"AGE_RANGE_18_24": "18-24", "AGE_RANGE_25_34": "25-34", "AGE_RANGE_35_44": "35-44",
                "AGE_RANGE_45_54": "45-54", "AGE_RANGE_55_64": "55-64", "AGE_RANGE_65_UP": "65+",
                "UNDETERMINED": "Unknown"}


def shown_value(dimension: str, value: str) -> str:
    """A platform's value as shown: Google's enums in Meta's words."""
    if dimension == "age":
        return _GOOGLE_AGES.get(value, value)
    if dimension == "gender" and value == "UNDETERMINED":
        return "unknown"
    if dimension in ("gender", "device") and value.isupper():
        return value.lower()
    return value


@dataclass
class AudienceLine:
    """One value of a dimension over the period: its summed numbers, and which are unknown."""

    value: str
    totals: Totals = field(default_factory=Totals)
    unknown: set[str] = field(default_factory=set)  # of _NUMBERS
    one_day: bool = True  # reach is shown only for one day (daily reach is not additive)

    def record(self, dimension: str, currency: str) -> dict[str, Any]:
        """The line as shown: money in currency units, CTR in percent, None for unknown."""
        totals, unknown = self.totals, self.unknown
        places = Decimal(1).scaleb(-minor_units(currency))

        def known(*names: str) -> bool:
            return not unknown.intersection(names)

        ctr, cpa = totals.ctr, totals.cpa
        return {
            dimension: self.value,
            "spend": to_amount(totals.spend_micros, currency) if known("spend_micros") else None,
            "impressions": totals.impressions if known("impressions") else None,
            "clicks": totals.clicks if known("clicks") else None,
            "conversions": conversions_from_millionths(totals.conversions_millionths)
            if known("conversions_millionths") else None,
            "conversion_value": to_amount(totals.conversion_value_micros, currency)
            if known("conversion_value_micros") else None,
            "ctr": (ctr * HUNDRED).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            if ctr is not None and known("clicks", "impressions") else None,
            "cpa": (cpa * ONE_PER_MICRO).quantize(places, rounding=ROUND_HALF_UP)
            if cpa is not None and known("spend_micros", "conversions_millionths") else None,
            # A one-day line: the day's reach (Totals keeps it as the sum of daily reach).
            "reach": totals.daily_reach_sum if self.one_day and known("reach") else None,
            "currency": currency,
        }


def audience(session: Session, scope: Scope, period: Period, dimension: str,
             rates: RateBook | None = None) -> list[AudienceLine]:
    """The scope's breakdown by `dimension` over the period, one line per value, most spend
    first (unknown spend last), in the scope's currency."""
    if dimension not in DIMENSIONS:
        raise UsageError(f"cannot break down by {dimension!r}",
                         hint=f"Use one of: {', '.join(DIMENSIONS)}.")
    accounts = scope_accounts(session, scope)
    if not accounts:
        return []
    converted = [key for key, account in accounts.items() if account.currency != scope.currency]
    book = rates if rates is not None or not converted else RateBook.load(session)
    lines: dict[str, AudienceLine] = {}
    sums = [sa.func.sum(getattr(_b.c, name)) for name in _NUMBERS]
    counts = [sa.func.count(getattr(_b.c, name)) for name in _NUMBERS]
    for ids, by_day in (([key for key in accounts if key not in converted], False), (converted, True)):
        if not ids:
            continue
        keys = [_b.c.account_id, _b.c.value] + ([_b.c.date] if by_day else [])
        query = (sa.select(*keys, sa.func.count(), *sums, *counts)
                 .where(_b.c.account_id.in_(ids), _b.c.dimension == dimension,
                        _b.c.date.between(period.since, period.until))
                 .group_by(*keys))
        for row in session.execute(query):
            account = accounts[row[0]]
            day = row[2] if by_day else None
            rows, found = row[len(keys)], row[len(keys) + 1:len(keys) + 1 + len(_NUMBERS)]
            present = row[len(keys) + 1 + len(_NUMBERS):]
            shown = shown_value(dimension, row[1])
            line = lines.setdefault(shown, AudienceLine(shown, one_day=period.days == 1))
            line.unknown.update(name for name, count in zip(_NUMBERS, present, strict=True)
                                if count < rows)
            spend, impressions, clicks, conversions, value, reach = (int(n or 0) for n in found)
            if account.currency != scope.currency:
                assert book is not None  # loaded above when any account is converted
                spend = book.convert(spend, account.currency, scope.currency, day)
                value = book.convert(value, account.currency, scope.currency, day)
            line.totals.add(Totals(spend, impressions, clicks, conversions, value,
                                   daily_reach_sum=reach))
    return sorted(lines.values(), key=lambda line: (
        "spend_micros" in line.unknown, -line.totals.spend_micros, line.value))


def days_without(session: Session, scope: Scope, period: Period, dimension: str) -> list[Period]:
    """The runs of days of the period on which none of the scope's accounts has a breakdown by
    `dimension`: days before a platform's limit for breakdowns (37 months back), days synced
    before the client opted in, days nothing ran. Empty when every day has one."""
    accounts = scope_accounts(session, scope)
    held = set() if not accounts else {
        day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
        for (day,) in session.execute(
            sa.select(_b.c.date).distinct().where(
                _b.c.account_id.in_(list(accounts)), _b.c.dimension == dimension,
                _b.c.date.between(period.since, period.until)))}
    runs: list[Period] = []
    day = period.since
    while day <= period.until:
        if day not in held:
            if runs and runs[-1].until == day - dt.timedelta(days=1):
                runs[-1] = Period(runs[-1].since, day, "custom")
            else:
                runs.append(Period(day, day, "custom"))
        day += dt.timedelta(days=1)
    return runs


def days_without_note(runs: Sequence[Period], dimension: str, shown: int = 5) -> str:
    """"No breakdown by age for 2023-10-01 to 2023-11-07, 2024-01-03: …", or "" for none."""
    if not runs:
        return ""
    spans = [str(run.since) if run.days == 1 else f"{run.since} to {run.until}"
             for run in runs[:shown]]
    more = f" and {len(runs) - shown} more" if len(runs) > shown else ""
    return (f"No breakdown by {dimension} for {', '.join(spans)}{more}: days before the platforms' "
            "limit for breakdowns (37 months back), days synced before the breakdown was chosen, "
            "or days nothing ran; those days are in no line.")


def audience_records(lines: Sequence[AudienceLine], dimension: str,
                     currency: str) -> list[dict[str, Any]]:
    return [line.record(dimension, currency) for line in lines]
