"""How a sync chooses its days: first sync, incremental with lookback, --since/--until, --full,
and the platforms' 37-month retention."""

from __future__ import annotations

import datetime as dt

import pytest

from datadrip.platforms.base import DateWindow
from datadrip.sync.run import plan_window

TODAY = dt.date(2026, 11, 26)


def plan(**given: object) -> DateWindow | None:
    options = {"today": TODAY, "cursor": None, "lookback_days": 28, "initial_days": 90, **given}
    return plan_window(**options)  # type: ignore[arg-type]


def test_plan_window_first_sync_pulls_initial_days_up_to_today():
    assert plan() == DateWindow(dt.date(2026, 8, 29), TODAY)


def test_plan_window_next_sync_re_reads_the_lookback_window():
    assert plan(cursor=TODAY) == DateWindow(dt.date(2026, 10, 29), TODAY)


def test_plan_window_after_a_long_pause_re_reads_the_lookback_before_the_cursor_too():
    # Days up to 1 Sep were last read on 1 Sep, too young to be final: read again with the new ones.
    assert plan(cursor=dt.date(2026, 9, 1), first_held=dt.date(2026, 6, 1)) == \
        DateWindow(dt.date(2026, 8, 5), TODAY)


@pytest.mark.parametrize("failed_days", [1, 3, 10, 40])
def test_plan_window_after_failed_syncs_reaches_back_as_far_as_the_failures_lasted(failed_days):
    """The last good sync read up to its today; each day since then failed. Every day that sync
    read younger than the lookback is read again, so a restatement is never missed."""
    last_good = TODAY - dt.timedelta(days=failed_days)

    window = plan(cursor=last_good, first_held=dt.date(2026, 1, 1))

    assert window == DateWindow(last_good + dt.timedelta(days=1) - dt.timedelta(days=28), TODAY)


def test_plan_window_re_reads_nothing_before_the_first_day_held():
    # A first sync cut short on 20 Sep: its days from 29 Aug are read again, none before.
    assert plan(cursor=dt.date(2026, 9, 20), first_held=dt.date(2026, 8, 29)) == \
        DateWindow(dt.date(2026, 8, 29), TODAY)
    assert plan(cursor=dt.date(2026, 9, 1)) == DateWindow(dt.date(2026, 9, 2), TODAY)  # nothing held


def test_plan_window_lookback_zero_fetches_only_new_days():
    assert plan(cursor=dt.date(2026, 11, 24), lookback_days=0) == DateWindow(dt.date(2026, 11, 25), TODAY)


def test_plan_window_since_and_until_win_over_the_cursor():
    assert plan(cursor=TODAY, since=dt.date(2026, 1, 1), until=dt.date(2026, 1, 31)) == \
        DateWindow(dt.date(2026, 1, 1), dt.date(2026, 1, 31))


def test_plan_window_full_ignores_the_cursor():
    assert plan(cursor=TODAY, full=True) == plan()


def test_plan_window_never_reaches_past_today_or_the_retention():
    assert plan(until=dt.date(2027, 1, 1)) == DateWindow(dt.date(2026, 8, 29), TODAY)
    # 37 months back is 2023-10-26; a day later, since a platform's today may be a day ahead.
    assert plan(since=dt.date(2020, 1, 1)).since == dt.date(2023, 10, 27)
    assert plan(since=dt.date(2023, 10, 28)).since == dt.date(2023, 10, 28)


def test_plan_window_retention_counts_months_to_the_shorter_month_end():
    assert plan(today=dt.date(2027, 3, 31), since=dt.date(2020, 1, 1)).since == dt.date(2024, 3, 1)


def test_plan_window_a_window_entirely_in_the_future_is_nothing_to_do():
    assert plan(since=dt.date(2026, 12, 1)) is None


@pytest.mark.parametrize("days", [1, 7, 14, 31])
def test_date_window_chunks_cover_the_window_once_oldest_first(days):
    window = DateWindow(dt.date(2026, 1, 30), dt.date(2026, 3, 2))

    chunks = list(window.chunks(days))

    assert chunks[0].since == window.since and chunks[-1].until == window.until
    assert all(c.days <= days for c in chunks)
    assert all(a.until + dt.timedelta(days=1) == b.since for a, b in zip(chunks, chunks[1:], strict=False))


def test_date_window_refuses_an_end_before_its_start():
    with pytest.raises(ValueError, match="ends"):
        DateWindow(dt.date(2026, 2, 1), dt.date(2026, 1, 31))
