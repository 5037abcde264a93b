"""Properties of CronSchedule over generated expressions, zones and `after` instants.

The oracle is written here, independently of the parser: each generated field comes with the set
of values it allows, and matching is done minute by minute in local time.
"""

from datetime import datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proctor.schedules import CronSchedule

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
