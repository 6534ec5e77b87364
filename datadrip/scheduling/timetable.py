"""The daemon's timetable: cron expressions read in each agency's own timezone, as pure computation.

Daylight saving: every local wall-clock time a job names runs once. A time the clock skips (02:30
on a spring-forward night in New York) runs once, at the moment the clock jumps over it, read with
the offset in force before the change (02:30 EST, that is 03:30 EDT); a time the clock passes twice
(01:30 on a fall-back night) runs at its first occurrence only. Two wall times that land on the
same instant run once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from datadrip.core.cron import Cron, parse_cron

if TYPE_CHECKING:
    from datadrip.core.config import ScheduleSettings

JOBS = ("refresh_tokens", "sync", "reports", "weekly_reports")
# How far ahead or back a search for a matching day goes (29 February recurs within 8 years).
_SEARCH_DAYS = 8 * 366


@dataclass(frozen=True)
class ScheduledRun:
    """One run of a job for an agency: when it is due in the agency's time and in UTC."""

    job: str
    agency: str
    timezone: str
    local: dt.datetime
    utc: dt.datetime


def to_utc(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """A local wall time as a UTC instant: a skipped time with the offset before the jump (fold 0),
    a repeated time at its first occurrence."""
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)


def _instants(cron: Cron, zone: ZoneInfo, day: dt.date) -> list[dt.datetime]:
    if not cron.matches_day(day):
        return []
    return sorted({to_utc(day, at, zone) for at in cron.times()})


def fire_times(cron: Cron, zone: ZoneInfo, after: dt.datetime) -> Iterator[dt.datetime]:
    """UTC instants strictly after `after`, in order."""
    day = after.astimezone(zone).date() - dt.timedelta(days=1)  # a jump may pull a time back a day
    for offset in range(_SEARCH_DAYS):
        for instant in _instants(cron, zone, day + dt.timedelta(days=offset)):
            if instant > after:
                yield instant


def next_fire(cron: Cron, zone: ZoneInfo, after: dt.datetime) -> dt.datetime | None:
    """The first run strictly after `after` (UTC), or None if the expression never matches."""
    return next(fire_times(cron, zone, after), None)


def latest_fire(cron: Cron, zone: ZoneInfo, at_or_before: dt.datetime,
                not_before: dt.datetime) -> dt.datetime | None:
    """The latest run in [not_before, at_or_before] (UTC), or None: what a catch-up would run."""
    day = at_or_before.astimezone(zone).date() + dt.timedelta(days=1)
    last = not_before.astimezone(zone).date() - dt.timedelta(days=1)
    while day >= last:
        for instant in reversed(_instants(cron, zone, day)):
            if not_before <= instant <= at_or_before:
                return instant
        day -= dt.timedelta(days=1)
    return None


def job_crons(settings: ScheduleSettings) -> dict[str, Cron]:
    """The enabled jobs (an empty expression turns a job off) and their parsed expressions."""
    return {job: parse_cron(getattr(settings, job)) for job in JOBS if getattr(settings, job).strip()}


def next_runs(agencies: Sequence[tuple[str, str]], settings: ScheduleSettings,
              now: dt.datetime) -> list[ScheduledRun]:
    """Each enabled job's next run after `now` for each (agency name, IANA timezone), by time."""
    crons = job_crons(settings)
    runs = []
    for agency, timezone in agencies:
        zone = ZoneInfo(timezone)
        for job, cron in crons.items():
            instant = next_fire(cron, zone, now)
            if instant is not None:
                runs.append(ScheduledRun(job, agency, timezone, instant.astimezone(zone), instant))
    return sorted(runs, key=lambda run: (run.utc, run.agency, JOBS.index(run.job)))


def has_dst(timezone: str, year: int) -> bool:
    """Whether the zone's UTC offset changes during `year`."""
    zone = ZoneInfo(timezone)
    offsets = {dt.datetime(year, month, 1, 12, tzinfo=zone).utcoffset() for month in range(1, 13)}
    return len(offsets) > 1
