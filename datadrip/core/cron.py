"""Five-field cron expressions and HH:MM times of day, parsed and checked (no timezone, no clock)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 0, 7))
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 29 February: leap years
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NAMES = {3: {name: number for number, name in enumerate(_MONTHS, start=1)},
          4: {name: number for number, name in enumerate(_WEEKDAYS)}}
_ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
            "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
            "@annually": "0 0 1 1 *"}
_TERM = re.compile(r"^(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:/(\d+))?$")


@dataclass(frozen=True)
class Cron:
    """A parsed five-field cron expression (minute hour day-of-month month day-of-week)."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday, as cron counts
    any_day: bool  # day of month is '*'
    any_weekday: bool  # day of week is '*'
    fields: tuple[str, ...] = ()  # the five fields as written (aliases such as @daily expanded)

    def matches_day(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week  # both restricted: either matches, as cron does

    def times(self) -> list[dt.time]:
        return [dt.time(hour, minute) for hour in sorted(self.hours) for minute in sorted(self.minutes)]


def parse_cron(text: str) -> Cron:
    """Parse a cron expression. Raises ValueError saying which field is wrong and why."""
    expression = _ALIASES.get(text.strip().lower(), text.strip().lower())
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(f"{text!r} is not a cron expression: it needs 5 fields (minute hour "
                         f"day-of-month month day-of-week), e.g. \"30 5 * * *\"")
    values = [_parse_field(index, part, text) for index, part in enumerate(parts)]
    weekdays = frozenset(day % 7 for day in values[4])  # 7 is Sunday too
    if parts[4] == "*" and not any(day <= _MONTH_DAYS[month - 1] for month in values[3]
                                   for day in values[2]):
        raise ValueError(f"{text!r} can never run: {_month_list(values[3])} "
                         f"{'has' if len(values[3]) == 1 else 'have'} no day {_day_list(values[2])}")
    return Cron(text, frozenset(values[0]), frozenset(values[1]), frozenset(values[2]),
                frozenset(values[3]), weekdays, parts[2] == "*", parts[4] == "*", tuple(parts))


def _month_list(months: set[int]) -> str:
    names = [_MONTHS[month - 1] for month in sorted(months)]  # as cron spells them
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _day_list(days: set[int]) -> str:
    numbers = [str(day) for day in sorted(days)]
    return numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " or " + numbers[-1]


def _parse_field(index: int, part: str, text: str) -> set[int]:
    name, low, high = _FIELDS[index]
    found: set[int] = set()
    for term in part.split(","):
        match = _TERM.match(term)
        if not match:
            raise ValueError(f"{text!r}: the {name} field has {term!r}, which cron cannot read")
        star, first, last, step = match.groups()
        if star:
            start, end = low, high if index != 4 else 6
        else:
            start = _number(first, index, name, text)
            end = _number(last, index, name, text) if last else (high if step else start)
        for value in (start, end):
            if not low <= value <= high:
                raise ValueError(f"{text!r}: {value} is outside the {name} field's {low}-{high}")
        if end < start:
            raise ValueError(f"{text!r}: the {name} range {term!r} runs backwards")
        stride = int(step) if step else 1
        if stride < 1:
            raise ValueError(f"{text!r}: the {name} step must be at least 1")
        found.update(range(start, end + 1, stride))
    return found


def _number(token: str, index: int, name: str, text: str) -> int:
    if token.isdigit():
        return int(token)
    if token[:3] in _NAMES.get(index, {}) and len(token) == 3:
        return _NAMES[index][token]
    raise ValueError(f"{text!r}: the {name} field has {token!r}, which is not a number")


def parse_deadline(text: str) -> dt.time:
    """`HH:MM` (24-hour) as a time. Raises ValueError."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"{text!r} is not a time of day as HH:MM, e.g. \"10:00\"")
    return dt.time(int(match.group(1)), int(match.group(2)))
