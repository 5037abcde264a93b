"""IntervalSchedule: grid arithmetic, anchors, ends, elapsed-time DST behaviour, parsing."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from proctor.schedules import IntervalSchedule, ScheduleError, parse_interval

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


GRID = [
    # interval, anchor, after, expected next three
    pytest.param(300, None, utc(2026, 1, 1, 10, 2, 30),
                 [utc(2026, 1, 1, 10, 5), utc(2026, 1, 1, 10, 10), utc(2026, 1, 1, 10, 15)],
                 id="default-anchor-aligns-to-5-minutes"),
    pytest.param(300, None, utc(2026, 1, 1, 10, 5),
                 [utc(2026, 1, 1, 10, 10), utc(2026, 1, 1, 10, 15), utc(2026, 1, 1, 10, 20)],
                 id="after-on-the-grid-is-excluded"),
    pytest.param(timedelta(hours=1), utc(2026, 1, 1, 0, 20), utc(2026, 1, 1, 5),
                 [utc(2026, 1, 1, 5, 20), utc(2026, 1, 1, 6, 20), utc(2026, 1, 1, 7, 20)],
                 id="anchor-sets-the-phase"),
    pytest.param(timedelta(days=1), utc(2026, 6, 1, 9), utc(2026, 1, 1),
                 [utc(2026, 6, 1, 9), utc(2026, 6, 2, 9), utc(2026, 6, 3, 9)],
                 id="future-anchor-is-the-first-run"),
    pytest.param(timedelta(days=1), utc(2026, 6, 1, 9), utc(2026, 6, 1, 8, 59, 59, 999999),
                 [utc(2026, 6, 1, 9), utc(2026, 6, 2, 9), utc(2026, 6, 3, 9)],
                 id="just-before-anchor"),
    pytest.param(1.5, utc(2026, 1, 1), utc(2026, 1, 1, 0, 0, 2),
                 [utc(2026, 1, 1, 0, 0, 3), datetime(2026, 1, 1, 0, 0, 4, 500000, tzinfo=UTC),
                  utc(2026, 1, 1, 0, 0, 6)],
                 id="fractional-seconds"),
    pytest.param("1h30m", None, utc(2026, 1, 1, 1),
                 [utc(2026, 1, 1, 1, 30), utc(2026, 1, 1, 3), utc(2026, 1, 1, 4, 30)],
                 id="text-interval"),
    pytest.param(timedelta(weeks=1), datetime(2026, 1, 5, 9, tzinfo=PARIS), utc(2026, 1, 6),
                 [utc(2026, 1, 12, 8), utc(2026, 1, 19, 8), utc(2026, 1, 26, 8)],
                 id="anchor-in-a-zone"),
]


@pytest.mark.parametrize(("interval", "anchor", "after", "expected"), GRID)
def test_next_times(interval, anchor, after, expected):
    assert IntervalSchedule(interval, anchor=anchor).next(3, after) == expected


def test_elapsed_time_across_dst_moves_the_wall_clock_time():
    # 24 hours are 24 hours: anchored at 09:00 CET, the run shows 10:00 CEST in summer.
    clock = IntervalSchedule(timedelta(days=1), anchor=datetime(2026, 3, 27, 9, tzinfo=PARIS))
    runs = clock.next(3, utc(2026, 3, 27))
    assert [when.astimezone(PARIS).strftime("%d %H:%M") for when in runs] == [
        "27 09:00", "28 09:00", "29 10:00"
    ]
    assert runs[2] - runs[1] == timedelta(hours=24)


def test_timezone_sets_the_default_anchor_to_local_midnight():
    clock = IntervalSchedule("1h", timezone="Asia/Kolkata")
    assert clock.next(1, utc(2026, 1, 1)) == [utc(2026, 1, 1, 0, 30)]  # 06:00 IST
    assert clock.anchor == datetime(2020, 1, 1, tzinfo=ZoneInfo("Asia/Kolkata"))


def test_timezone_with_an_anchor_keeps_the_instant():
    anchor = utc(2026, 1, 1, 8)
    clock = IntervalSchedule("1d", anchor=anchor, timezone="Europe/Paris")
    assert clock.anchor == anchor
    assert clock.zone == PARIS


def test_results_are_utc():
    clock = IntervalSchedule(60, anchor=datetime(2026, 1, 1, tzinfo=PARIS))
    (when,) = clock.next(1, utc(2026, 2, 1))
    assert when.tzinfo is UTC


def test_end_is_inclusive():
    clock = IntervalSchedule(3600, anchor=utc(2026, 1, 1), end=utc(2026, 1, 1, 3))
    assert clock.next(10, utc(2026, 1, 1)) == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2),
                                               utc(2026, 1, 1, 3)]
    assert clock.next(10, utc(2026, 1, 1, 3)) == []


def test_end_before_anchor_never_fires():
    clock = IntervalSchedule(60, anchor=utc(2026, 1, 2), end=utc(2026, 1, 1))
    assert clock.next(5, utc(2020, 1, 1)) == []


def test_far_future_iteration_stops_instead_of_overflowing():
    clock = IntervalSchedule(timedelta(days=365 * 1000), anchor=utc(2020, 1, 1))
    assert len(clock.next(100, utc(2021, 1, 1))) == 7  # 3020 ... 9020


def test_large_gaps_are_computed_not_walked():
    clock = IntervalSchedule(1)  # every second since 2020
    assert clock.next(1, utc(2090, 1, 1, 0, 0, 0, 5)) == [utc(2090, 1, 1, 0, 0, 1)]


DESCRIBE = [
    (IntervalSchedule(300), "every 5 minutes"),
    (IntervalSchedule(60), "every minute"),
    (IntervalSchedule("1h"), "every hour"),
    (IntervalSchedule("1h30m"), "every 1 hour and 30 minutes"),
    (IntervalSchedule("2d"), "every 2 days"),
    (IntervalSchedule("1w2d"), "every 1 week and 2 days"),
    (IntervalSchedule(90), "every 1 minute and 30 seconds"),
    (IntervalSchedule(0.5), "every 0.5 seconds"),
    (IntervalSchedule("1d1h1m1s"), "every 1 day, 1 hour, 1 minute and 1 second"),
    (IntervalSchedule("15m", timezone="Europe/Paris"), "every 15 minutes (Europe/Paris)"),
    (IntervalSchedule("1d", anchor=datetime(2026, 1, 5, 9, tzinfo=PARIS)),
     "every day, from 2026-01-05 09:00 (Europe/Paris)"),
    (IntervalSchedule("1h", end=utc(2026, 2, 1)), "every hour, until 2026-02-01 00:00 (UTC)"),
]


@pytest.mark.parametrize(("clock", "text"), DESCRIBE, ids=[d[1] for d in DESCRIBE])
def test_describe(clock, text):
    assert clock.describe() == text


PARSE = [
    ("90", 90), (" 90 ", 90), ("1.5", 1.5), ("45s", 45), ("5m", 300), ("5M", 300),
    ("1h30m", 5400), ("1h 30m", 5400), ("2d", 172800), ("1w", 604800), ("1d12h", 129600),
    (90, 90), (0.25, 0.25), (timedelta(minutes=2), 120),
]


@pytest.mark.parametrize(("text", "seconds"), PARSE, ids=[repr(p[0]) for p in PARSE])
def test_parse_interval(text, seconds):
    assert parse_interval(text) == timedelta(seconds=seconds)


INVALID = [
    (0, "greater than zero"), (-5, "greater than zero"), ("0", "greater than zero"),
    ("0m", "greater than zero"), (timedelta(0), "greater than zero"),
    (timedelta(seconds=-1), "greater than zero"), ("abc", "'abc'"), ("", "''"),
    ("5x", "'5x'"), ("m5", "'m5'"), ("1m1h", "'1m1h'"), ("nan", "'nan'"), ("inf", "'inf'"),
    (float("inf"), "inf"), (float("nan"), "nan"), (True, "True"), (None, "None"),
    ([5], "[5]"), (10**20, "too large"),
]


@pytest.mark.parametrize(("value", "fragment"), INVALID, ids=[repr(i[0]) for i in INVALID])
def test_invalid_interval(value, fragment):
    with pytest.raises(ScheduleError) as caught:
        IntervalSchedule(value)
    assert fragment in str(caught.value)
    assert "interval" in str(caught.value)


def test_invalid_anchor_end_and_zone():
    with pytest.raises(ScheduleError, match=r"anchor 2026-01-01T00:00:00 is naive \(no time"):
        IntervalSchedule(60, anchor=datetime(2026, 1, 1))
    with pytest.raises(ScheduleError, match="anchor must be a timezone-aware datetime"):
        IntervalSchedule(60, anchor="2026-01-01")
    with pytest.raises(ScheduleError, match="end .* is naive"):
        IntervalSchedule(60, end=datetime(2026, 1, 1))
    with pytest.raises(ScheduleError, match="'Nowhere/City'"):
        IntervalSchedule(60, timezone="Nowhere/City")
    with pytest.raises(ScheduleError, match="naive"):
        IntervalSchedule(60).next(1, datetime(2026, 1, 1))


def test_equality():
    assert IntervalSchedule(300) == IntervalSchedule("5m")
    assert IntervalSchedule(300) != IntervalSchedule(301)
    assert IntervalSchedule(300) != IntervalSchedule(300, anchor=utc(2026, 1, 1))
    assert IntervalSchedule(300, parameters={"x": 1}) == IntervalSchedule(300, parameters={"x": 1})


@pytest.mark.parametrize("seconds", [1e-6, 0.25, 59.5, 61, 3600, 5400.75, 90061, 700000])
def test_repr_text_parses_back(seconds):
    clock = IntervalSchedule(seconds)
    text = repr(clock).split("'")[1]
    assert parse_interval(text) == clock.interval
