"""RRuleSchedule: DTSTART forms, the default start, UNTIL/COUNT, zones, errors."""

import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from proctor.schedules import RRuleSchedule, ScheduleError

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


CASES = [
    pytest.param("FREQ=DAILY", None, utc(2026, 1, 1, 12),
                 [utc(2026, 1, 2), utc(2026, 1, 3)], id="default-start-midnight"),
    pytest.param("RRULE:FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9;BYMINUTE=0", None, utc(2026, 1, 1),
                 [utc(2026, 1, 2, 9), utc(2026, 1, 5, 9)], id="weekly-prefix"),
    pytest.param("freq=weekly;byday=mo", None, utc(2026, 1, 1),
                 [utc(2026, 1, 5), utc(2026, 1, 12)], id="lower-case"),
    pytest.param("FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=17", None, utc(2026, 1, 1),
                 [utc(2026, 1, 30, 17), utc(2026, 2, 27, 17)], id="last-friday"),
    pytest.param("FREQ=MONTHLY;BYMONTHDAY=-1", None, utc(2026, 1, 31),
                 [utc(2026, 2, 28), utc(2026, 3, 31)], id="last-day-of-month"),
    pytest.param("FREQ=DAILY;BYHOUR=9", "Europe/Paris", utc(2026, 1, 1),
                 [utc(2026, 1, 1, 8), utc(2026, 1, 2, 8)], id="zone"),
    pytest.param("DTSTART:20260105T090000\nRRULE:FREQ=DAILY;INTERVAL=2", "Europe/Paris",
                 utc(2026, 1, 1), [utc(2026, 1, 5, 8), utc(2026, 1, 7, 8)], id="local-dtstart"),
    pytest.param("DTSTART;TZID=America/New_York:20260105T090000\nRRULE:FREQ=WEEKLY", None,
                 utc(2026, 1, 1), [utc(2026, 1, 5, 14), utc(2026, 1, 12, 14)], id="tzid"),
    pytest.param("DTSTART:20260105T090000Z\nRRULE:FREQ=DAILY", "Europe/Paris",
                 utc(2026, 1, 1), [utc(2026, 1, 5, 9), utc(2026, 1, 6, 9)], id="utc-dtstart"),
    pytest.param("DTSTART;VALUE=DATE:20260105\nRRULE:FREQ=DAILY", None,
                 utc(2026, 1, 1), [utc(2026, 1, 5), utc(2026, 1, 6)], id="date-dtstart"),
    pytest.param("DTSTART:20260101T000000\nRRULE:FREQ=DAILY;COUNT=3", None,
                 utc(2026, 1, 1, 12), [utc(2026, 1, 2), utc(2026, 1, 3)], id="count"),
    pytest.param("FREQ=DAILY;UNTIL=20260103T000000Z", None, utc(2026, 1, 1),
                 [utc(2026, 1, 2), utc(2026, 1, 3)], id="until-utc-inclusive"),
    pytest.param("FREQ=DAILY;BYHOUR=9;UNTIL=20260102T090000", "Europe/Paris", utc(2026, 1, 1),
                 [utc(2026, 1, 1, 8), utc(2026, 1, 2, 8)], id="until-local"),
    pytest.param("FREQ=DAILY;BYHOUR=9;UNTIL=20260102", None, utc(2026, 1, 1),
                 [utc(2026, 1, 1, 9), utc(2026, 1, 2, 9)], id="until-date-whole-day"),
    pytest.param("FREQ=HOURLY;INTERVAL=5", None, utc(2026, 1, 1),
                 # 5-hour steps from 2020-01-01 00:00: 2026-01-01 is 52,608 hours later.
                 [utc(2026, 1, 1, 2), utc(2026, 1, 1, 7)], id="phase-kept-after-fast-forward"),
]


@pytest.mark.parametrize(("rule", "zone", "after", "expected"), CASES)
def test_next_times(rule, zone, after, expected):
    assert RRuleSchedule(rule, zone).next(5, after)[:2] == expected


def test_count_and_until_end_the_schedule():
    counted = RRuleSchedule("DTSTART:20260101T000000\nFREQ=DAILY;COUNT=3")
    assert len(counted.next(9, utc(2025, 1, 1))) == 3
    assert RRuleSchedule("FREQ=DAILY;UNTIL=20260103T000000Z").next(9, utc(2026, 1, 1)) == [
        utc(2026, 1, 2), utc(2026, 1, 3)
    ]


def test_strictly_after():
    rule = RRuleSchedule("FREQ=DAILY;BYHOUR=9")
    assert rule.next(1, utc(2026, 1, 1, 9)) == [utc(2026, 1, 2, 9)]


def test_frequent_rules_from_an_old_start_are_fast():
    started = time.perf_counter()
    assert RRuleSchedule("FREQ=MINUTELY;INTERVAL=7").next(3, utc(2030, 1, 1))
    assert time.perf_counter() - started < 2


def test_tzid_gives_the_zone_and_must_agree_with_timezone():
    rule = "DTSTART;TZID=Europe/Paris:20260105T090000\nRRULE:FREQ=DAILY"
    assert RRuleSchedule(rule).timezone == "Europe/Paris"
    assert RRuleSchedule(rule, "Europe/Paris").timezone == "Europe/Paris"
    with pytest.raises(ScheduleError, match="TZID 'Europe/Paris' differs from timezone 'UTC'"):
        RRuleSchedule(rule, "UTC")


def test_describe_falls_back_to_the_rule():
    rule = RRuleSchedule("DTSTART:20260105T090000\nRRULE:FREQ=WEEKLY", "Europe/Paris")
    assert rule.describe() == "RRULE DTSTART:20260105T090000 RRULE:FREQ=WEEKLY (Europe/Paris)"


INVALID = [
    ("", "expected an RFC 5545 rule"),
    (None, "None"),
    ("hello", "'HELLO' is not KEY=VALUE"),
    ("BYDAY=MO", "FREQ must be one of"),
    ("FREQ=FORTNIGHTLY", "FREQ must be one of"),
    ("FREQ=DAILY;BYHOUR=25", "'FREQ=DAILY;BYHOUR=25'"),
    ("FREQ=DAILY;BYDAY=XX", "'FREQ=DAILY;BYDAY=XX'"),
    ("FREQ=DAILY;FOO=1", "FOO"),
    ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a positive integer"),
    ("FREQ=DAILY;INTERVAL=x", "INTERVAL must be a positive integer"),
    ("FREQ=DAILY;COUNT=-1", "COUNT must be a positive integer"),
    ("FREQ=DAILY;COUNT=2;UNTIL=20260101", "COUNT and UNTIL"),
    ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given twice"),
    ("FREQ=DAILY;UNTIL=tomorrow", "UNTIL 'TOMORROW'"),
    ("DTSTART:2026\nFREQ=DAILY", "DTSTART '2026'"),
    ("DTSTART:20261341T000000\nFREQ=DAILY", "DTSTART '20261341T000000'"),
    ("DTSTART:20260101T000000\nDTSTART:20260102T000000\nFREQ=DAILY", "one RRULE line"),
    ("FREQ=DAILY\nFREQ=WEEKLY", "one RRULE line"),
    ("DTSTART;TZID=Mars/Base:20260101T000000\nFREQ=DAILY", "'Mars/Base'"),
    ("DTSTART;TZID=Europe/Paris:20260101T000000Z\nFREQ=DAILY", "both TZID and 'Z'"),
]


@pytest.mark.parametrize(("rule", "fragment"), INVALID, ids=[repr(i[0]) for i in INVALID])
def test_invalid_rrule(rule, fragment):
    with pytest.raises(ScheduleError) as caught:
        RRuleSchedule(rule)
    assert fragment in str(caught.value)


def test_unknown_timezone():
    with pytest.raises(ScheduleError, match="unknown time zone 'Atlantis'"):
        RRuleSchedule("FREQ=DAILY", "Atlantis")
