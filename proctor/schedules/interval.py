"""`IntervalSchedule`: runs at `anchor + k * interval` for k = 0, 1, 2, ...

Intervals are *elapsed* time: "every 24 hours" is exactly 86,400 seconds apart even across a DST
change, so a daily interval anchored at 09:00 in Paris runs at 10:00 local in summer. That keeps the
arithmetic exact and predictable; for "09:00 every day on the wall clock" use `CronSchedule`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from ._time import (
    UTC,
    parse_instant,
    prefect1_instant,
    require_aware,
    resolve_zone,
    start_after,
    zone_label,
)
from .base import Clock, check_parameters, json_parameters
from .errors import ScheduleError

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?")
_INTERVAL_HINT = "seconds such as '90', or a duration such as '5m', '1h30m', '2d' or '1w'"


def parse_interval(value: object) -> timedelta:
    """Turn a timedelta, a number of seconds or a text such as '1h30m' into a positive timedelta.

    Accepting text here means the CLI, the API and Python callers share one grammar and one message.
    """
    try:
        if isinstance(value, timedelta):
            interval = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ScheduleError(f"invalid interval {value!r}: expected {_INTERVAL_HINT}")
            interval = timedelta(seconds=value)
        elif isinstance(value, str):
            interval = _parse_text(value)
        else:
            raise ScheduleError(f"invalid interval {value!r}: expected {_INTERVAL_HINT}")
    except OverflowError as exc:
        raise ScheduleError(f"invalid interval {value!r}: it is too large") from exc
    if interval <= timedelta(0):
        raise ScheduleError(f"invalid interval {value!r}: it must be greater than zero")
    return interval


def _parse_text(value: str) -> timedelta:
    text = "".join(value.split()).lower()
    try:
        return timedelta(seconds=float(text))
    except (ValueError, OverflowError):
        pass
    match = _DURATION.fullmatch(text)
    if not text or match is None or not any(match.groups()):
        raise ScheduleError(f"invalid interval {value!r}: expected {_INTERVAL_HINT}")
    seconds = sum(
        float(number) * _UNITS[unit]
        for number, unit in zip(match.groups(), _UNITS, strict=True)
        if number is not None
    )
    return timedelta(seconds=seconds)


def _seconds(rest: timedelta) -> str:
    """Seconds as '5' or '0.25' (never '1e-06'), so the text parses back."""
    seconds = rest.total_seconds()
    if seconds.is_integer():
        return str(int(seconds))
    return f"{seconds:.6f}".rstrip("0")


def format_interval(interval: timedelta) -> str:
    """The compact text form that `parse_interval` reads back: '1h30m', '90.5s'."""
    rest = interval
    text = ""
    for unit, size in _UNITS.items():
        if unit == "s":
            break
        count, rest = divmod(rest, timedelta(seconds=size))
        if count:
            text += f"{count}{unit}"
    if rest or not text:
        text += f"{_seconds(rest)}s"
    return text


def format_duration(interval: timedelta) -> str:
    """'5 minutes', 'hour', '1 hour and 30 minutes': the words after "every"."""
    rest = interval
    parts: list[tuple[str, str]] = []
    for name, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        count, rest = divmod(rest, timedelta(seconds=size))
        if count:
            parts.append((str(count), name))
    if rest:
        parts.append((_seconds(rest), "second"))
    if len(parts) == 1 and parts[0][0] == "1":
        return parts[0][1]
    words = [f"{count} {name}{'' if count == '1' else 's'}" for count, name in parts]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


class IntervalSchedule(Clock):
    """Runs every `interval`, starting at `anchor` (see the module docstring for DST).

    - `interval`: a timedelta, seconds, or a text like '1h30m'; must be > 0.
    - `anchor`: the first run and the alignment of all others; an aware datetime. A future anchor
      delays the start. Default: 2020-01-01 00:00 in `timezone` (UTC if not given), so "every
      5 minutes" falls on :00, :05, ... of the zone's wall clock.
    - `end`: optional aware datetime; no run after it (a run exactly at `end` is kept).
    - `timezone`: the zone filters and `describe()` use; default the anchor's zone.
    """

    kind = "interval"

    def __init__(
        self,
        interval: timedelta | float | str | None = None,
        anchor: datetime | None = None,
        end: datetime | None = None,
        parameters: dict[str, Any] | None = None,
        timezone: str | None = None,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> None:
        if isinstance(interval, datetime):  # Prefect 1's IntervalSchedule(start_date, interval)
            interval, anchor = anchor, interval
            start_date, anchor = anchor, None
        if start_date is not None:  # Prefect 1's names: naive means UTC (`prefect1_instant`)
            anchor = prefect1_instant(start_date, "start_date")
        if end_date is not None:
            end = prefect1_instant(end_date, "end_date")
        if interval is None:
            raise ScheduleError(
                f"IntervalSchedule needs an interval (got {interval!r}), e.g. timedelta(minutes=5)"
            )
        self.interval = parse_interval(interval)
        if timezone is not None:
            zone: tzinfo = resolve_zone(timezone)
        elif anchor is not None:
            zone = require_aware(anchor, "anchor").tzinfo or UTC
        else:
            zone = ZoneInfo("UTC")
        self.zone = zone
        default_anchor = datetime(2020, 1, 1, tzinfo=zone)
        given = default_anchor if anchor is None else anchor
        self.anchor = require_aware(given, "anchor").astimezone(zone)
        self._default_anchor = self.anchor == default_anchor
        self.end = require_aware(end, "end").astimezone(UTC) if end is not None else None
        self.parameters = check_parameters(parameters, "IntervalSchedule")

    def iter(self, after: datetime | None = None) -> Iterator[datetime]:
        return self._times(start_after(after))

    def _times(self, start: datetime) -> Iterator[datetime]:
        anchor = self.anchor.astimezone(UTC)
        step = 0 if start < anchor else (start - anchor) // self.interval + 1
        while True:
            try:
                when = anchor + step * self.interval
            except OverflowError:
                return
            if self.end is not None and when > self.end:
                return
            yield when
            step += 1

    def describe(self) -> str:
        text = f"every {format_duration(self.interval)}"
        label = zone_label(self.zone)
        if not self._default_anchor:
            text += f", from {self.anchor:%Y-%m-%d %H:%M}"
        if self.end is not None:
            text += f", until {self.end.astimezone(self.zone):%Y-%m-%d %H:%M}"
        if label != "UTC" or not self._default_anchor or self.end is not None:
            text += f" ({label})"
        return text

    def to_dict(self) -> dict[str, Any]:
        seconds = self.interval.total_seconds()
        return {
            "kind": self.kind,
            "interval": int(seconds) if seconds.is_integer() else seconds,
            "anchor": self.anchor.isoformat(),
            "timezone": self.zone.key if isinstance(self.zone, ZoneInfo) else None,
            "end": self.end.isoformat() if self.end is not None else None,
            "parameters": json_parameters(self.parameters, "IntervalSchedule"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IntervalSchedule:
        """Build from `to_dict()` output; `schedule_from_dict` validates the keys first."""
        anchor = data.get("anchor")
        end = data.get("end")
        return cls(
            data["interval"],
            anchor=parse_instant(anchor, "anchor") if anchor is not None else None,
            end=parse_instant(end, "end") if end is not None else None,
            parameters=data.get("parameters"),
            timezone=data.get("timezone"),
        )

    def _repr_args(self) -> tuple[Any, ...]:
        return (format_interval(self.interval),)

    def _repr_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if not self._default_anchor:
            options["anchor"] = self.anchor.isoformat()
        if self.end is not None:
            options["end"] = self.end.isoformat()
        if isinstance(self.zone, ZoneInfo) and self.zone.key != "UTC":
            options["timezone"] = self.zone.key
        return options

    def _key(self) -> tuple[Any, ...]:
        anchor = self.anchor.astimezone(UTC)
        return (self.interval, anchor, self.end, self.parameters, zone_label(self.zone))
