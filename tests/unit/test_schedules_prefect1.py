"""Prefect 1's clocks, filters and adjustments on Proctor's schedules: times, JSON, errors."""

from __future__ import annotations

import warnings
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import DAILY, rrule

from proctor.schedules import (
    CronSchedule,
    DatesClock,
    IntervalSchedule,
    Schedule,
    ScheduleError,
    adjustments,
    clocks,
    filters,
    schedule_from_dict,
)

UTC = timezone.utc
FRIDAY = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)


def round_trip(schedule):
    again = schedule_from_dict(schedule.to_dict())
    assert again == schedule
    return again


def test_dates_clock_runs_once_at_each_date():
    clock = DatesClock([datetime(2026, 12, 10, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC),
                        datetime(2026, 12, 5, tzinfo=UTC)], parameter_defaults={"n": 1})
    runs = clock.next_runs(5, after=FRIDAY)
    assert [r.when.day for r in runs] == [5, 10] and runs[0].parameters == {"n": 1}
    assert clock.next(5, after=datetime(2026, 12, 11, tzinfo=UTC)) == []
    assert round_trip(clock).describe().startswith("at 2 set times")
    with pytest.raises(ScheduleError, match="naive"):
        DatesClock([datetime(2026, 12, 10)])


def test_interval_clock_and_schedule_take_prefect1_names_and_naive_utc():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        legacy = IntervalSchedule(start_date=datetime(2026, 12, 4, 10), interval=timedelta(hours=6))
        positional = IntervalSchedule(datetime(2026, 12, 4, 10), timedelta(hours=6))
    assert legacy == positional
    assert [w.category for w in caught] == [UserWarning, UserWarning]
    assert "read as UTC" in str(caught[0].message)
    assert legacy.next(2, after=FRIDAY) == [datetime(2026, 12, 4, 10, tzinfo=UTC),
                                            datetime(2026, 12, 4, 16, tzinfo=UTC)]
    clock = clocks.IntervalClock(timedelta(days=1), start_date=datetime(2026, 12, 1, 9,
                                                                        tzinfo=UTC),
                                 parameter_defaults={"mode": "daily"})
    assert clock.next_runs(1, after=FRIDAY)[0].parameters == {"mode": "daily"}
    # Proctor's own `anchor` keeps refusing naive values, saying how to fix it
    with pytest.raises(ScheduleError, match="ZoneInfo"):
        IntervalSchedule(60, anchor=datetime(2026, 1, 1))


def test_cron_clock_starts_at_its_start_date_in_its_zone():
    paris = ZoneInfo("Europe/Paris")
    clock = clocks.CronClock("0 9 * * *", start_date=datetime(2026, 12, 8, tzinfo=paris))
    assert clock.timezone == "Europe/Paris"
    assert clock.next(2, after=FRIDAY) == [datetime(2026, 12, 8, 8, tzinfo=UTC),
                                           datetime(2026, 12, 9, 8, tzinfo=UTC)]
    assert round_trip(clock).start == datetime(2026, 12, 7, 23, tzinfo=UTC)
    assert CronSchedule("0 9 * * *").to_dict().get("start") is None


def test_rrule_clock_from_a_dateutil_rule():
    rule = rrule(DAILY, dtstart=datetime(2026, 12, 1, 8), count=10)
    clock = clocks.RRuleClock(rule)
    assert clock.next(2, after=FRIDAY) == [datetime(2026, 12, 4, 8, tzinfo=UTC),
                                           datetime(2026, 12, 5, 8, tzinfo=UTC)]
    assert clock.next(20, after=FRIDAY)[-1] == datetime(2026, 12, 10, 8, tzinfo=UTC)


def test_prefect1_filters_select_the_right_times():
    hourly = [CronSchedule("0 * * * *")]
    nine = Schedule(hourly, filters=[filters.at_time(time(9))])
    assert {t.hour for t in nine.next(3, after=FRIDAY)} == {9}
    winter = Schedule(hourly, filters=[filters.between_dates(12, 20, 1, 5),
                                       filters.at_time("09:00")])
    assert winter.next(1, after=FRIDAY)[0] == datetime(2026, 12, 20, 9, tzinfo=UTC)
    assert winter.next(20, after=FRIDAY)[-1].year == 2027  # the range wraps the new year
    month_end = Schedule([CronSchedule("0 9 * * *")], filters=[filters.is_month_end])
    assert month_end.next(2, after=FRIDAY) == [datetime(2026, 12, 31, 9, tzinfo=UTC),
                                               datetime(2027, 1, 31, 9, tzinfo=UTC)]
    month_start = Schedule([CronSchedule("0 9 * * *")], filters=[filters.is_month_start])
    assert month_start.next(1, after=FRIDAY)[0].day == 1
    mondays = Schedule([CronSchedule("0 9 * * *")], filters=[filters.is_day_of_week(0)])
    assert {t.weekday() for t in mondays.next(3, after=FRIDAY)} == {0}
    christmas = Schedule([CronSchedule("0 9 * * *")], filters=[filters.on_date(12, 25)])
    assert christmas.next(2, after=FRIDAY)[1] == datetime(2027, 12, 25, 9, tzinfo=UTC)
    window = filters.between_datetimes(datetime(2026, 12, 5, tzinfo=UTC),
                                       datetime(2026, 12, 6, tzinfo=UTC))
    bounded = Schedule([CronSchedule("0 12 * * *")], filters=[window])
    assert bounded.next(5, after=FRIDAY) == [datetime(2026, 12, 5, 12, tzinfo=UTC)]
    for schedule in (nine, winter, month_end, month_start, mondays, christmas, bounded):
        round_trip(schedule)
    with pytest.raises(ScheduleError, match="February has no day 30"):
        filters.on_date(2, 30)
    with pytest.raises(ScheduleError, match="4 numbers"):
        filters.between_dates(1, 2, 3)


def test_or_filters_not_filters_and_adjustments():
    daily = [CronSchedule("0 9 * * *")]
    either = Schedule(daily, or_filters=[filters.is_weekend, filters.on_date(12, 9)])
    assert [t.day for t in either.next(3, after=FRIDAY)] == [5, 6, 9]
    weekdays_only = Schedule(daily, not_filters=[filters.not_filter(filters.is_weekday)])
    assert [t.weekday() for t in weekdays_only.next(3, after=FRIDAY)] == [4, 0, 1]
    moved = Schedule(daily, adjustments=[adjustments.next_weekday])
    times = moved.next(3, after=FRIDAY)
    assert times == [datetime(2026, 12, 4, 9, tzinfo=UTC), datetime(2026, 12, 7, 9, tzinfo=UTC),
                     datetime(2026, 12, 8, 9, tzinfo=UTC)]  # Sat and Sun become one Monday
    later = Schedule(daily, adjustments=[adjustments.add(timedelta(minutes=30))])
    assert later.next(1, after=FRIDAY) == [datetime(2026, 12, 4, 9, 30, tzinfo=UTC)]
    for schedule in (either, weekdays_only, moved, later):
        assert "kind" in schedule.to_dict()
        round_trip(schedule)
    assert "moved to the next Monday" in moved.describe()
    with pytest.raises(ScheduleError, match="adjustment"):
        schedule_from_dict({"kind": "schedule", "clocks": [daily[0].to_dict()],
                            "adjustments": [{"kind": "sideways"}]})
