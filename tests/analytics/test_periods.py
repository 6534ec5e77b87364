"""Period presets in the agency's calendar, custom ranges, and the previous period of equal length."""

from __future__ import annotations

import datetime as dt

import pytest

from datadrip.analytics.totals import agency_today
from datadrip.core.errors import UsageError
from datadrip.core.periods import Period, preset_period, resolve_period
from datadrip.db.models import Agency

D = dt.date


@pytest.mark.parametrize(("name", "today", "since", "until"), [
    ("today", D(2026, 11, 26), D(2026, 11, 26), D(2026, 11, 26)),
    ("yesterday", D(2026, 11, 1), D(2026, 10, 31), D(2026, 10, 31)),       # across a month end
    ("yesterday", D(2027, 1, 1), D(2026, 12, 31), D(2026, 12, 31)),        # and a year end
    ("last-7-days", D(2026, 11, 26), D(2026, 11, 19), D(2026, 11, 25)),    # whole days: ends yesterday
    ("last-30-days", D(2026, 11, 26), D(2026, 10, 27), D(2026, 11, 25)),
    ("this-week", D(2026, 11, 29), D(2026, 11, 23), D(2026, 11, 29)),      # a Sunday: Monday to today
    ("this-week", D(2026, 11, 23), D(2026, 11, 23), D(2026, 11, 23)),      # a Monday
    ("last-week", D(2026, 11, 23), D(2026, 11, 16), D(2026, 11, 22)),
    ("month-to-date", D(2024, 2, 29), D(2024, 2, 1), D(2024, 2, 29)),      # a leap day
    ("month-to-date", D(2026, 3, 1), D(2026, 3, 1), D(2026, 3, 1)),
    ("last-month", D(2024, 3, 31), D(2024, 2, 1), D(2024, 2, 29)),         # February of a leap year
    ("last-month", D(2026, 3, 1), D(2026, 2, 1), D(2026, 2, 28)),
    ("last-month", D(2026, 1, 15), D(2025, 12, 1), D(2025, 12, 31)),
])
def test_presets_count_calendar_days_of_the_agency(name, today, since, until):
    period = preset_period(name, today)

    assert (period.since, period.until, period.name) == (since, until, name)


@pytest.mark.parametrize(("period", "since", "until"), [
    (Period(D(2026, 11, 19), D(2026, 11, 25), "last-7-days"), D(2026, 11, 12), D(2026, 11, 18)),
    (Period(D(2024, 2, 1), D(2024, 2, 29), "last-month"), D(2024, 1, 3), D(2024, 1, 31)),  # 29 days
    (Period(D(2026, 3, 1), D(2026, 3, 1), "month-to-date"), D(2026, 2, 28), D(2026, 2, 28)),
    (Period(D(2024, 3, 1), D(2024, 3, 1), "today"), D(2024, 2, 29), D(2024, 2, 29)),
])
def test_the_previous_period_has_the_same_length_and_ends_the_day_before(period, since, until):
    previous = period.previous()

    assert (previous.since, previous.until) == (since, until)
    assert previous.days == period.days


def test_without_a_period_the_last_7_whole_days_are_used_and_a_range_ends_today_by_default():
    assert resolve_period(None, None, None, D(2026, 11, 26)) == preset_period("last-7-days", D(2026, 11, 26))
    assert resolve_period(None, "2026-11-01", None, D(2026, 11, 26)) == \
        Period(D(2026, 11, 1), D(2026, 11, 26), "custom")


def test_today_is_the_agencys_date_not_the_machines():
    kolkata, los_angeles = Agency(name="A", timezone="Asia/Kolkata"), \
        Agency(name="B", timezone="America/Los_Angeles")
    instant = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)  # 01:30 on the 26th in Kolkata

    assert agency_today(kolkata, instant) == D(2026, 11, 26)
    assert agency_today(los_angeles, instant) == D(2026, 11, 25)


@pytest.mark.parametrize(("preset", "since", "until", "message"), [
    ("fortnight", None, None, "unknown period 'fortnight'"),
    ("today", "2026-11-01", None, "cannot be combined"),
    (None, None, "2026-11-01", "--until needs --since"),
    (None, "2026-11-31", None, "--since '2026-11-31' is not a date"),
    (None, "2026-11-02", "2026-11-01", "is after --until"),
])
def test_bad_periods_are_usage_errors(preset, since, until, message):
    with pytest.raises(UsageError, match=message):
        resolve_period(preset, since, until, D(2026, 11, 26))
