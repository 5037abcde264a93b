"""Short English texts for cron expressions, for UIs and CLI listings.

Covers the shapes people actually write (every N minutes, hourly, daily at a time, weekdays, a day
of the month, a date in the year); anything else falls back to the raw expression, which is exact.
A wrong description is worse than none, so a shape is only described when every field is accounted
for.
"""

from __future__ import annotations

from .cron_expr import CronExpression

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)


def join_words(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _step(field: str, size: int) -> int | None:
    """N for a field written '*/N' whose steps divide the cycle evenly, else None."""
    if field.startswith("*/") and field[2:].isdigit():
        step = int(field[2:])
        if step > 1 and size % step == 0:
            return step
    return None


def _contiguous(values: list[int]) -> bool:
    return len(values) > 1 and values == list(range(values[0], values[-1] + 1))


def _time_phrase(expr: CronExpression) -> tuple[str, bool] | None:
    """The time-of-day part, and whether it names wall-clock times (then the zone matters)."""
    minutes, hours = list(expr.minutes), list(expr.hours)
    every_minute, every_hour = len(minutes) == 60, len(hours) == 24
    minute_step, hour_step = _step(expr.fields[0], 60), _step(expr.fields[1], 24)
    if every_hour:
        if every_minute:
            return "every minute", False
        if minute_step:
            return f"every {minute_step} minutes", False
        if minutes == [0]:
            return "every hour", False
        if len(minutes) == 1:
            return f"every hour at minute {minutes[0]}", False
        return None
    if len(minutes) == 1 and hour_step:
        at = "" if minutes == [0] else f" at minute {minutes[0]}"
        return f"every {hour_step} hours{at}", True
    if len(minutes) * len(hours) <= 6:
        times = [f"{hour:02d}:{minute:02d}" for hour in hours for minute in minutes]
        return f"at {join_words(times)}", True
    if _contiguous(hours) and (len(minutes) == 1 or every_minute or minute_step):
        span = f"from {hours[0]:02d}:{minutes[0]:02d} to {hours[-1]:02d}:{minutes[-1]:02d}"
        if every_minute:
            return f"every minute {span}", True
        if minute_step:
            return f"every {minute_step} minutes {span}", True
        at = "" if minutes == [0] else f" at minute {minutes[0]}"
        return f"every hour{at} {span}", True
    return None


def _weekday_phrase(weekdays: frozenset[int]) -> str:
    iso = sorted((day - 1) % 7 for day in weekdays)  # cron 0 = Sunday -> index 6
    if len(iso) >= 3 and _contiguous(iso):
        return f"on {WEEKDAY_NAMES[iso[0]]} through {WEEKDAY_NAMES[iso[-1]]}"
    return "on " + join_words([WEEKDAY_NAMES[day] for day in iso])


def _day_phrase(expr: CronExpression) -> str | None:
    """The calendar part, or None when the combination is not one we describe exactly."""
    all_months = len(expr.months) == 12
    months = join_words([MONTH_NAMES[month - 1] for month in sorted(expr.months)])
    days = sorted(expr.days)
    if expr.days_restricted and expr.weekdays_restricted:
        return None
    if expr.weekdays_restricted and len(expr.weekdays) < 7:
        text = _weekday_phrase(expr.weekdays)
        return text if all_months else f"{text} in {months}"
    if expr.days_restricted and len(days) < 31:
        if len(days) > 4:
            return None
        if len(expr.months) == 1 and len(days) == 1:
            return f"on {months} {days[0]}"
        label = "day" if len(days) == 1 else "days"
        text = f"on {label} {join_words([str(day) for day in days])}"
        return f"{text} of every month" if all_months else f"{text} of {months}"
    if all_months:
        return ""
    return f"every day in {months}"


def describe_cron(expr: CronExpression, zone: str, until: str | None = None) -> str:
    """E.g. 'at 09:00 on Monday through Friday (Europe/Paris)'; falls back to the expression."""
    time_part = _time_phrase(expr)
    day_part = _day_phrase(expr)
    tail = f", until {until}" if until else ""
    if time_part is None or day_part is None:
        return f"cron '{expr.text}'{tail} ({zone})"
    text, names_clock_times = time_part
    if day_part:
        text += f" {day_part}"
    elif text.startswith("at "):
        text += " every day"
    names_clock_times = names_clock_times or bool(day_part)
    if zone != "UTC" or names_clock_times or tail:
        return f"{text}{tail} ({zone})"
    return text
