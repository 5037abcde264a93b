"""Parsing and matching of standard five-field cron expressions, in wall time.

Parsed here rather than by a third-party library for three reasons: every error can name the field
and the expected form; the accepted language is exactly standard cron (no seconds, years, `L`, `W`,
`#` or `?`, whose meaning differs between implementations); and the wall-time walk below is what
the DST rule in `_time` needs as input.

Day matching follows classic Unix cron: when both the day-of-month and the day-of-week fields are
restricted (do not start with `*`), a day matches if *either* matches; otherwise both must.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

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
        """Parse `text`, raising `ScheduleError` that names the bad field and the expected form."""
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

    @property
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

    def walls(self, start: date, stop: date | None = None) -> Iterator[datetime]:
        """Every matching wall time from `start` 00:00, in increasing order, up to `stop`."""
        day = start
        one_day = timedelta(days=1)
        while stop is None or day <= stop:
            if day.month not in self.months:
                next_month = date(day.year + day.month // 12, day.month % 12 + 1, 1)
                if next_month.year > 9998:
                    return
                day = next_month
                continue
            if self.day_matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        yield datetime(day.year, day.month, day.day, hour, minute)
            if day.year > 9998:
                return
            day += one_day
