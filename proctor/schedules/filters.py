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
from datetime import date, datetime, time, timedelta
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


@dataclass(frozen=True)
class BetweenMonthDays(Filter):
    """Local (month, day) within a yearly range, both ends included; a range whose start is
    after its end wraps over the new year (Dec 15 - Jan 5)."""

    start: tuple[int, int]
    end: tuple[int, int]
    kind = "between_month_days"

    def __call__(self, when: datetime) -> bool:
        day = (when.month, when.day)
        if self.start <= self.end:
            return self.start <= day <= self.end
        return day >= self.start or day <= self.end

    def describe(self) -> str:
        return (f"from {_month_day(self.start)} to {_month_day(self.end)} each year")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": list(self.start), "end": list(self.end)}


@dataclass(frozen=True)
class OnMonthDay(Filter):
    """Local (month, day): the same day every year."""

    month: int
    day: int
    kind = "on_month_day"

    def __call__(self, when: datetime) -> bool:
        return (when.month, when.day) == (self.month, self.day)

    def describe(self) -> str:
        return f"on {_month_day((self.month, self.day))} each year"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "month": self.month, "day": self.day}


@dataclass(frozen=True)
class DayOfMonth(Filter):
    """The first (`which='start'`) or last (`'end'`) day of a month."""

    which: str
    kind = "day_of_month"

    def __call__(self, when: datetime) -> bool:
        if self.which == "start":
            return when.day == 1
        return (when + timedelta(days=1)).month != when.month

    def describe(self) -> str:
        return f"on the {'first' if self.which == 'start' else 'last'} day of the month"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "which": self.which}


@dataclass(frozen=True)
class DayOfWeek(Filter):
    """One day of the week: 0 is Monday, 6 is Sunday."""

    weekday: int
    kind = "day_of_week"

    def __call__(self, when: datetime) -> bool:
        return when.weekday() == self.weekday

    def describe(self) -> str:
        return f"on {_DAYS[self.weekday]}s"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "weekday": self.weekday}


@dataclass(frozen=True)
class BetweenInstants(Filter):
    """Instants within [start, end] (aware datetimes; None: open on that side)."""

    start: datetime | None
    end: datetime | None
    kind = "between_datetimes"

    def __call__(self, when: datetime) -> bool:
        return ((self.start is None or when >= self.start)
                and (self.end is None or when <= self.end))

    def describe(self) -> str:
        first = self.start.isoformat() if self.start else "the start"
        last = self.end.isoformat() if self.end else "the end"
        return f"from {first} to {last}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind,
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None}


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def _month_day(pair: tuple[int, int]) -> str:
    return f"{_MONTHS[pair[0] - 1]} {pair[1]}"


def _check_month_day(month: object, day: object, what: str) -> tuple[int, int]:
    if not (isinstance(month, int) and isinstance(day, int)) or isinstance(month, bool):
        raise ScheduleError(f"{what}: month and day are whole numbers, got {month!r}, {day!r}")
    if not 1 <= month <= 12:
        raise ScheduleError(f"{what}: month {month} is not between 1 and 12")
    longest = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    if not 1 <= day <= longest:
        raise ScheduleError(f"{what}: {_MONTHS[month - 1]} has no day {day}")
    return (month, day)


def on_date(month: int, day: int) -> OnMonthDay:
    """Keep times on this month and day, every year (Prefect 1's `on_date`)."""
    return OnMonthDay(*_check_month_day(month, day, "on_date()"))


def on_datetime(when: datetime) -> BetweenInstants:
    """Keep only this exact instant (Prefect 1's `on_datetime`)."""
    from ._time import require_aware

    moment = require_aware(when, "on_datetime()")
    return BetweenInstants(moment, moment)


def between_datetimes(start: datetime | None, end: datetime | None) -> BetweenInstants:
    """Keep instants from `start` to `end` inclusive (aware datetimes)."""
    from ._time import require_aware

    first = require_aware(start, "start") if start is not None else None
    last = require_aware(end, "end") if end is not None else None
    if first is not None and last is not None and first > last:
        raise ScheduleError(f"between_datetimes(): start {first} is after end {last}")
    return BetweenInstants(first, last)


def is_day_of_week(day_of_week: int) -> DayOfWeek:
    """Keep one day of the week (0 = Monday ... 6 = Sunday)."""
    if isinstance(day_of_week, bool) or day_of_week not in range(7):
        raise ScheduleError(f"is_day_of_week({day_of_week!r}): use 0 (Monday) to 6 (Sunday)")
    return DayOfWeek(day_of_week)


is_month_start = DayOfMonth("start")
is_month_end = DayOfMonth("end")


def not_filter(inner: Filter) -> Not:
    """The opposite of a filter."""
    if not isinstance(inner, Filter):
        raise ScheduleError(f"not_filter({inner!r}): needs a filter of proctor.schedules")
    return Not(inner)


def between_dates(start: date | str | int, end: date | str | int, *more: int) -> Filter:
    """Keep local dates from `start` to `end` inclusive: `between_dates('2026-06-01',
    '2026-08-31')`, or every year as Prefect 1 writes it, `between_dates(start_month,
    start_day, end_month, end_day)` (a range over the new year wraps)."""
    if more or isinstance(start, int):
        if len(more) != 2:
            raise ScheduleError(
                "between_dates(start_month, start_day, end_month, end_day) takes 4 numbers, "
                "or two dates"
            )
        return BetweenMonthDays(_check_month_day(start, end, "between_dates() start"),
                                _check_month_day(more[0], more[1], "between_dates() end"))
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
        if kind == "between_month_days":
            return BetweenMonthDays(_check_month_day(*data["start"], "start"),
                                    _check_month_day(*data["end"], "end"))
        if kind == "on_month_day":
            return on_date(data["month"], data["day"])
        if kind == "day_of_month":
            return is_month_start if data["which"] == "start" else is_month_end
        if kind == "day_of_week":
            return is_day_of_week(data["weekday"])
        if kind == "between_datetimes":
            from ._time import parse_instant

            return between_datetimes(
                parse_instant(data["start"], "start") if data["start"] else None,
                parse_instant(data["end"], "end") if data["end"] else None)
    except (KeyError, TypeError) as exc:
        raise ScheduleError(f"invalid filter {data!r}: missing or wrong field {exc}") from exc
    raise ScheduleError(
        f"invalid filter {data!r}: unknown kind {kind!r}; expected one of is_weekday, is_weekend, "
        "between_times, between_dates, at_time, on_dates, not, between_month_days, "
        "on_month_day, day_of_month, day_of_week, between_datetimes"
    )
