"""Filters and Schedule: merging clocks, duplicates, per-clock parameters, filters in local time."""

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

import proctor.schedules.schedule as schedule_module
from proctor.schedules import (
    CronSchedule,
    IntervalSchedule,
    RRuleSchedule,
    Schedule,
    ScheduledTime,
    ScheduleError,
    at_time,
    between_dates,
    between_times,
    is_weekday,
    is_weekend,
    not_on_dates,
    on_dates,
)

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# 2026-01-02 is a Friday, 2026-01-03 a Saturday.
FILTERS = [
    (is_weekday, utc(2026, 1, 2, 12), True),
    (is_weekday, utc(2026, 1, 3, 12), False),
    (is_weekend, utc(2026, 1, 3, 12), True),
    (is_weekend, utc(2026, 1, 4, 23, 59), True),
    (is_weekend, utc(2026, 1, 5), False),
    (between_times("09:00", "17:00"), utc(2026, 1, 2, 9), True),
    (between_times("09:00", "17:00"), utc(2026, 1, 2, 17), True),
    (between_times("09:00", "17:00"), utc(2026, 1, 2, 17, 0, 1), False),
    (between_times("09:00", "17:00"), utc(2026, 1, 2, 8, 59), False),
    (between_times("22:00", "02:00"), utc(2026, 1, 2, 23), True),
    (between_times("22:00", "02:00"), utc(2026, 1, 2, 1), True),
    (between_times("22:00", "02:00"), utc(2026, 1, 2, 12), False),
    (between_times(time(9), time(10)), utc(2026, 1, 2, 9, 30), True),
    (at_time("09:00", "17:30"), utc(2026, 1, 2, 17, 30), True),
    (at_time("09:00"), utc(2026, 1, 2, 9, 1), False),
    (on_dates("2026-12-25", date(2026, 1, 1)), utc(2026, 12, 25, 8), True),
    (on_dates("2026-12-25"), utc(2026, 12, 26), False),
    (not_on_dates("2026-12-25"), utc(2026, 12, 25, 8), False),
    (not_on_dates("2026-12-25"), utc(2026, 12, 24, 8), True),
    (between_dates("2026-06-01", "2026-08-31"), utc(2026, 8, 31, 23), True),
    (between_dates("2026-06-01", "2026-08-31"), utc(2026, 9, 1), False),
]


@pytest.mark.parametrize(("test", "when", "expected"), FILTERS)
def test_filters(test, when, expected):
    assert test(when) is expected


def test_filters_read_the_datetime_they_are_given():
    # 2026-01-03 01:00 UTC is Friday 20:00 in New York.
    when = utc(2026, 1, 3, 1)
    assert not is_weekday(when)
    assert is_weekday(when.astimezone(NEW_YORK))


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: between_times("9am", "17:00"), "'9am'"),
        (lambda: between_times("09:00", 17), "17"),
        (lambda: between_times(time(9, tzinfo=UTC), "17:00"), "tzinfo"),
        (lambda: at_time(), "at least one"),
        (lambda: on_dates(), "at least one"),
        (lambda: on_dates("2026-13-01"), "'2026-13-01'"),
        (lambda: on_dates(datetime(2026, 1, 1)), "must be a date"),
        (lambda: between_dates("2026-02-01", "2026-01-01"), "after end"),
    ],
)
def test_invalid_filters(build, fragment):
    with pytest.raises(ScheduleError) as caught:
        build()
    assert fragment in str(caught.value)


def test_merge_sorts_and_removes_duplicate_instants():
    schedule = Schedule([CronSchedule("0 * * * *"), IntervalSchedule("30m")])
    assert schedule.next(4, utc(2026, 1, 1)) == [
        utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 1), utc(2026, 1, 1, 1, 30), utc(2026, 1, 1, 2)
    ]


def test_duplicates_with_equal_parameters_are_one_run_from_the_first_clock():
    hourly = CronSchedule("0 * * * *")
    half = IntervalSchedule("30m")
    runs = Schedule([half, hourly]).next_runs(3, utc(2026, 1, 1))
    assert [run.when for run in runs] == [utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 1),
                                          utc(2026, 1, 1, 1, 30)]
    assert all(run.clock is half for run in runs)


def test_per_clock_parameters_and_same_instant_with_different_parameters():
    europe = CronSchedule("0 9 * * *", parameters={"region": "eu"})
    america = CronSchedule("0 9 * * *", parameters={"region": "us"})
    extra = IntervalSchedule("12h", parameters={"region": "eu"})  # 00:00 and 12:00
    schedule = Schedule([europe, america, extra])
    runs = schedule.next_runs(4, utc(2026, 1, 1, 1))
    assert [(run.when, run.parameters["region"]) for run in runs] == [
        (utc(2026, 1, 1, 9), "eu"),
        (utc(2026, 1, 1, 9), "us"),
        (utc(2026, 1, 1, 12), "eu"),
        (utc(2026, 1, 2, 0), "eu"),
    ]
    assert runs[0].clock is europe and runs[1].clock is america
    assert schedule.next(3, utc(2026, 1, 1, 1)) == [utc(2026, 1, 1, 9), utc(2026, 1, 1, 12),
                                                    utc(2026, 1, 2)]


def test_run_parameters_are_copies():
    clock = CronSchedule("@daily", parameters={"n": 1})
    run = clock.next_runs(1, utc(2026, 1, 1))[0]
    run.parameters["n"] = 2
    assert clock.parameters == {"n": 1}
    assert run == ScheduledTime(utc(2026, 1, 2), {"n": 2}, clock)


def test_filters_see_each_clock_in_its_own_zone():
    # 23:00 in New York on a Friday is Saturday in UTC; it is still a weekday run.
    schedule = Schedule([CronSchedule("0 23 * * *", "America/New_York")], filters=[is_weekday])
    runs = schedule.next(3, utc(2026, 1, 2, 12))
    assert [when.astimezone(NEW_YORK).strftime("%a %H:%M") for when in runs] == [
        "Fri 23:00", "Mon 23:00", "Tue 23:00"
    ]


def test_filters_and_not_filters():
    schedule = Schedule(
        [IntervalSchedule("1h")],
        filters=[is_weekday, between_times("09:00", "11:00")],
        not_filters=[on_dates("2026-01-02")],
    )
    assert schedule.next(4, utc(2026, 1, 1, 10)) == [
        utc(2026, 1, 1, 11), utc(2026, 1, 5, 9), utc(2026, 1, 5, 10), utc(2026, 1, 5, 11)
    ]


def test_at_time_picks_from_a_frequent_clock():
    schedule = Schedule([IntervalSchedule("15m")], filters=[at_time("09:00", "17:00")])
    assert schedule.next(2, utc(2026, 1, 1)) == [utc(2026, 1, 1, 9), utc(2026, 1, 1, 17)]


def test_custom_callable_filter():
    schedule = Schedule([CronSchedule("0 * * * *")], filters=[lambda when: when.hour % 6 == 0])
    assert schedule.next(2, utc(2026, 1, 1)) == [utc(2026, 1, 1, 6), utc(2026, 1, 1, 12)]


def test_a_filter_that_never_matches_ends_the_iteration(monkeypatch):
    monkeypatch.setattr(schedule_module, "MAX_CONSECUTIVE_REJECTS", 500)
    schedule = Schedule([IntervalSchedule("1m")], filters=[on_dates("2000-01-01")])
    assert schedule.next(3, utc(2026, 1, 1)) == []


def test_ending_clocks_end_the_schedule():
    schedule = Schedule([
        CronSchedule("@daily", end=utc(2026, 1, 3)),
        RRuleSchedule("FREQ=DAILY;BYHOUR=12;COUNT=2"),
    ])
    assert schedule.next(10, utc(2026, 1, 1)) == [utc(2026, 1, 2), utc(2026, 1, 3)]
    rrule_start = RRuleSchedule("DTSTART:20260101T120000\nFREQ=DAILY;COUNT=2")
    assert Schedule([rrule_start]).next(10, utc(2026, 1, 1)) == [utc(2026, 1, 1, 12),
                                                                 utc(2026, 1, 2, 12)]


def test_iter_runs_is_lazy():
    stream = Schedule([IntervalSchedule(1)]).iter_runs(utc(2026, 1, 1))
    assert next(stream).when == utc(2026, 1, 1, 0, 0, 1)
    assert next(stream).when == utc(2026, 1, 1, 0, 0, 2)


def test_clock_next_runs_carries_its_parameters():
    clock = IntervalSchedule("1h", parameters={"full": True})
    assert clock.next_runs(2, utc(2026, 1, 1)) == [
        ScheduledTime(utc(2026, 1, 1, 1), {"full": True}, clock),
        ScheduledTime(utc(2026, 1, 1, 2), {"full": True}, clock),
    ]


def test_describe():
    schedule = Schedule(
        [CronSchedule("0 9 * * MON-FRI", "Europe/Paris"), IntervalSchedule("6h")],
        filters=[between_dates("2026-01-01", "2026-06-30")],
        not_filters=[on_dates("2026-05-01")],
    )
    assert schedule.describe() == (
        "at 09:00 on Monday through Friday (Europe/Paris); every 6 hours, "
        "from 2026-01-01 to 2026-06-30, except on 2026-05-01"
    )
    assert Schedule([IntervalSchedule(60)], filters=[is_weekday, is_weekend]).describe() == (
        "every minute, on weekdays, on weekends"
    )


@pytest.mark.parametrize(
    ("clocks", "filters", "fragment"),
    [
        ([], (), "at least one clock"),
        (["0 * * * *"], (), "clocks must be"),
        ([IntervalSchedule(60)], ["weekday"], "filters must be callables"),
    ],
)
def test_invalid_schedules(clocks, filters, fragment):
    with pytest.raises(ScheduleError, match=fragment):
        Schedule(clocks, filters=filters)


def test_a_single_clock_is_accepted():
    assert Schedule(IntervalSchedule(60)).clocks == (IntervalSchedule(60),)


def test_schedule_equality():
    assert Schedule([IntervalSchedule(60)], [is_weekday]) == Schedule([IntervalSchedule(60)],
                                                                      [is_weekday])
    assert Schedule([IntervalSchedule(60)]) != Schedule([IntervalSchedule(60)], [is_weekday])


@pytest.mark.parametrize(
    "timeline",
    [CronSchedule("@daily"), IntervalSchedule(60), RRuleSchedule("FREQ=DAILY"),
     Schedule([IntervalSchedule(60)])],
    ids=["cron", "interval", "rrule", "schedule"],
)
def test_iterators_check_after_when_created(timeline):
    with pytest.raises(ScheduleError, match="naive"):
        timeline.iter(datetime(2026, 1, 1))
    with pytest.raises(ScheduleError, match="naive"):
        timeline.iter_runs(datetime(2026, 1, 1))
