"""Adjustments: move a kept time to the time the run should really happen (Prefect 1).

`Schedule(clocks, adjustments=[next_weekday])` runs a Saturday or Sunday time on the Monday
after, at the same wall time; `add(timedelta(hours=1))` shifts every time. Like filters, they are
small frozen records (so a schedule using them stores as JSON) and see the clock's local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ._time import UTC
from .errors import ScheduleError
from .interval import format_duration, parse_interval


class Adjustment:
    kind = ""

    def __call__(self, when: datetime) -> datetime:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}


@dataclass(frozen=True)
class NextWeekday(Adjustment):
    """A Saturday or Sunday time moves to the next Monday, same wall time."""

    kind = "next_weekday"

    def __call__(self, when: datetime) -> datetime:
        days = {5: 2, 6: 1}.get(when.weekday(), 0)
        if not days:
            return when
        moved = when.replace(tzinfo=None) + timedelta(days=days)
        zone = when.tzinfo or UTC
        # the same wall time on that day (fold 0 where it repeats; a gap moves it forward)
        return datetime.fromtimestamp(moved.replace(tzinfo=zone).timestamp(), tz=zone)

    def describe(self) -> str:
        return "weekend times moved to the next Monday"


@dataclass(frozen=True)
class Add(Adjustment):
    """Every time shifted by `interval` (an exact duration)."""

    interval: timedelta
    kind = "add"

    def __call__(self, when: datetime) -> datetime:
        return (when.astimezone(UTC) + self.interval).astimezone(when.tzinfo)

    def describe(self) -> str:
        return f"shifted by {format_duration(self.interval)}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "seconds": self.interval.total_seconds()}


next_weekday = NextWeekday()


def add(interval: timedelta | float | str) -> Add:
    """Shift every time by `interval` (a timedelta, seconds, or '1h30m')."""
    return Add(parse_interval(interval))


def adjustment_from_dict(data: object) -> Adjustment:
    if not isinstance(data, dict) or data.get("kind") not in ("next_weekday", "add"):
        raise ScheduleError(
            f"invalid adjustment {data!r}: expected {{'kind': 'next_weekday'}} or "
            f"{{'kind': 'add', 'seconds': N}}"
        )
    if data["kind"] == "next_weekday":
        return next_weekday
    try:
        return add(float(data["seconds"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ScheduleError(f"invalid adjustment {data!r}: 'seconds' must be a number") from exc
