"""When flows should run: pure, time-zone-correct schedules.

    from proctor.schedules import CronSchedule, IntervalSchedule, Schedule, is_weekday

    nightly = CronSchedule("30 2 * * *", timezone="Europe/Paris")
    nightly.next(3, after=some_aware_datetime)       # three aware UTC datetimes
    Schedule([IntervalSchedule("15m")], filters=[is_weekday]).next_runs(5, after=...)

Everything here is a function of the `after` it is given (default: now), with no I/O, threads or
hidden clock reads, so the server's scheduler and the tests can drive it with any time they like.
`import proctor` does not import this package; import it where schedules are used.

The DST rule, shared by cron and RRULE clocks: a wall time skipped by spring forward runs moved
forward by the gap (02:30 -> 03:30); a wall time repeated by fall back runs once, at its first
occurrence, unless the clock fires every hour, in which case both occurrences run. Details in
`proctor.schedules.cron` and docs/schedules.md.
"""

from . import adjustments, clocks, filters
from .base import Clock, ScheduledTime, Timeline
from .clocks import CronClock, IntervalClock, RRuleClock
from .cron import CronSchedule
from .dates import DatesClock
from .errors import ScheduleError
from .filters import (
    Filter,
    at_time,
    between_dates,
    between_datetimes,
    between_times,
    filter_from_dict,
    is_day_of_week,
    is_month_end,
    is_month_start,
    is_weekday,
    is_weekend,
    not_filter,
    not_on_dates,
    on_date,
    on_dates,
    on_datetime,
)
from .interval import IntervalSchedule, parse_interval
from .rrules import RRuleSchedule
from .schedule import Schedule
from .serialization import schedule_from_cli, schedule_from_dict

__all__ = [
    "adjustments",
    "clocks",
    "filters",
    "CronClock",
    "DatesClock",
    "IntervalClock",
    "RRuleClock",
    "between_datetimes",
    "is_day_of_week",
    "is_month_end",
    "is_month_start",
    "not_filter",
    "on_date",
    "on_datetime",
    "Clock",
    "CronSchedule",
    "Filter",
    "IntervalSchedule",
    "RRuleSchedule",
    "Schedule",
    "ScheduleError",
    "ScheduledTime",
    "Timeline",
    "at_time",
    "between_dates",
    "between_times",
    "filter_from_dict",
    "is_weekday",
    "is_weekend",
    "not_on_dates",
    "on_dates",
    "parse_interval",
    "schedule_from_cli",
    "schedule_from_dict",
]
