"""Numbers, money and dates as the agency's readers write them (₹1,23,456.78 in en_IN)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from datadrip.analytics.totals import MONEY_METRICS

KPI_LABELS = {"spend": "Spend", "conversions": "Conversions", "cpa": "Cost per conversion",
              "roas": "ROAS", "conversion_value": "Revenue", "clicks": "Clicks", "ctr": "CTR",
              "cpc": "Cost per click", "impressions": "Impressions", "cpm": "CPM",
              "conversion_rate": "Conversion rate"}
PERCENT_METRICS = frozenset({"ctr", "conversion_rate"})
NOT_AVAILABLE = "n/a"


def money(amount: Decimal | int | None, currency: str, locale: str) -> str:
    if amount is None:
        return NOT_AVAILABLE
    from babel.numbers import format_currency

    return str(format_currency(Decimal(amount), currency, locale=locale))


def number(value: Decimal | int | None, locale: str) -> str:
    """A count; conversions may be fractional (data-driven attribution): up to two decimals."""
    if value is None:
        return NOT_AVAILABLE
    from babel.numbers import format_decimal

    return str(format_decimal(Decimal(value), format="#,##0.##", locale=locale))


def percent(value: Decimal | None, locale: str, *, signed: bool = False) -> str:
    """A value already in percent (12.5 → "12.5%")."""
    if value is None:
        return NOT_AVAILABLE
    from babel.numbers import format_decimal

    text = str(format_decimal(abs(value) if signed else value, format="#,##0.0", locale=locale))
    sign = "" if not signed else "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{text}%"


def share(value: Decimal | str | None, locale: str) -> str:
    """A search impression share in percent (analytics.totals.Shares): "42.3%", or the bound
    Google's reporting leaves it at: "at most 42.32%", "below 10%", "at least 93.49%",
    "above 90%"."""
    if value is None or isinstance(value, Decimal):
        return percent(value, locale)
    from babel.numbers import format_decimal

    words = {"<=": "at most", ">=": "at least", "<": "below", ">": "above"}
    sign = value[:2] if value[:2] in words else value[:1]
    number = format_decimal(Decimal(value[len(sign):]), format="#,##0.##", locale=locale)
    return f"{words[sign]} {number}%"


def ratio(value: Decimal | None, locale: str) -> str:
    """ROAS: revenue per unit spent, as "4.25×"."""
    if value is None:
        return NOT_AVAILABLE
    from babel.numbers import format_decimal

    return f"{format_decimal(value, format='#,##0.00', locale=locale)}×"


def metric(name: str, value: Any, currency: str, locale: str) -> str:
    """One KPI's value, formatted by what it is."""
    if name in MONEY_METRICS:
        return money(value, currency, locale)
    if name in PERCENT_METRICS:
        return percent(value, locale)
    if name == "roas":
        return ratio(value, locale)
    return number(value, locale)


def day(value: dt.date, locale: str) -> str:
    """23 Nov 2026."""
    from babel.dates import format_date

    return str(format_date(value, "d MMM y", locale=locale))


def month(value: dt.date, locale: str) -> str:
    """November 2026."""
    from babel.dates import format_date

    return str(format_date(value, "LLLL y", locale=locale))


def day_range(since: dt.date, until: dt.date, locale: str) -> str:
    """23 Nov 2026 · 16–22 Nov 2026 · 28 Nov – 4 Dec 2026 · November 2026 for a whole month."""
    from babel.dates import format_date

    if since == until:
        return day(since, locale)
    following = (until + dt.timedelta(days=1))
    if since.day == 1 and following.day == 1 and since.year == until.year and since.month == until.month:
        return month(since, locale)
    if since.year == until.year and since.month == until.month:
        return f"{format_date(since, 'd', locale=locale)}–{day(until, locale)}"
    if since.year == until.year:
        return f"{format_date(since, 'd MMM', locale=locale)} – {day(until, locale)}"
    return f"{day(since, locale)} – {day(until, locale)}"


def moment(value: dt.datetime | None, timezone: str, locale: str) -> str:
    """A UTC time as the agency reads it: 3 Dec 2026, 06:10 IST."""
    if value is None:
        return "never"
    from zoneinfo import ZoneInfo

    from babel.dates import format_datetime

    local = value.astimezone(ZoneInfo(timezone))
    return str(format_datetime(local, "d MMM y, HH:mm zzz", locale=locale))
