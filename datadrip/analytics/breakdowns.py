"""Who saw the ads: campaigns' numbers by age, gender, country, placement or device, from
metric_breakdown_daily (synced for clients that opted into breakdowns).

Sums are grouped in SQL per account and value (per day too for an account whose currency is
converted), then folded into one line per value, both platforms together: Google's enum values
are shown as Meta writes them ("AGE_RANGE_25_34" → "25-34", "FEMALE" → "female", UNDETERMINED →
"Unknown" / "unknown", "MOBILE" → "mobile"). A number some row of a line does not have (reach on
Google; anything a platform withholds under a breakdown) makes that line's number unknown (None,
"n/a"), never a partial sum shown as whole. Breakdown sums may fall below the campaign totals
(Google has no age or gender for Performance Max), so they are shown for themselves, never as
shares of the totals.
"""

from __future__ import annotations

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
            "reach": totals.reach if known("reach") else None,
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
            line = lines.setdefault(shown, AudienceLine(shown))
            line.unknown.update(name for name, count in zip(_NUMBERS, present, strict=True)
                                if count < rows)
            spend, impressions, clicks, conversions, value, reach = (int(n or 0) for n in found)
            if account.currency != scope.currency:
                assert book is not None  # loaded above when any account is converted
                spend = book.convert(spend, account.currency, scope.currency, day)
                value = book.convert(value, account.currency, scope.currency, day)
            line.totals.add(Totals(spend, impressions, clicks, conversions, value, reach))
    return sorted(lines.values(), key=lambda line: (
        "spend_micros" in line.unknown, -line.totals.spend_micros, line.value))


def audience_records(lines: Sequence[AudienceLine], dimension: str,
                     currency: str) -> list[dict[str, Any]]:
    return [line.record(dimension, currency) for line in lines]
