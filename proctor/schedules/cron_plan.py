"""Planning a cron clock: its run instants after an instant, quickly, with the DST rule of `_time`.

The result is defined by the conversion rule alone: every matching whole-minute wall time of the
zone becomes its instant(s) (`_time.minute_instants`: moved forward in a gap; the first occurrence
in an overlap, and the second too when the clock fires every hour), and the runs are all those
instants after `after` (and not after `end`), in order, each once. Two facts make that cheap.

1. Jumping. Matching wall times are listed by jumping from one allowed value to the next (month,
   day, then the expression's times of day), never by stepping through minutes or days that
   cannot match; `CronExpression.day_ordinals` and `CronExpression.times` do that.

2. Order. Let w be an ordinary matching wall time (neither skipped nor repeated) and t its instant.
   Every instant of a later wall time is after t: the wall clock shows w only at t, so it is past w
   from t on, unless it falls back across w, and that would make w repeated. And every instant of
   an earlier wall time is before t, except those moved forward out of a gap. So an ordinary wall
   time's instant can be given out as soon as it is met, after the moved and repeated instants
   met before it that are not later than it (they wait in a small heap, which stays empty away
   from DST changes). Nothing is looked at beyond the last run given out.

   The only instants after `after` that come from wall times before the wall clock's reading at
   `after` are such moved ones. A zone's offset is less than 24 hours either way, so walls from 24
   hours before `after` (read as UTC) cover them. Like the walk this replaced, wall times before
   00:00 the day before `after`'s local date, and after 1 January 9999, are never considered.

Zones whose offset never changes (UTC, Etc/GMT-3) skip all of this: no gaps, no repeats, no moved
times, and each instant is the wall time minus the offset. For the others, the answer for each wall
time is asked of the zone once and remembered (`_time.remembered_minutes`).

The walk this replaced converted every matching wall time from a day before `after` and held each
instant back for 15 hours of later wall times; `tests/unit/test_schedules_cron_oracle.py` checks
that the runs are the same, instant for instant.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, tzinfo

from ._time import (
    MAX_REMEMBERED,
    UTC,
    fixed_offset,
    minute_instants,
    remembered_minutes,
)
from .cron_expr import FIRST_DAY_PAST_LAST_YEAR, CronExpression

MINUTES_PER_DAY = 1440
#: timedelta(days=k) for the usual steps from one matching day to the next (a month at most):
#: built once, as making a timedelta costs more than the rest of a step.
_DAYS = tuple(timedelta(days=k) for k in range(32))
_MIDNIGHT_UTC = time(tzinfo=UTC)


def cron_instants(
    expression: CronExpression,
    zone: tzinfo,
    after: datetime,
    end: datetime | None = None,
    last_day: int | None = None,
) -> Iterator[datetime]:
    """The run instants of `expression` on `zone`'s wall clock strictly after `after` (UTC).

    `end`: no instant after it. `last_day`: the ordinal of the last local day whose wall times are
    looked at (a day past `end`'s local date; wall times after it cannot give instants up to `end`).
    """
    # The walk this replaced started at 00:00 the day before `after`'s local date, and where it
    # ended depends on that day only when it is in 9999 or later; the UTC date is close enough
    # before then (the local date is at most a day later), which spares a conversion per plan.
    walk_start = after.toordinal()
    if walk_start >= FIRST_DAY_PAST_LAST_YEAR:
        walk_start = after.astimezone(zone).toordinal() - 1
    last = expression.walk_end(walk_start)
    if last_day is not None and last_day < last:
        last = last_day
    offset = fixed_offset(zone)
    if offset is not None:
        return _fixed_offset_instants(expression, offset, after + offset, end, last)
    return _changing_offset_instants(expression, zone, after, end, last)


def _fixed_offset_instants(
    expression: CronExpression,
    offset: timedelta,
    reading: datetime,
    end: datetime | None,
    last_day: int,
) -> Iterator[datetime]:
    """Each matching wall time after `reading` (the wall clock at `after`) minus `offset`: the
    whole plan in a zone without DST.

    Wall times and instants are in the same order, so the walk starts at the reading and each
    instant is final when computed. `midnight` is the instant of the current day's 00:00.
    """
    day = reading.toordinal()
    midnight = datetime.combine(reading.date(), _MIDNIGHT_UTC) - offset
    all_times = expression.since_midnight
    first_index = bisect.bisect_right(expression.minutes_of_day, reading.hour * 60 + reading.minute)
    times = all_times[first_index:]
    for ordinal in expression.day_ordinals(day, last_day):
        if ordinal != day:
            skip = ordinal - day
            midnight += _DAYS[skip] if skip < 32 else timedelta(days=skip)
            day, times = ordinal, all_times
        for since_midnight in times:
            when = midnight + since_midnight
            if end is not None and when > end:
                return
            yield when


def _changing_offset_instants(
    expression: CronExpression,
    zone: tzinfo,
    after: datetime,
    end: datetime | None,
    last_day: int,
) -> Iterator[datetime]:
    """The plan in a zone with DST or other offset changes (see the module docstring, fact 2).

    `floor` is the last instant given out (at first `after`): only later ones are new. `waiting`
    holds the instants of skipped and repeated wall times until an ordinary one proves them final.
    """
    both_folds = expression.every_hour
    after_day = after.toordinal()
    # Walls more than 24 hours before `after` (read as UTC) give instants before it. (Day 1 is
    # 1 January of year 1, the first there is.)
    start = after_day * MINUTES_PER_DAY + after.hour * 60 + after.minute - MINUTES_PER_DAY
    start = max(start, MINUTES_PER_DAY)
    first_day, first_minute = divmod(start, MINUTES_PER_DAY)
    all_times = expression.times
    times = all_times[bisect.bisect_left(expression.minutes_of_day, first_minute) :]
    memo = remembered_minutes(zone)
    waiting: list[datetime] = []
    floor = after
    # The walk this replaced started at 00:00 the day before `after`'s local date, so walls before
    # that give no run. Only walls before `after`'s UTC date can be that early: the key of that
    # 00:00 is worked out (into `walk_from`) when the first of them would give a run.
    walk_from = 0
    for ordinal in expression.day_ordinals(first_day, last_day):
        if ordinal != first_day:
            times = all_times
        day: date | None = None  # and `midnight`, its 00:00 read as UTC: made when first needed
        early_day = ordinal < after_day
        for minute, early, late, since_midnight in times:
            key = ordinal * MINUTES_PER_DAY + minute
            found = memo.get(key)
            if found is None:
                if day is None:
                    day = date.fromordinal(ordinal)
                    midnight = datetime.combine(day, _MIDNIGHT_UTC)
                found = minute_instants(zone, day, early, late, midnight + since_midnight)
                if len(memo) < MAX_REMEMBERED:
                    memo[key] = found
            if isinstance(found, tuple):
                first, second = found
                for when in (first, second) if both_folds and first < second else (first,):
                    if when > floor:
                        if early_day:
                            walk_from = walk_from or _walk_from(after, zone)
                            if key < walk_from:
                                break
                        heapq.heappush(waiting, when)
                continue
            while waiting and waiting[0] <= found:
                when = heapq.heappop(waiting)
                if when > floor:
                    if end is not None and when > end:
                        return
                    floor = when
                    yield when
            if found > floor:
                if early_day:
                    walk_from = walk_from or _walk_from(after, zone)
                    if key < walk_from:
                        continue
                if end is not None and found > end:
                    return
                floor = found
                yield found
    while waiting:
        when = heapq.heappop(waiting)
        if when > floor:
            if end is not None and when > end:
                return
            floor = when
            yield when


def _walk_from(after: datetime, zone: tzinfo) -> int:
    """The key (`ordinal * 1440`) of 00:00 the day before `after`'s local date."""
    return (after.astimezone(zone).toordinal() - 1) * MINUTES_PER_DAY
