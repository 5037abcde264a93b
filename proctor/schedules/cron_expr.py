"""Parsing and matching of standard five-field cron expressions, in wall time.

Parsed here rather than by a third-party library for three reasons: every error can name the field
and the expected form; the accepted language is exactly standard cron (no seconds, years, `L`, `W`,
`#` or `?`, whose meaning differs between implementations); and the matching days and times of day
below are what the planner in `cron_plan` walks.

Day matching follows classic Unix cron: when both the day-of-month and the day-of-week fields are
restricted (do not start with `*`), a day matches if *either* matches; otherwise both must.
"""

from __future__ import annotations

import calendar
import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .errors import ScheduleError

MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
SHAPE = "five fields 'minute hour day-of-month month day-of-week' or a macro such as @daily"

#: Wall times are looked at up to the end of this year (then 1 January of the next at most; see
#: `CronExpression.walk_end`), which keeps every computed instant inside `datetime`'s range.
LAST_YEAR = 9998
_MONTH_LENGTHS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
FIRST_DAY_PAST_LAST_YEAR = date(LAST_YEAR + 1, 1, 1).toordinal()


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0

    def expected(self) -> str:
        text = f"numbers {self.low}-{self.high}, '*', ranges 'a-b', steps '/n' and lists 'a,b'"
        if self.names:
            text += f", or names {self.names[0]}-{self.names[-1]}"
        return text


FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, MONTH_NAMES, 1),
    _Field("day-of-week", 0, 7, DAY_NAMES, 0),
)


def _bad(text: str, field: _Field, raw: str, why: str) -> ScheduleError:
    return ScheduleError(
        f"invalid cron {text!r}: {field.name} field {raw!r} {why}; expected {field.expected()}"
    )


def _nonstandard(text: str, field: _Field, raw: str, what: str) -> ScheduleError:
    return _bad(
        text, field, raw,
        f"uses {what!r}, which is not standard cron "
        "(use RRuleSchedule for 'last day' or 'nth weekday' rules)",
    )


def _value(token: str, field: _Field, text: str, raw: str) -> int:
    upper = token.upper()
    if field.names and upper in field.names:
        return field.names.index(upper) + field.name_base
    if upper in ("L", "W", "LW") or (upper[:-1].isdigit() and upper[-1:] in ("L", "W")):
        raise _nonstandard(text, field, raw, token)
    if not token.isdigit():
        raise _bad(text, field, raw, f"has {token!r}, which is not a number")
    number = int(token)
    if not field.low <= number <= field.high:
        raise _bad(text, field, raw, f"has {number}, out of range {field.low}-{field.high}")
    return number


def _parse_field(raw: str, field: _Field, text: str) -> frozenset[int]:
    for mark in "#?":
        if mark in raw:
            raise _nonstandard(text, field, raw, mark)
    values: set[int] = set()
    for part in raw.split(","):
        body, slash, step_text = part.partition("/")
        if not body:
            raise _bad(text, field, raw, "has an empty item")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise _bad(text, field, raw, f"has step {step_text!r}, not a positive number")
            step = int(step_text)
        if body == "*":
            low, high = field.low, field.high
        elif "-" in body:
            first, _, last = body.partition("-")
            low = _value(first, field, text, raw)
            high = _value(last, field, text, raw)
            if field.name == "day-of-week" and high == 0 and low > 0:
                high = 7  # MON-SUN: Sunday closes the week
            if low > high:
                raise _bad(text, field, raw, f"has range {body!r} whose start is after its end")
        else:
            low = _value(body, field, text, raw)
            high = field.high if slash else low
        values.update(range(low, high + 1, step))
    if field.name == "day-of-week" and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)


@dataclass(frozen=True)
class CronExpression:
    """A parsed cron expression: the allowed values of each field, and the raw text.

    `weekdays` uses cron numbering (0 = Sunday ... 6 = Saturday).
    """

    text: str
    fields: tuple[str, str, str, str, str]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, text: object) -> CronExpression:
        """Parse `text`, raising `ScheduleError` that names the bad field and the expected form.

        A text is parsed once per process: the server rebuilds every deployment's schedule from its
        stored dict on each pass, parsing costs far more than planning, and the result is immutable.
        """
        if isinstance(text, str):
            return _parse_once(text)
        return cls._parse(text)

    @classmethod
    def _parse(cls, text: object) -> CronExpression:
        """The parser itself (uncached); `parse` is the entry point."""
        if not isinstance(text, str) or not text.strip():
            raise ScheduleError(f"invalid cron {text!r}: expected {SHAPE}")
        normal = " ".join(text.split())
        if normal.startswith("@"):
            if normal.lower() not in MACROS:
                raise ScheduleError(
                    f"invalid cron {text!r}: unknown macro; expected one of {', '.join(MACROS)}"
                )
            expanded = MACROS[normal.lower()]
        else:
            expanded = normal
        raw = expanded.split()
        if len(raw) != 5:
            raise ScheduleError(
                f"invalid cron {text!r}: it has {len(raw)} fields; expected {SHAPE}"
            )
        minutes, hours, days, months, weekdays = (
            _parse_field(part, field, text) for part, field in zip(raw, FIELDS, strict=True)
        )
        expr = cls(
            text=normal,
            fields=(raw[0], raw[1], raw[2], raw[3], raw[4]),
            minutes=tuple(sorted(minutes)),
            hours=tuple(sorted(hours)),
            days=days,
            months=months,
            weekdays=weekdays,
            days_restricted=not raw[2].startswith("*"),
            weekdays_restricted=not raw[4].startswith("*"),
        )
        expr._check_can_fire()
        return expr

    def _check_can_fire(self) -> None:
        """Refuse expressions such as '0 0 30 2 *' that would make a search loop forever."""
        if self.weekdays_restricted and self.days_restricted:
            return
        longest = {month: calendar.monthrange(2000, month)[1] for month in self.months}
        if not any(day <= longest[month] for month in self.months for day in self.days):
            raise ScheduleError(
                f"invalid cron {self.text!r}: it never fires, no month in the month field has "
                f"day {min(self.days)}"
            )

    @functools.cached_property
    def every_hour(self) -> bool:
        """True when the hour field allows all 24 hours: the clock means "every hour"."""
        return len(self.hours) == 24

    def day_matches(self, day: date) -> bool:
        """Whether `day` is allowed by the month, day-of-month and day-of-week fields."""
        if day.month not in self.months:
            return False
        by_day = day.day in self.days
        by_weekday = (day.weekday() + 1) % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return by_day or by_weekday
        return by_day and by_weekday

    def matches(self, wall: datetime) -> bool:
        """Whether the naive wall time `wall` (seconds ignored) is one the expression names."""
        if wall.minute not in self.minutes or wall.hour not in self.hours:
            return False
        return self.day_matches(wall.date())

    @functools.cached_property
    def times(self) -> tuple[tuple[int, time, time, timedelta], ...]:
        """Every time of day the expression names, in order, ready for the planner.

        Each item is (minutes after midnight, the wall time with fold=0, the same with fold=1, the
        time since midnight): building them once per expression keeps datetime construction, the
        slow part of converting a wall time, out of the loop that plans runs.
        """
        return tuple(
            (hour * 60 + minute, time(hour, minute), time(hour, minute, fold=1),
             timedelta(hours=hour, minutes=minute))
            for hour in self.hours
            for minute in self.minutes
        )

    @functools.cached_property
    def minutes_of_day(self) -> tuple[int, ...]:
        """The first item of each of `times`, to find where a day's walk starts by bisection."""
        return tuple(item[0] for item in self.times)

    @functools.cached_property
    def since_midnight(self) -> tuple[timedelta, ...]:
        """The last item of each of `times`: all a zone without DST needs."""
        return tuple(item[3] for item in self.times)

    @functools.cached_property
    def _day_list(self) -> tuple[int, ...]:
        """The allowed days of the month in order, for months where both day fields must match."""
        return tuple(sorted(self.days))

    @functools.cached_property
    def _any_day_of_month(self) -> bool:
        """Whether only the day of the week can exclude a day (every month and month day allowed):
        then days are checked one after another, without the month arithmetic."""
        return len(self.months) == 12 and len(self.days) == 31 and not self.days_restricted

    @functools.cached_property
    def _weeks(self) -> tuple[tuple[bool, ...], ...]:
        """For each day of the week d (0 = Sunday): whether each of the 7 days from d is allowed."""
        return tuple(
            tuple((first + k) % 7 in self.weekdays for k in range(7)) for first in range(7)
        )

    def walk_end(self, walk_start: int) -> int:
        """The last day (ordinal) that the day-by-day walk planning used to do looked at, when it
        started on day `walk_start`: walls after it were never considered, so none are now.

        That walk stopped after 31 December 9998, except that it went on to 1 January 9999 when
        December was allowed; a walk that started in 9999 or later looked at its first day only.
        """
        if walk_start >= FIRST_DAY_PAST_LAST_YEAR:
            return walk_start
        return FIRST_DAY_PAST_LAST_YEAR - (12 not in self.months)

    def day_ordinals(self, first: int, last: int) -> Iterator[int]:
        """The matching days from ordinal `first` to `last` (as `date.toordinal()`), in order.

        Months the month field excludes are skipped whole, and within a month only the allowed days
        of the month are visited (unless the either-day rule makes every day a candidate), so a
        monthly expression costs one step per run rather than one per day. The day of the week is
        `ordinal % 7` in cron numbering, as 1 January of year 1 (ordinal 1) was a Monday.
        """
        if first > last:
            return iter(())
        if not self._any_day_of_month:
            return self._month_by_month(date.fromordinal(first), last)
        days = range(first, last + 1)
        if len(self.weekdays) == 7:
            return iter(days)
        # The allowed weekdays repeat every 7 days: select them with the week's pattern, starting
        # at `first`'s weekday (no Python code runs per day).
        return itertools.compress(days, itertools.cycle(self._weeks[first % 7]))

    def _month_by_month(self, start: date, last: int) -> Iterator[int]:
        """`day_ordinals` for expressions that restrict the month or the day of the month."""
        months, days, weekdays, day_list = self.months, self.days, self.weekdays, self._day_list
        either = self.days_restricted and self.weekdays_restricted
        year, month, day = start.year, start.month, start.day
        before = start.toordinal() - day  # the ordinal of "day 0" of the month
        while before + day <= last:
            leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
            length = _MONTH_LENGTHS[month] + (month == 2 and leap)
            if month in months:
                # Either-day rule: any day may match by its weekday; else only the listed days.
                for dom in range(day, length + 1) if either else day_list:
                    ordinal = before + dom
                    if dom > length or ordinal > last:
                        break
                    if dom >= day and (ordinal % 7 in weekdays or (either and dom in days)):
                        yield ordinal
            before += length
            year, month, day = (year + 1, 1, 1) if month == 12 else (year, month + 1, 1)


@functools.lru_cache(maxsize=4096)
def _parse_once(text: str) -> CronExpression:
    """`CronExpression.parse` for a text, remembered (errors are raised again each time)."""
    return CronExpression._parse(text)
