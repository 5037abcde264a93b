"""Properties of CronSchedule over generated expressions, zones and `after` instants.

The oracle is written here, independently of the parser: each generated field comes with the set
of values it allows, and matching is done minute by minute in local time.

Random expressions (any mix of values, names, ranges, steps and lists) are also checked against
croniter in UTC, and against the day-by-day walk that planning used before it jumped between
matching times, in zones with ordinary and with odd offset changes.
"""

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from proctor.schedules import CronSchedule, ScheduleError
from proctor.schedules._time import instants_from_walls
from proctor.schedules.cron_expr import CronExpression

UTC = timezone.utc
MINUTE = timedelta(minutes=1)
WINDOW = timedelta(hours=26)  # how far the brute-force oracle scans, minute by minute

# field text -> allowed values (day of week: 0 = Sunday). '*'-prefixed day fields are unrestricted.
MINUTES = {"*": set(range(60)), "0": {0}, "30": {30}, "*/15": {0, 15, 30, 45}, "5,35": {5, 35},
           "10-20": set(range(10, 21)), "0-59/20": {0, 20, 40}}
HOURS = {"*": set(range(24)), "0": {0}, "2": {2}, "9": {9}, "*/6": {0, 6, 12, 18},
         "1-3": {1, 2, 3}, "2,14": {2, 14}, "9-17": set(range(9, 18))}
DAYS = {"*": None, "1": {1}, "13": {13}, "15": {15}, "28-31": {28, 29, 30, 31}, "1,15": {1, 15}}
MONTHS = {"*": set(range(1, 13)), "1": {1}, "3,10": {3, 10}, "2": {2}, "JAN-JUN": set(range(1, 7)),
          "11": {11}, "mar,oct,nov": {3, 10, 11}}
WEEKDAYS = {"*": None, "MON-FRI": {1, 2, 3, 4, 5}, "0": {0}, "SAT,SUN": {6, 0}, "5": {5},
            "7": {0}}
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
         "America/Santiago"]

# The 2026 transitions of the zones above that have DST (UTC instants), so that `after` often
# lands next to one in the zone it belongs to.
TRANSITIONS = {
    "Europe/Paris": [datetime(2026, 3, 29, 1), datetime(2026, 10, 25, 1)],
    "America/New_York": [datetime(2026, 3, 8, 7), datetime(2026, 11, 1, 6)],
    "Australia/Lord_Howe": [datetime(2026, 4, 4, 15), datetime(2026, 10, 3, 15, 30)],
    "America/Santiago": [datetime(2026, 4, 5, 3), datetime(2026, 9, 6, 4)],
}

def local_matches(fields: tuple[str, ...], wall: datetime) -> bool:
    minute, hour, day, month, weekday = fields
    if wall.minute not in MINUTES[minute] or wall.hour not in HOURS[hour]:
        return False
    if wall.month not in MONTHS[month]:
        return False
    by_day = DAYS[day] is None or wall.day in DAYS[day]
    by_weekday = WEEKDAYS[weekday] is None or (wall.weekday() + 1) % 7 in WEEKDAYS[weekday]
    if DAYS[day] is not None and WEEKDAYS[weekday] is not None:
        return by_day or by_weekday
    return by_day and by_weekday


def moved_from_gap(instant: datetime, zone: ZoneInfo) -> datetime | None:
    """The skipped wall time that the rule moved to `instant`, if `instant` is such a move."""
    before = (instant - timedelta(hours=3)).astimezone(zone).utcoffset()
    if before is None or before == instant.astimezone(zone).utcoffset():
        return None
    wall = (instant + before).replace(tzinfo=None)
    if wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return None  # that wall time exists, so nothing was moved
    return wall


crons = st.tuples(
    st.sampled_from(sorted(MINUTES)), st.sampled_from(sorted(HOURS)), st.sampled_from(sorted(DAYS)),
    st.sampled_from(sorted(MONTHS)), st.sampled_from(sorted(WEEKDAYS)),
)
daily_crons = st.tuples(
    st.sampled_from(sorted(MINUTES)), st.sampled_from(sorted(HOURS)),
    st.just("*"), st.just("*"), st.just("*"),
)
anywhere = st.tuples(
    st.sampled_from(ZONES),
    st.datetimes(datetime(1995, 1, 1), datetime(2060, 1, 1), timezones=st.just(UTC)),
)
near_a_transition = st.builds(
    lambda pair, seconds: (pair[0], pair[1].replace(tzinfo=UTC) + timedelta(seconds=seconds)),
    st.sampled_from([(zone, when) for zone, whens in TRANSITIONS.items() for when in whens]),
    st.integers(-26 * 3600, 26 * 3600),
)
zone_and_after = st.one_of(anywhere, near_a_transition)

def feasible(fields: tuple[str, ...]) -> bool:
    """Leave out combinations that never fire (the constructor refuses them)."""
    day, month, weekday = fields[2], fields[3], fields[4]
    if DAYS[day] is None or WEEKDAYS[weekday] is not None:
        return True
    return any(d <= (29 if m == 2 else 30 if m in (4, 6, 9, 11) else 31)
               for m in MONTHS[month] for d in DAYS[day])


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(fields=crons.filter(feasible), zone_and_after=zone_and_after)
def test_next_five_increase_follow_after_and_match_in_local_time(fields, zone_and_after):
    zone_name, after = zone_and_after
    zone = ZoneInfo(zone_name)
    clock = CronSchedule(" ".join(fields), zone_name)
    runs = clock.next(5, after)
    assert len(runs) == 5
    assert runs[0] > after
    assert all(earlier < later for earlier, later in pairwise(runs))
    for when in runs:
        assert when.tzinfo is UTC
        wall = when.astimezone(zone).replace(tzinfo=None)
        moved = moved_from_gap(when, zone)
        assert local_matches(fields, wall) or (moved is not None and local_matches(fields, moved))


@settings(max_examples=300, deadline=None, database=None)
@given(fields=daily_crons, zone_and_after=zone_and_after)
def test_nothing_between_runs_is_missed(fields, zone_and_after):
    """Every real minute that shows a matching wall time gets a run, bar the repeated second
    occurrence of a fall-back hour when the hour field names particular hours. (Checked over a
    window after `after`; `after` is often placed near a DST transition.)"""
    zone_name, after = zone_and_after
    zone = ZoneInfo(zone_name)
    runs = CronSchedule(" ".join(fields), zone_name).next(3, after)
    horizon = min(runs[-1], after + WINDOW)
    runs = [when for when in runs if when <= horizon]
    every_hour = fields[1] == "*"
    expected = []
    moment = after.replace(second=0, microsecond=0) + MINUTE
    while moment <= horizon:
        local = moment.astimezone(zone)
        if local_matches(fields, local.replace(tzinfo=None)):
            is_second_pass = local.replace(fold=0).astimezone(UTC) != moment
            if every_hour or not is_second_pass:
                expected.append(moment)
        moment += MINUTE
    moved = [when for when in runs if moved_from_gap(when, zone) is not None]
    assert sorted(set(expected) | set(moved)) == runs


CRONITER_TABLE = ["*/7 * * * *", "0 9 * * MON-FRI", "30 2 1,15 * *", "0 0 13 * FRI",
                  "15 14 * JAN,JUL SUN", "0 */5 * * *", "@monthly", "0 0 29 2 *", "1-5/2 3 * * 7"]


@pytest.mark.parametrize("cron", CRONITER_TABLE)
def test_agrees_with_croniter_in_utc(cron):
    croniter = pytest.importorskip("croniter").croniter
    after = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    reference = croniter(cron, after)
    expected = [reference.get_next(datetime) for _ in range(20)]
    assert CronSchedule(cron).next(20, after) == expected


# --- Random expressions: against croniter (UTC) and against the walk fast planning replaced ---

def _item(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    """One list item of a field: a value, a range, a step, or '*' with a step; maybe by name."""
    value = st.integers(low, high)
    named = st.sampled_from(names) if names else value.map(str)

    def as_range(pair: tuple[int, int]) -> str:
        return f"{min(pair)}-{max(pair)}"

    return st.one_of(
        named if names else value.map(str),
        st.tuples(value, value).map(as_range),
        st.tuples(value, value, st.integers(1, high)).map(
            lambda t: f"{min(t[:2])}-{max(t[:2])}/{t[2]}"
        ),
        st.tuples(value, st.integers(1, high)).map(lambda t: f"{t[0]}/{t[1]}"),
        st.integers(1, high).map(lambda step: f"*/{step}"),
        named,
    )


def _field(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    items = st.lists(_item(low, high, names), min_size=1, max_size=3).map(",".join)
    return st.one_of(st.just("*"), items)


MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
random_crons = st.tuples(
    _field(0, 59), _field(0, 23), _field(1, 31), _field(1, 12, MONTH_NAMES),
    _field(0, 6, DAY_NAMES),
).map(" ".join)


def _clock(text: str, zone: str = "UTC", end: datetime | None = None) -> CronSchedule:
    """The clock, or a rejected example when the expression is invalid or never fires."""
    try:
        return CronSchedule(text, zone, end=end)
    except ScheduleError:
        assume(False)
        raise


def _croniter_reads_days_alike(clock: CronSchedule) -> bool:
    """croniter decides 'either day' by the values (a field covering every value counts as '*');
    this package by the text (a field starting with '*' counts as '*', as in classic cron). Keep
    the expressions where both readings agree."""
    expr = clock.expression
    full_days, full_weekdays = len(expr.days) == 31, len(expr.weekdays) == 7
    day_star, weekday_star = expr.fields[2] == "*", expr.fields[4] == "*"
    return (day_star or not full_days and not expr.fields[2].startswith("*")) and (
        weekday_star or not full_weekdays and not expr.fields[4].startswith("*")
    )


@settings(max_examples=400, deadline=None, database=None)
@given(text=random_crons, after=st.datetimes(datetime(1990, 1, 1), datetime(2090, 1, 1),
                                              timezones=st.just(UTC)))
def test_random_expressions_agree_with_croniter_in_utc(text, after):
    croniter = pytest.importorskip("croniter").croniter
    clock = _clock(text)
    assume(_croniter_reads_days_alike(clock))
    assume(not re.search(r"\b(\w+)-\1\b", text))  # croniter reads 'MON-MON' or '0-0' as '*'
    # 'N/step' in the day of the week runs to 7 here (7 = Sunday), to 6 in croniter.
    assume(not re.search(r"(^|,)\d+/", clock.expression.fields[4]))
    reference = croniter(text, after)
    expected = [reference.get_next(datetime) for _ in range(8)]
    assert clock.next(8, after) == expected


def _reference_walls(expr: CronExpression, start: date, stop: date | None) -> Iterator[datetime]:
    """Every matching wall time from `start` 00:00 up to `stop`, day by day: the walk of the
    implementation before planning was made fast (commit c12d60b), kept as the reference."""
    day = start
    while stop is None or day <= stop:
        if day.month not in expr.months:
            next_month = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            if next_month.year > 9998:
                return
            day = next_month
            continue
        if expr.day_matches(day):
            for hour in expr.hours:
                for minute in expr.minutes:
                    yield datetime(day.year, day.month, day.day, hour, minute)
        if day.year > 9998:
            return
        day += timedelta(days=1)


def _reference_next(clock: CronSchedule, n: int, after: datetime) -> list[datetime]:
    """`clock.next(n, after)` as the replaced implementation computed it: walls from 00:00 the day
    before `after`'s local date, each converted by `wall_to_instants`, sorted by a 15-hour heap."""
    start = after.astimezone(UTC)
    stop = None
    if clock.end is not None:
        stop = (clock.end.astimezone(clock.zone).replace(tzinfo=None) + timedelta(days=1)).date()
    first = (start.astimezone(clock.zone).replace(tzinfo=None) - timedelta(days=1)).date()
    walls = _reference_walls(clock.expression, first, stop)
    instants = instants_from_walls(walls, clock.zone, start, clock.end, clock.expression.every_hour)
    return list(islice(instants, n))


# Zones whose offset changes in unusual ways, with a UTC instant near one such change: a 30- or
# 15-minute shift, a whole day skipped or repeated at the date line, negative DST, +2 h DST.
ODD_CHANGES = [
    ("Pacific/Apia", datetime(2011, 12, 30, 10)),  # 29 December 2011 never happened
    ("Pacific/Kwajalein", datetime(1993, 8, 21, 12)),  # 21 August 1993 never happened
    ("Africa/Casablanca", datetime(2026, 2, 15, 2)),  # Ramadan: -1 h, then back
    ("Africa/Casablanca", datetime(2026, 3, 22, 2)),
    ("Europe/Dublin", datetime(2026, 10, 25, 1)),  # winter time is the "DST" (negative)
    ("Antarctica/Troll", datetime(2026, 3, 29, 1)),  # +0 -> +2
    ("Antarctica/Troll", datetime(2026, 10, 25, 1)),
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 15)),  # 30 minutes
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30)),
    ("Pacific/Chatham", datetime(2026, 4, 4, 14)),  # +13:45 -> +12:45
    ("America/St_Johns", datetime(2026, 3, 8, 5, 30)),
    ("America/Santiago", datetime(2026, 4, 5, 3)),
    ("Asia/Kathmandu", datetime(1985, 12, 31, 18, 30)),  # +5:30 -> +5:45
    ("America/Caracas", datetime(2016, 5, 1, 6, 30)),  # -4:30 -> -4
    ("Asia/Pyongyang", datetime(2015, 8, 14, 15)),  # +9 -> +8:30
    ("Europe/Paris", datetime(2026, 3, 29, 1)),
    ("Europe/Paris", datetime(2026, 10, 25, 1)),
    ("America/New_York", datetime(2026, 11, 1, 6)),
    ("Europe/Paris", datetime(1911, 3, 11)),  # Paris mean time (+0:09:21) -> WET
]
odd_zone_and_after = st.builds(
    lambda pair, seconds: (pair[0], pair[1].replace(tzinfo=UTC) + timedelta(seconds=seconds)),
    st.sampled_from(ODD_CHANGES),
    st.integers(-30 * 3600, 30 * 3600),
)
# Frequent enough to meet a change within a few runs, but any expression may come up.
dense_crons = st.one_of(
    random_crons,
    st.tuples(_field(0, 59), _field(0, 23), st.just("*"), st.just("*"), st.just("*")).map(
        " ".join
    ),
)


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(text=dense_crons, zone_and_after=st.one_of(odd_zone_and_after, zone_and_after),
       end_hours=st.one_of(st.none(), st.integers(-2, 72)))
def test_runs_are_those_of_the_replaced_walk(text, zone_and_after, end_hours):
    """Planning jumps between matching times and converts only the walls that matter; the walk it
    replaced converted every matching wall from a day before `after`. Same runs, to the instant."""
    zone_name, after = zone_and_after
    end = None if end_hours is None else after + timedelta(hours=end_hours, seconds=1)
    clock = _clock(text, zone_name, end)
    assert clock.next(12, after) == _reference_next(clock, 12, after)
