"""Prefect 1's clocks (`prefect.schedules.clocks`), as Proctor's own.

    from proctor.schedules import Schedule, clocks, filters, adjustments

    Schedule(clocks=[clocks.IntervalClock(timedelta(hours=1))],
             filters=[filters.is_weekday], adjustments=[adjustments.next_weekday])

`IntervalClock` is an `IntervalSchedule` (start_date: the anchor), `CronClock` a `CronSchedule`
(start_date: no run before it, and its zone is the cron's), `RRuleClock` an `RRuleSchedule` of
a `dateutil.rrule.rrule` object (or its text), `DatesClock` the list of dates it is given.
`parameter_defaults` are the clock's parameters. As in Prefect 1, a naive `start_date` or
`end_date` is read as UTC (with a warning).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ._time import prefect1_instant
from .cron import CronSchedule
from .dates import DatesClock
from .errors import ScheduleError
from .interval import IntervalSchedule
from .rrules import RRuleSchedule


def IntervalClock(  # noqa: N802 - Prefect 1's class name
    interval: timedelta | float | str, start_date: datetime | None = None,
    end_date: datetime | None = None, parameter_defaults: dict[str, Any] | None = None,
    labels: Any = None,
) -> IntervalSchedule:
    """Every `interval`, aligned on `start_date` (the first run)."""
    return IntervalSchedule(interval, parameters=parameter_defaults, start_date=start_date,
                            end_date=end_date)


def CronClock(  # noqa: N802
    cron: str, start_date: datetime | None = None, end_date: datetime | None = None,
    parameter_defaults: dict[str, Any] | None = None, labels: Any = None,
    day_or: bool | None = None,
) -> CronSchedule:
    """At the times of a cron expression, from `start_date` on, in its zone (default UTC)."""
    return CronSchedule(cron, parameters=parameter_defaults, start_date=start_date,
                        end_date=end_date, day_or=day_or)


def RRuleClock(  # noqa: N802
    rrule_obj: Any, start_date: datetime | None = None, end_date: datetime | None = None,
    parameter_defaults: dict[str, Any] | None = None, labels: Any = None,
) -> RRuleSchedule:
    """At the times of an RFC 5545 rule: a `dateutil.rrule.rrule` or its text."""
    text = rrule_obj if isinstance(rrule_obj, str) else str(rrule_obj)
    if start_date is not None:
        start = prefect1_instant(start_date, "start_date")
        lines = [ln for ln in text.splitlines() if not ln.upper().startswith("DTSTART")]
        text = "\n".join([f"DTSTART:{_utc_stamp(start)}", *lines])
    if end_date is not None:
        raise ScheduleError("RRuleClock(end_date=...): put UNTIL=... in the rule instead")
    if "RRULE" not in text.upper():
        text = f"RRULE:{text}" if "FREQ=" in text.upper() else text
    return RRuleSchedule(text, parameters=parameter_defaults)


def _utc_stamp(moment: datetime) -> str:
    from ._time import UTC

    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


__all__ = ["CronClock", "DatesClock", "IntervalClock", "RRuleClock"]
