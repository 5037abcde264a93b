"""Filters: pure predicates that keep or drop a clock's times.

A filter looks at the wall-clock fields of the datetime it is given; `Schedule` gives it each time
converted to the zone of the clock that produced it, because "is it a weekday?" and "is it before
17:00?" are questions about local time. Called directly, a filter reads the datetime as it is.

The built-in filters are small frozen records rather than closures so that a `Schedule` using them
can be stored as JSON and compared for equality. Any `Callable[[datetime], bool]` also works as a
filter in Python; only serialisation refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from .errors import ScheduleError


class Filter:
    """Base of the built-in filters: callable, describable, serialisable."""

    kind: str = ""

    def __call__(self, when: datetime) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        """A phrase to follow a clock's description, e.g. 'on weekdays'."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict for `filter_from_dict`."""
        return {"kind": self.kind}


def _time(value: object, what: str) -> time:
    if isinstance(value, str):
        try:
            value = time.fromisoformat(value.strip())
        except ValueError as exc:
            raise ScheduleError(f"{what} {value!r} is not a time such as '09:00'") from exc
    if not isinstance(value, time):
        raise ScheduleError(f"{what} must be a time or 'HH:MM', got {value!r}")
    if value.tzinfo is not None:
        raise ScheduleError(
            f"{what} {value} must not carry a tzinfo: it is read in the clock's zone"
        )
    return value.replace(microsecond=0)


def _date(value: object, what: str) -> date:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ScheduleError(f"{what} {value!r} is not a date such as '2026-12-25'") from exc
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ScheduleError(f"{what} must be a date or 'YYYY-MM-DD', got {value!r}")
    return value


@dataclass(frozen=True)
class IsWeekday(Filter):
    """Monday to Friday."""

    kind = "is_weekday"

    def __call__(self, when: datetime) -> bool:
        return when.weekday() < 5

    def describe(self) -> str:
        return "on weekdays"


@dataclass(frozen=True)
class IsWeekend(Filter):
    """Saturday and Sunday."""

    kind = "is_weekend"

    def __call__(self, when: datetime) -> bool:
        return when.weekday() >= 5

    def describe(self) -> str:
        return "on weekends"


@dataclass(frozen=True)
class BetweenTimes(Filter):
    """Time of day within [start, end], both included; wraps past midnight when start > end."""

    start: time
    end: time
    kind = "between_times"

    def __call__(self, when: datetime) -> bool:
        now = when.time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= now <= self.end
        return now >= self.start or now <= self.end

    def describe(self) -> str:
        return f"between {self.start:%H:%M} and {self.end:%H:%M}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class AtTime(Filter):
    """Time of day (to the second) is one of `times`."""

    times: tuple[time, ...]
    kind = "at_time"

    def __call__(self, when: datetime) -> bool:
        return when.time().replace(tzinfo=None, microsecond=0) in self.times

    def describe(self) -> str:
        return "only at " + " or ".join(f"{moment:%H:%M}" for moment in self.times)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "times": [moment.isoformat() for moment in self.times]}


@dataclass(frozen=True)
class OnDates(Filter):
    """Local date is one of `dates` (holidays, release days...)."""

    dates: tuple[date, ...]
    kind = "on_dates"

    def __call__(self, when: datetime) -> bool:
        return when.date() in self.dates

    def describe(self) -> str:
        return "on " + ", ".join(day.isoformat() for day in self.dates)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "dates": [day.isoformat() for day in self.dates]}


@dataclass(frozen=True)
class BetweenDates(Filter):
    """Local date within [start, end], both included (a season, a freeze)."""

    start: date
    end: date
    kind = "between_dates"

    def __call__(self, when: datetime) -> bool:
        return self.start <= when.date() <= self.end

    def describe(self) -> str:
        return f"from {self.start.isoformat()} to {self.end.isoformat()}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class Not(Filter):
    """The opposite of another filter: `not_on_dates` is `Not(OnDates(...))`."""

    inner: Filter
    kind = "not"

    def __call__(self, when: datetime) -> bool:
        return not self.inner(when)

    def describe(self) -> str:
        return f"except {self.inner.describe()}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "filter": self.inner.to_dict()}


is_weekday = IsWeekday()
is_weekend = IsWeekend()


def between_times(start: time | str, end: time | str) -> BetweenTimes:
    """Keep times of day from `start` to `end` inclusive, e.g. `between_times('09:00', '17:00')`."""
    return BetweenTimes(_time(start, "start time"), _time(end, "end time"))


def at_time(*times: time | str) -> AtTime:
    """Keep only these times of day, e.g. to pick 09:00 out of an hourly clock."""
    if not times:
        raise ScheduleError("at_time() needs at least one time such as '09:00'")
    return AtTime(tuple(sorted({_time(moment, "time") for moment in times})))


def on_dates(*dates: date | str) -> OnDates:
    """Keep only these local dates."""
    if not dates:
        raise ScheduleError("on_dates() needs at least one date such as '2026-12-25'")
    return OnDates(tuple(sorted({_date(day, "date") for day in dates})))


def not_on_dates(*dates: date | str) -> Not:
    """Drop these local dates (public holidays, a release freeze)."""
    return Not(on_dates(*dates))


def between_dates(start: date | str, end: date | str) -> BetweenDates:
    """Keep local dates from `start` to `end` inclusive."""
    first, last = _date(start, "start date"), _date(end, "end date")
    if first > last:
        raise ScheduleError(f"between_dates(): start {first} is after end {last}")
    return BetweenDates(first, last)


def filter_from_dict(data: object) -> Filter:
    """Rebuild a built-in filter from its `to_dict()`; anything else is a `ScheduleError`."""
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise ScheduleError(f"invalid filter {data!r}: expected a dict with a 'kind'")
    kind = data["kind"]
    try:
        if kind == "is_weekday":
            return is_weekday
        if kind == "is_weekend":
            return is_weekend
        if kind == "between_times":
            return between_times(data["start"], data["end"])
        if kind == "between_dates":
            return between_dates(data["start"], data["end"])
        if kind == "at_time":
            return at_time(*data["times"])
        if kind == "on_dates":
            return on_dates(*data["dates"])
        if kind == "not":
            return Not(filter_from_dict(data["filter"]))
    except (KeyError, TypeError) as exc:
        raise ScheduleError(f"invalid filter {data!r}: missing or wrong field {exc}") from exc
    raise ScheduleError(
        f"invalid filter {data!r}: unknown kind {kind!r}; expected one of is_weekday, is_weekend, "
        "between_times, between_dates, at_time, on_dates, not"
    )
