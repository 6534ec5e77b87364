"""Reporting periods: named presets counted in the agency's calendar, custom ranges, and the
period of equal length just before, which every comparison is made against.

The "last N days" presets end yesterday, as Meta's and Google's own last_7d / LAST_7_DAYS do:
today is not over, and a half day compared with a whole one reads as a fall."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from datadrip.core.errors import UsageError

PRESETS = ("today", "yesterday", "last-7-days", "last-30-days", "this-week", "last-week",
           "month-to-date", "last-month")
DEFAULT_PRESET = "last-7-days"


@dataclass(frozen=True)
class Period:
    since: dt.date
    until: dt.date
    name: str  # the preset, or "custom"

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def previous(self) -> Period:
        """The period of equal length that ends the day before this one starts."""
        until = self.since - dt.timedelta(days=1)
        return Period(until - dt.timedelta(days=self.days - 1), until, "previous")

    def dates(self) -> list[dt.date]:
        return [self.since + dt.timedelta(days=n) for n in range(self.days)]

    def __str__(self) -> str:
        return f"{self.since}..{self.until}"


def preset_period(name: str, today: dt.date) -> Period:
    """A named period as of `today` (the agency's date)."""
    yesterday = today - dt.timedelta(days=1)
    monday = today - dt.timedelta(days=today.weekday())
    first = today.replace(day=1)
    if name == "today":
        return Period(today, today, name)
    if name == "yesterday":
        return Period(yesterday, yesterday, name)
    if name == "last-7-days":
        return Period(yesterday - dt.timedelta(days=6), yesterday, name)
    if name == "last-30-days":
        return Period(yesterday - dt.timedelta(days=29), yesterday, name)
    if name == "this-week":
        return Period(monday, today, name)
    if name == "last-week":
        return Period(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1), name)
    if name == "month-to-date":
        return Period(first, today, name)
    if name == "last-month":
        end = first - dt.timedelta(days=1)
        return Period(end.replace(day=1), end, name)
    raise UsageError(f"unknown period {name!r}", hint=f"Use one of: {', '.join(PRESETS)}, "
                                                        "or --since DATE [--until DATE].")


def months_back(day: dt.date, months: int) -> dt.date:
    """The same day `months` months earlier (the month's last day where it has fewer)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    following = dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    last = (following - dt.timedelta(days=1)).day
    return dt.date(year, month + 1, min(day.day, last))


# The periods whose reach a sync fetches (a period's reach is counted for the period: daily reach
# does not add up): the default periods of `metrics`, `dashboard` and the weekly and monthly
# reports, and month to date, each with the period before it that it is compared with.
# "yesterday" (the daily report) is one day: its reach is the day's own row.
REACH_PRESETS = ("last-7-days", "last-week", "month-to-date", "last-month")


def reach_periods(today: dt.date) -> list[Period]:
    """The ranges of more than one day whose reach DataDrip shows as of `today`: each of
    REACH_PRESETS and the period before it, each range once, oldest first."""
    found: dict[tuple[dt.date, dt.date], Period] = {}
    for name in REACH_PRESETS:
        period = preset_period(name, today)
        for each in (period, period.previous()):
            if each.days > 1:
                found.setdefault((each.since, each.until), each)
    return [found[key] for key in sorted(found)]


def parse_day(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date", hint="Write dates as YYYY-MM-DD.") from None


def resolve_period(preset: str | None, since: str | None, until: str | None,
                   today: dt.date) -> Period:
    """--period, or --since [--until] (until defaults to today), or the default preset."""
    if preset is not None and (since is not None or until is not None):
        raise UsageError("--period cannot be combined with --since/--until",
                         hint="Use a named period or a date range, not both.")
    if preset is not None:
        return preset_period(preset, today)
    if since is None and until is not None:
        raise UsageError("--until needs --since", hint="Give the range's first day: --since YYYY-MM-DD.")
    if since is None:
        return preset_period(DEFAULT_PRESET, today)
    start = parse_day(since, "--since")
    end = parse_day(until, "--until") if until is not None else today
    if start > end:
        raise UsageError(f"--since {start} is after --until {end}")
    return Period(start, end, "custom")
