"""The fast cron planner's own machinery: zones without DST, the memo of converted wall times, the
parse cache, and the year limit. (That its runs equal the old walk's is checked by
test_schedules_cron_oracle.py and the properties in test_schedules_properties.py.)"""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from proctor.schedules import CronSchedule, ScheduleError, _time
from proctor.schedules.cron_expr import CronExpression

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "offset"),
    [("UTC", timedelta(0)), ("Etc/GMT-3", timedelta(hours=3)), ("Etc/GMT+12", timedelta(hours=-12)),
     ("Europe/Paris", None), ("Asia/Kathmandu", None)],  # Kathmandu changed once, in 1986
)
def test_only_zones_that_never_change_count_as_fixed(zone, offset):
    assert _time.fixed_offset(ZoneInfo(zone)) == offset


def test_a_fixed_zone_is_planned_by_subtraction():
    runs = CronSchedule("30 9 * * 1-5", "Etc/GMT-3").next(3, utc(2026, 1, 2, 6, 30))
    assert runs == [utc(2026, 1, 5, 6, 30), utc(2026, 1, 6, 6, 30), utc(2026, 1, 7, 6, 30)]


@pytest.mark.parametrize("cron", ["*/5 * * * *", "0 * * * *", "30 2 * * *"])
def test_runs_are_the_same_whatever_the_memo_holds(monkeypatch, cron):
    clock = CronSchedule(cron, "Europe/Paris")
    after = utc(2026, 10, 24, 23, 40)  # the fall-back night follows
    monkeypatch.setattr(_time, "_REMEMBERED", {})
    cold = clock.next(40, after)
    monkeypatch.setattr(_time, "_REMEMBERED", {})
    clock.next(40, after + timedelta(hours=3))  # some of the wall times, not all
    partly = clock.next(40, after)
    assert clock.next(40, after) == partly == cold


def test_the_memo_stays_bounded(monkeypatch):
    monkeypatch.setattr(_time, "_REMEMBERED", {})
    monkeypatch.setattr(_time, "MAX_REMEMBERED_ZONES", 2)
    monkeypatch.setattr("proctor.schedules.cron_plan.MAX_REMEMBERED", 100)
    monkeypatch.setattr(_time, "MAX_REMEMBERED", 100)
    runs = CronSchedule("* * * * *", "Europe/Paris").next(1000, utc(2026, 3, 28, 12))
    assert len(runs) == 1000
    assert all(len(memo) <= 100 for memo in _time._REMEMBERED.values())
    for zone in ("America/New_York", "Asia/Tokyo", "Australia/Sydney"):
        CronSchedule("0 * * * *", zone).next(3, utc(2026, 3, 28, 12))
    assert len(_time._REMEMBERED) <= 2


def test_a_text_is_parsed_once_and_errors_are_raised_each_time():
    assert CronExpression.parse("0 9 * * 1-5") is CronExpression.parse("0 9 * * 1-5")
    for _ in range(2):
        with pytest.raises(ScheduleError, match="day-of-week"):
            CronExpression.parse("0 9 * * 8")


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        # The walk stops after 31 December 9998, or on 1 January 9999 when December is allowed.
        ("0 0 1 * *", utc(9998, 12, 30), [utc(9999, 1, 1)]),
        ("0 0 1 1 *", utc(9998, 12, 30), []),
        ("0 0 * 12 *", utc(9998, 12, 30), [utc(9998, 12, 31)]),
        # From 9999 on, only the day before `after`'s local date was looked at.
        ("*/30 * * * *", utc(9999, 1, 2, 5), []),
    ],
)
def test_the_year_limit_is_where_it_was(cron, after, expected):
    assert CronSchedule(cron).next(3, after) == expected
