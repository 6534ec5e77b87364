"""The timetable: cron expressions in each agency's timezone, across the 2026 daylight-saving changes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from datadrip.core.config import ScheduleSettings
from datadrip.core.cron import parse_cron, parse_deadline
from datadrip.core.errors import ConfigError
from datadrip.platforms.registry import load_settings
from datadrip.scheduling.timetable import has_dst, latest_fire, next_fire, next_runs

UTC = dt.UTC
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def fires(expression: str, zone: ZoneInfo, start: dt.datetime, count: int) -> list[dt.datetime]:
    found, after = [], start
    for _ in range(count):
        instant = next_fire(parse_cron(expression), zone, after)
        assert instant is not None
        found.append(instant)
        after = instant
    return found


@pytest.mark.parametrize("zone, before, after", [
    (NY, utc(2026, 3, 6), utc(2026, 3, 10)),  # spring forward 8 March
    (NY, utc(2026, 10, 30), utc(2026, 11, 3)),  # fall back 1 November
    (BERLIN, utc(2026, 3, 27), utc(2026, 3, 31)),  # 29 March
    (BERLIN, utc(2026, 10, 23), utc(2026, 10, 27)),  # 25 October
    (KOLKATA, utc(2026, 3, 6), utc(2026, 3, 10)),  # no DST
])
def test_schedule_daily_job_keeps_its_local_time_across_dst(zone: ZoneInfo, before: dt.datetime,
                                                            after: dt.datetime) -> None:
    runs = fires("30 5 * * *", zone, before, 4)

    assert [run.astimezone(zone).strftime("%H:%M") for run in runs] == ["05:30"] * 4
    assert [run.astimezone(zone).date() - runs[0].astimezone(zone).date() for run in runs] == \
        [dt.timedelta(days=n) for n in range(4)]
    assert runs[-1] >= after - dt.timedelta(days=1)


def test_schedule_new_york_utc_time_moves_by_an_hour_after_spring_forward() -> None:
    runs = fires("30 5 * * *", NY, utc(2026, 3, 7), 2)

    assert runs == [utc(2026, 3, 7, 10, 30), utc(2026, 3, 8, 9, 30)]


def test_schedule_skipped_time_runs_once_when_the_clock_jumps() -> None:
    # 8 March 2026, New York: 02:00 EST becomes 03:00 EDT; 02:30 does not exist that night.
    runs = fires("30 2 * * *", NY, utc(2026, 3, 7), 3)

    assert runs == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)]
    assert runs[1].astimezone(NY).strftime("%H:%M %Z") == "03:30 EDT"


def test_schedule_skipped_time_in_berlin_runs_once() -> None:
    # 29 March 2026, Berlin: 02:00 CET becomes 03:00 CEST.
    runs = fires("30 2 * * *", BERLIN, utc(2026, 3, 28), 3)

    assert [run.astimezone(BERLIN).date().day for run in runs] == [28, 29, 30]
    assert runs[1] == utc(2026, 3, 29, 1, 30)


def test_schedule_repeated_time_runs_once_at_its_first_occurrence() -> None:
    # 1 November 2026, New York: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    runs = fires("30 1 * * *", NY, utc(2026, 10, 31, 12), 2)

    assert runs == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]


def test_schedule_hourly_job_over_fall_back_skips_the_repeated_hour() -> None:
    runs = fires("0 * * * *", BERLIN, utc(2026, 10, 24, 23, 30), 4)

    # Berlin 02:00 CEST (00:00 UTC), 03:00 CET (02:00 UTC): 02:00 CET is not run a second time.
    assert runs[:2] == [utc(2026, 10, 25, 0), utc(2026, 10, 25, 2)]
    assert len(set(runs)) == 4


def test_schedule_every_six_hours_in_kolkata() -> None:
    runs = fires("0 */6 * * *", KOLKATA, utc(2026, 6, 1), 4)

    assert [run.astimezone(KOLKATA).hour for run in runs] == [6, 12, 18, 0]
    assert runs[0] == utc(2026, 6, 1, 0, 30)


def test_schedule_weekly_monday_is_cron_monday() -> None:
    run = next_fire(parse_cron("0 7 * * 1"), KOLKATA, utc(2026, 12, 3))  # a Thursday

    assert run is not None
    assert run.astimezone(KOLKATA) == dt.datetime(2026, 12, 7, 7, tzinfo=KOLKATA)
    assert run.astimezone(KOLKATA).strftime("%A") == "Monday"


def test_schedule_day_of_month_or_day_of_week_as_cron_reads_both() -> None:
    cron = parse_cron("0 0 1 * fri")

    assert cron.matches_day(dt.date(2026, 12, 1))  # a Tuesday, the 1st
    assert cron.matches_day(dt.date(2026, 12, 4))  # a Friday
    assert not cron.matches_day(dt.date(2026, 12, 2))


def test_schedule_next_runs_per_agency_sorted_in_utc() -> None:
    now = utc(2026, 12, 3, 0, 0)
    runs = next_runs([("Spice", "Asia/Kolkata"), ("Hudson", "America/New_York")],
                     ScheduleSettings(weekly_reports=""), now)

    assert {(run.agency, run.job) for run in runs} == {
        (agency, job) for agency in ("Spice", "Hudson") for job in ("refresh_tokens", "sync", "reports")}
    assert [run.utc for run in runs] == sorted(run.utc for run in runs)
    sync = next(run for run in runs if run.agency == "Hudson" and run.job == "sync")
    assert sync.local.strftime("%Y-%m-%d %H:%M") == "2026-12-03 05:30"
    assert sync.utc == utc(2026, 12, 3, 10, 30)


def test_schedule_latest_fire_within_grace_is_the_one_catch_up_runs() -> None:
    cron = parse_cron("30 5 * * *")
    now = utc(2026, 12, 3, 6)  # 11:30 in Kolkata; 05:30 ran neither today nor the two days before

    assert latest_fire(cron, KOLKATA, now, now - dt.timedelta(days=3)) == utc(2026, 12, 3, 0, 0)
    assert latest_fire(cron, KOLKATA, now, now - dt.timedelta(hours=1)) is None


@pytest.mark.parametrize("expression, words", [
    ("30 5 * *", "5 fields"),
    ("61 5 * * *", "61 is outside the minute field's 0-59"),
    ("0 25 * * *", "outside the hour"),
    ("0 5 * * funday", "not a number"),
    ("0 10-5 * * *", "runs backwards"),
    ("0 5 * * */0", "at least 1"),
    ("0 5 30 2 *", "can never run: feb has no day 30"),
    ("0 5 30-31 feb *", "can never run: feb has no day 30 or 31"),
    ("0 5 31 4,6,9,11 *", "can never run: apr, jun, sep and nov have no day 31"),
])
def test_schedule_bad_cron_says_what_is_wrong(expression: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_cron(expression)


@pytest.mark.parametrize("expression, first", [
    ("0 5 29 2 *", utc(2028, 2, 29, 5)),  # leap years only
    ("0 5 30 2 mon", utc(2027, 2, 1, 5)),  # day of month or day of week: Mondays in February
    ("0 5 31 2,3 *", utc(2027, 3, 31, 5)),
])
def test_schedule_rare_but_possible_days_are_accepted(expression: str, first: dt.datetime) -> None:
    assert next_fire(parse_cron(expression), ZoneInfo("UTC"), utc(2026, 12, 7)) == first


def test_schedule_expression_that_never_runs_stops_the_command_naming_the_key(dd, home: Path) -> None:
    home.mkdir(exist_ok=True)
    (home / "datadrip.toml").write_text('[schedule]\nsync = "0 5 30 2 *"\n', encoding="utf-8")

    run = dd("schedule", "show")

    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        f"error: {home / 'datadrip.toml'}:2: [schedule] sync: '0 5 30 2 *' can never run: "
        "feb has no day 30"]


def test_schedule_aliases_and_names() -> None:
    assert parse_cron("@daily").times() == [dt.time(0, 0)]
    assert parse_cron("0 7 * jan-mar mon-fri").months == frozenset({1, 2, 3})
    assert parse_cron("0 0 * * 7").weekdays == frozenset({0})


def test_schedule_deadline_parses_hh_mm() -> None:
    assert parse_deadline("10:00") == dt.time(10)
    with pytest.raises(ValueError):
        parse_deadline("25:00")


def test_schedule_bad_cron_in_config_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "datadrip.toml"
    path.write_text('[schedule]\nsync = "30 29 * * *"\n', encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})

    assert caught.value.message.startswith(f"{path}:2: [schedule] sync:")
    assert "hour" in caught.value.message


def test_schedule_bad_cron_in_env_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DATADRIP_SCHEDULE_REPORTS"):
        load_settings(tmp_path / "none.toml", env={"DATADRIP_SCHEDULE_REPORTS": "every day"},
                      must_exist=False)


def test_schedule_empty_expression_turns_a_job_off(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path / "none.toml", env={"DATADRIP_SCHEDULE_WEEKLY_REPORTS": ""},
                           must_exist=False)

    runs = next_runs([("A", "Asia/Kolkata")], loaded.settings.schedule, utc(2026, 12, 3))
    assert "weekly_reports" not in {run.job for run in runs}


def test_schedule_has_dst() -> None:
    assert has_dst("America/New_York", 2026)
    assert not has_dst("Asia/Kolkata", 2026)


def test_schedule_bad_cron_stops_the_command_with_exit_2(dd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_SCHEDULE_SYNC", "30 29 * * *")

    run = dd("schedule", "show")

    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.splitlines()[0] == ("error: DATADRIP_SCHEDULE_SYNC: [schedule] sync: "
                                          "'30 29 * * *': 29 is outside the hour field's 0-23")
