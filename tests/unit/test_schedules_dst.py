"""The DST rule, on the 2026 transitions of Europe/Paris and America/New_York.

Rule under test: a wall time skipped by spring forward runs moved forward by the gap; a wall time
repeated by fall back runs once (first occurrence) unless the hour field allows every hour, in which
case both occurrences run. Results are UTC instants, de-duplicated.
"""

from datetime import datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from proctor.schedules import CronSchedule, RRuleSchedule

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=zone, fold=fold)


def day_runs(clock, zone: ZoneInfo, year: int, month: int, day: int) -> list[datetime]:
    """Every run from local midnight (excluded) up to the next local midnight (included)."""
    start = local(zone, year, month, day) - timedelta(microseconds=1)
    stop = local(zone, year, month, day) + timedelta(days=1)
    stop = datetime.combine(stop.date(), datetime.min.time(), tzinfo=zone)
    runs = []
    for when in clock.iter(start):
        if when >= stop:
            return runs
        runs.append(when)
    return runs


DAILY = [
    # zone, cron, day before, expected UTC instants for the next three runs
    pytest.param(
        "Europe/Paris", "30 2 * * *", (2026, 3, 28, 12),
        # 02:30 does not exist on 03-29: it runs at 03:30 CEST (01:30 UTC), then 02:30 CEST.
        [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)],
        id="paris-spring-0230",
    ),
    pytest.param(
        "Europe/Paris", "30 2 * * *", (2026, 10, 24, 12),
        # 02:30 happens twice on 10-25: it runs once, at 02:30 CEST (00:30 UTC).
        [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), utc(2026, 10, 27, 1, 30)],
        id="paris-fall-0230",
    ),
    pytest.param(
        "Europe/Paris", "0 2 * * *", (2026, 3, 28, 12),
        # 02:00 is the first instant of the gap: it becomes 03:00 CEST (01:00 UTC).
        [utc(2026, 3, 29, 1), utc(2026, 3, 30, 0), utc(2026, 3, 31, 0)],
        id="paris-spring-0200",
    ),
    pytest.param(
        "Europe/Paris", "30 2,3 * * *", (2026, 3, 28, 12),
        # 02:30 moved to 03:30 meets the real 03:30: one run, not two.
        [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30), utc(2026, 3, 30, 1, 30)],
        id="paris-spring-collision",
    ),
    pytest.param(
        "America/New_York", "30 2 * * *", (2026, 3, 7, 12),
        # 02:30 does not exist on 03-08: 03:30 EDT (07:30 UTC).
        [utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)],
        id="new-york-spring-0230",
    ),
    pytest.param(
        "America/New_York", "30 1 * * *", (2026, 10, 31, 12),
        # 01:30 happens twice on 11-01: once, at 01:30 EDT (05:30 UTC).
        [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), utc(2026, 11, 3, 6, 30)],
        id="new-york-fall-0130",
    ),
]


@pytest.mark.parametrize(("zone", "cron", "after", "expected"), DAILY)
def test_daily_wall_clock_time_across_transitions(zone, cron, after, expected):
    clock = CronSchedule(cron, zone)
    assert clock.next(3, local(ZoneInfo(zone), *after)) == expected


def test_paris_spring_forward_run_shows_as_0330_local():
    (when,) = CronSchedule("30 2 * * *", "Europe/Paris").next(1, utc(2026, 3, 28, 12))
    assert when.astimezone(PARIS).strftime("%H:%M %Z") == "03:30 CEST"


def test_paris_fall_back_run_is_the_first_occurrence():
    (when,) = CronSchedule("30 2 * * *", "Europe/Paris").next(1, utc(2026, 10, 24, 12))
    # (An ambiguous local datetime never compares equal across zones: compare in UTC.)
    assert when == local(PARIS, 2026, 10, 25, 2, 30, fold=0).astimezone(UTC)
    assert when.astimezone(PARIS).strftime("%H:%M %Z") == "02:30 CEST"


def test_after_between_the_two_occurrences_does_not_repeat_the_run():
    clock = CronSchedule("30 2 * * *", "Europe/Paris")
    between = local(PARIS, 2026, 10, 25, 2, 45, fold=0)  # after the first 02:30
    assert clock.next(1, between) == [utc(2026, 10, 26, 1, 30)]


def test_after_inside_the_gap_still_finds_the_moved_run():
    clock = CronSchedule("30 2 * * *", "Europe/Paris")
    assert clock.next(1, utc(2026, 3, 29, 1, 10)) == [utc(2026, 3, 29, 1, 30)]  # 03:10 CEST


HOURLY = [
    # zone, cron, day, expected number of runs that local day, expected spacing
    pytest.param("Europe/Paris", "0 * * * *", (2026, 3, 29), 23, HOUR, id="paris-spring-hourly"),
    pytest.param("Europe/Paris", "0 * * * *", (2026, 10, 25), 25, HOUR, id="paris-fall-hourly"),
    pytest.param("Europe/Paris", "@hourly", (2026, 10, 25), 25, HOUR, id="paris-fall-macro"),
    pytest.param("Europe/Paris", "*/30 * * * *", (2026, 3, 29), 46, HOUR / 2,
                 id="paris-spring-half-hourly"),
    pytest.param("Europe/Paris", "*/30 * * * *", (2026, 10, 25), 50, HOUR / 2,
                 id="paris-fall-half-hourly"),
    pytest.param("America/New_York", "0 * * * *", (2026, 3, 8), 23, HOUR, id="ny-spring-hourly"),
    pytest.param("America/New_York", "0 * * * *", (2026, 11, 1), 25, HOUR, id="ny-fall-hourly"),
    pytest.param("Europe/Paris", "0 * * * *", (2026, 6, 1), 24, HOUR, id="paris-summer-hourly"),
]


@pytest.mark.parametrize(("zone", "cron", "day", "count", "spacing"), HOURLY)
def test_every_hour_fires_once_per_real_hour(zone, cron, day, count, spacing):
    runs = day_runs(CronSchedule(cron, zone), ZoneInfo(zone), *day)
    assert len(runs) == count
    assert all(later - earlier == spacing for earlier, later in pairwise(runs))


def test_paris_fall_back_hourly_runs_at_both_0200():
    runs = day_runs(CronSchedule("0 * * * *", "Europe/Paris"), PARIS, 2026, 10, 25)
    labels = [when.astimezone(PARIS).strftime("%H:%M %Z") for when in runs[:5]]
    assert labels == ["00:00 CEST", "01:00 CEST", "02:00 CEST", "02:00 CET", "03:00 CET"]


def test_paris_spring_forward_hourly_skips_nothing_and_repeats_nothing():
    runs = day_runs(CronSchedule("0 * * * *", "Europe/Paris"), PARIS, 2026, 3, 29)
    labels = [when.astimezone(PARIS).strftime("%H:%M %Z") for when in runs[:4]]
    assert labels == ["00:00 CET", "01:00 CET", "03:00 CEST", "04:00 CEST"]


def test_named_hours_run_once_in_the_repeated_hour():
    # '0 1-3 * * *' names hours, so the repeated 02:00 runs once (CEST).
    runs = day_runs(CronSchedule("0 1-3 * * *", "Europe/Paris"), PARIS, 2026, 10, 25)
    assert [when.astimezone(PARIS).strftime("%H:%M %Z") for when in runs] == [
        "01:00 CEST", "02:00 CEST", "03:00 CET"
    ]


def test_minutes_within_the_repeated_hour_every_hour():
    runs = day_runs(CronSchedule("15,45 * * * *", "America/New_York"), NEW_YORK, 2026, 11, 1)
    labels = [when.astimezone(NEW_YORK).strftime("%H:%M %Z") for when in runs[2:6]]
    assert labels == ["01:15 EDT", "01:45 EDT", "01:15 EST", "01:45 EST"]


def test_rrule_follows_the_same_rule():
    daily = RRuleSchedule("FREQ=DAILY;BYHOUR=2;BYMINUTE=30", "Europe/Paris")
    assert daily.next(2, utc(2026, 3, 28, 12)) == [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    assert daily.next(2, utc(2026, 10, 24, 12)) == [utc(2026, 10, 25, 0, 30),
                                                    utc(2026, 10, 26, 1, 30)]
    hourly = RRuleSchedule("FREQ=HOURLY", "Europe/Paris")
    assert len(day_runs(hourly, PARIS, 2026, 10, 25)) == 25
    assert len(day_runs(hourly, PARIS, 2026, 3, 29)) == 23
    named = RRuleSchedule("FREQ=HOURLY;BYHOUR=1,2,3", "Europe/Paris")
    assert len(day_runs(named, PARIS, 2026, 10, 25)) == 3
