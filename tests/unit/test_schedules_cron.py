"""CronSchedule: fields, names, macros, the day rule, end dates, strictly-after, errors."""

from datetime import datetime, timedelta, timezone

import pytest

from proctor.schedules import CronSchedule, ScheduleError

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# 2026-01-01 is a Thursday; 2026-01-04 a Sunday.
CASES = [
    ("*/15 * * * *", utc(2026, 1, 1), [utc(2026, 1, 1, 0, 15), utc(2026, 1, 1, 0, 30),
                                       utc(2026, 1, 1, 0, 45)]),
    ("* * * * *", utc(2026, 1, 1, 0, 0, 30), [utc(2026, 1, 1, 0, 1), utc(2026, 1, 1, 0, 2),
                                              utc(2026, 1, 1, 0, 3)]),
    ("5-10/2 * * * *", utc(2026, 1, 1), [utc(2026, 1, 1, 0, 5), utc(2026, 1, 1, 0, 7),
                                         utc(2026, 1, 1, 0, 9)]),
    ("50/5 * * * *", utc(2026, 1, 1), [utc(2026, 1, 1, 0, 50), utc(2026, 1, 1, 0, 55),
                                       utc(2026, 1, 1, 1, 50)]),
    ("0 9,17 * * *", utc(2026, 1, 1, 12), [utc(2026, 1, 1, 17), utc(2026, 1, 2, 9),
                                           utc(2026, 1, 2, 17)]),
    ("0 9 * * MON-FRI", utc(2026, 1, 2, 9), [utc(2026, 1, 5, 9), utc(2026, 1, 6, 9),
                                             utc(2026, 1, 7, 9)]),
    ("0 9 * * 1-5", utc(2026, 1, 2, 9), [utc(2026, 1, 5, 9), utc(2026, 1, 6, 9),
                                         utc(2026, 1, 7, 9)]),
    ("0 9 * jan mon", utc(2026, 1, 1), [utc(2026, 1, 5, 9), utc(2026, 1, 12, 9),
                                        utc(2026, 1, 19, 9)]),
    ("0 12 * * 7", utc(2026, 1, 1), [utc(2026, 1, 4, 12), utc(2026, 1, 11, 12),
                                     utc(2026, 1, 18, 12)]),
    ("0 12 * * SAT-SUN", utc(2026, 1, 1), [utc(2026, 1, 3, 12), utc(2026, 1, 4, 12),
                                           utc(2026, 1, 10, 12)]),
    ("0 12 * * FRI-SUN", utc(2026, 1, 3), [utc(2026, 1, 3, 12), utc(2026, 1, 4, 12),
                                           utc(2026, 1, 9, 12)]),
    ("0 0 1 JAN,JUL *", utc(2026, 1, 1), [utc(2026, 7, 1), utc(2027, 1, 1), utc(2027, 7, 1)]),
    ("0 0 31 * *", utc(2026, 1, 31), [utc(2026, 3, 31), utc(2026, 5, 31), utc(2026, 7, 31)]),
    ("0 0 29 2 *", utc(2026, 1, 1), [utc(2028, 2, 29), utc(2032, 2, 29), utc(2036, 2, 29)]),
    # Both day fields restricted: either matches (Fridays and the 13th).
    ("0 0 13 * FRI", utc(2026, 1, 1), [utc(2026, 1, 2), utc(2026, 1, 9), utc(2026, 1, 13)]),
    # A day field starting with '*' counts as unrestricted: both must match.
    ("0 0 */10 * MON", utc(2026, 1, 1), [utc(2026, 5, 11), utc(2026, 6, 1), utc(2026, 8, 31)]),
    ("0 0 1-7 * *", utc(2026, 1, 6), [utc(2026, 1, 7), utc(2026, 2, 1), utc(2026, 2, 2)]),
    # Year end.
    ("59 23 31 12 *", utc(2026, 6, 1), [utc(2026, 12, 31, 23, 59), utc(2027, 12, 31, 23, 59),
                                        utc(2028, 12, 31, 23, 59)]),
]


@pytest.mark.parametrize(("cron", "after", "expected"), CASES, ids=[c[0] for c in CASES])
def test_next_times(cron, after, expected):
    assert CronSchedule(cron).next(3, after) == expected


MACROS = [
    ("@hourly", [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2)]),
    ("@daily", [utc(2026, 1, 2), utc(2026, 1, 3)]),
    ("@midnight", [utc(2026, 1, 2), utc(2026, 1, 3)]),
    ("@weekly", [utc(2026, 1, 4), utc(2026, 1, 11)]),
    ("@monthly", [utc(2026, 2, 1), utc(2026, 3, 1)]),
    ("@yearly", [utc(2027, 1, 1), utc(2028, 1, 1)]),
    ("@annually", [utc(2027, 1, 1), utc(2028, 1, 1)]),
    ("@DAILY", [utc(2026, 1, 2), utc(2026, 1, 3)]),
]


@pytest.mark.parametrize(("macro", "expected"), MACROS, ids=[m[0] for m in MACROS])
def test_macros(macro, expected):
    assert CronSchedule(macro).next(2, utc(2026, 1, 1)) == expected


def test_next_is_strictly_after():
    clock = CronSchedule("0 9 * * *")
    assert clock.next(1, utc(2026, 1, 1, 9)) == [utc(2026, 1, 2, 9)]
    assert clock.next(1, utc(2026, 1, 1, 8, 59, 59, 999999)) == [utc(2026, 1, 1, 9)]
    assert clock.next(1, utc(2026, 1, 1, 9, 0, 0, 1)) == [utc(2026, 1, 2, 9)]


def test_after_in_another_zone_is_the_same_instant():
    clock = CronSchedule("0 9 * * *")
    tokyo = timezone(timedelta(hours=9))
    assert clock.next(1, datetime(2026, 1, 1, 18, tzinfo=tokyo)) == [utc(2026, 1, 2, 9)]


def test_results_are_aware_utc():
    (when,) = CronSchedule("0 9 * * *", "Asia/Tokyo").next(1, utc(2025, 12, 31, 12))
    assert when.tzinfo is UTC
    assert when == utc(2026, 1, 1, 0)


def test_zone_with_half_hour_offset():
    assert CronSchedule("0 * * * *", "Asia/Kolkata").next(2, utc(2026, 1, 1)) == [
        utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 1, 30)
    ]


def test_end_is_inclusive_and_ends_the_iteration():
    clock = CronSchedule("0 0 * * *", end=utc(2026, 1, 3))
    assert clock.next(10, utc(2026, 1, 1)) == [utc(2026, 1, 2), utc(2026, 1, 3)]
    assert clock.next(10, utc(2026, 1, 3)) == []


def test_iter_is_lazy_and_endless():
    stream = CronSchedule("* * * * *").iter(utc(2026, 1, 1))
    assert next(stream) == utc(2026, 1, 1, 0, 1)
    assert next(stream) == utc(2026, 1, 1, 0, 2)


def test_next_zero_and_bad_counts():
    clock = CronSchedule("* * * * *")
    assert clock.next(0, utc(2026, 1, 1)) == []
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ScheduleError, match="n must be"):
            clock.next(bad, utc(2026, 1, 1))


def test_default_after_is_now():
    (when,) = CronSchedule("* * * * *").next(1)
    now = datetime.now(UTC)
    assert now < when <= now + timedelta(minutes=1)


def test_text_is_normalised_and_macros_kept():
    assert CronSchedule("  0   9 * *  1-5 ").cron == "0 9 * * 1-5"
    assert CronSchedule("@daily").cron == "@daily"


INVALID = [
    ("61 * * * *", ["'61 * * * *'", "minute", "0-59"]),
    ("* 24 * * *", ["hour", "24", "0-23"]),
    ("* * 0 * *", ["day-of-month", "1-31"]),
    ("* * 32 * *", ["day-of-month", "32"]),
    ("* * * 13 *", ["month", "13", "JAN-DEC"]),
    ("* * * FOO *", ["month", "'FOO'"]),
    ("* * * * 8", ["day-of-week", "0-7"]),
    ("* * * * MON-FOO", ["day-of-week", "'FOO'"]),
    ("* * * * * *", ["6 fields", "five fields"]),
    ("0 0 * * * 2026", ["6 fields"]),
    ("* * * *", ["4 fields"]),
    ("@reboot", ["'@reboot'", "macro", "@daily"]),
    ("*/0 * * * *", ["minute", "step '0'"]),
    ("*/x * * * *", ["minute", "step 'x'"]),
    ("5-1 * * * *", ["minute", "'5-1'", "start is after its end"]),
    ("a * * * *", ["minute", "'a'", "not a number"]),
    ("-1 * * * *", ["minute"]),
    ("1,,2 * * * *", ["minute", "empty item"]),
    ("0 0 L * *", ["day-of-month", "not standard cron", "RRuleSchedule"]),
    ("0 0 ? * MON", ["day-of-month", "not standard"]),
    ("0 0 * * 5#3", ["day-of-week", "not standard"]),
    ("0 0 15W * *", ["day-of-month", "'15W'", "not standard"]),
    ("0 0 * * 5L", ["day-of-week", "'5L'", "not standard"]),
    ("0 0 30 2 *", ["never fires"]),
    ("0 0 31 4,6 *", ["never fires"]),
    ("", ["five fields"]),
    ("   ", ["five fields"]),
    (None, ["None"]),
    (5, ["5"]),
]


@pytest.mark.parametrize(("cron", "fragments"), INVALID, ids=[repr(c[0]) for c in INVALID])
def test_invalid_cron_names_the_value(cron, fragments):
    with pytest.raises(ScheduleError) as caught:
        CronSchedule(cron)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_schedule_error_is_a_value_error_and_a_proctor_error():
    from proctor.core.errors import ProctorError

    with pytest.raises(ValueError):
        CronSchedule("nope")
    assert issubclass(ScheduleError, ProctorError)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe/Pariss", "", "../etc/passwd", 3])
def test_unknown_timezone(zone):
    with pytest.raises(ScheduleError) as caught:
        CronSchedule("* * * * *", zone)
    assert repr(zone) in str(caught.value)
    assert "IANA" in str(caught.value)


def test_naive_datetimes_are_refused():
    with pytest.raises(ScheduleError, match="naive.*tzinfo"):
        CronSchedule("* * * * *").next(1, datetime(2026, 1, 1))
    with pytest.raises(ScheduleError, match="end 2026-01-01T00:00:00 is naive"):
        CronSchedule("* * * * *", end=datetime(2026, 1, 1))
    with pytest.raises(ScheduleError, match="after must be a timezone-aware datetime"):
        CronSchedule("* * * * *").next(1, "2026-01-01")


def test_equality_and_hash():
    assert CronSchedule("0 9 * * *", "Europe/Paris") == CronSchedule("0  9 * * *", "Europe/Paris")
    assert CronSchedule("0 9 * * *") != CronSchedule("0 9 * * *", "Europe/Paris")
    assert CronSchedule("0 9 * * *", parameters={"a": 1}) != CronSchedule("0 9 * * *")
    assert len({CronSchedule("@daily"), CronSchedule("@daily")}) == 1


def test_parameters_must_be_a_mapping_of_names():
    with pytest.raises(ScheduleError, match="parameters"):
        CronSchedule("@daily", parameters=[1, 2])
    with pytest.raises(ScheduleError, match="parameters"):
        CronSchedule("@daily", parameters={1: "x"})
