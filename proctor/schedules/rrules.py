"""`RRuleSchedule`: an RFC 5545 recurrence rule expanded by `dateutil.rrule` on a zone's wall clock.

Accepted text: one `RRULE:` line (the prefix is optional), optionally preceded by one `DTSTART`
line in any RFC 5545 form: local (`DTSTART:20260105T090000`), UTC (`...Z`), with a zone
(`DTSTART;TZID=Europe/Paris:20260105T090000`) or a date (`DTSTART;VALUE=DATE:20260105`).

- The zone is `timezone` if given, else the DTSTART's `TZID`, else UTC. Both given and different is
  an error rather than a guess.
- Without DTSTART the rule starts at 2020-01-01 00:00 wall time in the zone, a fixed point in the
  past, so the schedule does not depend on when it was created. Fields the rule leaves open take
  DTSTART's values, as RFC 5545 says: with the default, `FREQ=DAILY` runs at 00:00.
- `UNTIL` with `Z` is an instant; without, a wall time in the zone; a date is the end of that day.
- DST: the rule of `cron.py`. Wall times in a gap move forward by the gap; repeated wall times run
  once, except for HOURLY/MINUTELY/SECONDLY rules without BYHOUR, which run at both occurrences.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from ._time import (
    UTC,
    WALL_MARGIN,
    instants_from_walls,
    local_wall,
    resolve_zone,
    start_after,
    wall_to_instants,
)
from .base import Clock, check_parameters, json_parameters
from .errors import ScheduleError

FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
#: Rules of these frequencies repeat with a fixed wall-clock period, so the start can be moved
#: forward by whole periods without changing the times after it; dateutil walks from the start.
_PERIODS = {
    "WEEKLY": timedelta(weeks=1),
    "DAILY": timedelta(days=1),
    "HOURLY": timedelta(hours=1),
    "MINUTELY": timedelta(minutes=1),
    "SECONDLY": timedelta(seconds=1),
}
_STAMP = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?")
DEFAULT_DTSTART = datetime(2020, 1, 1)
_HINT = "an RFC 5545 rule such as 'FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9'"


def _stamp(value: str, what: str, text: str) -> tuple[datetime, bool, bool]:
    """(naive datetime, is UTC, is a bare date) of an RFC 5545 DATE or DATE-TIME value."""
    match = _STAMP.fullmatch(value.strip())
    if match is None:
        raise ScheduleError(
            f"invalid RRULE {text!r}: {what} {value!r} is not YYYYMMDD or YYYYMMDDTHHMMSS[Z]"
        )
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups()[:6])
    try:
        stamp = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise ScheduleError(f"invalid RRULE {text!r}: {what} {value!r}: {exc}") from exc
    return stamp, match.group(7) is not None, match.group(4) is None


class RRuleSchedule(Clock):
    """Runs at the times an RFC 5545 RRULE names, on the wall clock of a zone (module docstring)."""

    kind = "rrule"

    def __init__(
        self,
        rrule: str,
        timezone: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(rrule, str) or not rrule.strip():
            raise ScheduleError(f"invalid RRULE {rrule!r}: expected {_HINT}")
        lines = [line.strip() for line in rrule.strip().splitlines() if line.strip()]
        self.rrule = "\n".join(lines)
        start_lines = [line for line in lines if line.upper().startswith("DTSTART")]
        rule_lines = [line for line in lines if line not in start_lines]
        if len(start_lines) > 1 or len(rule_lines) != 1:
            raise ScheduleError(
                f"invalid RRULE {rrule!r}: expected one RRULE line, "
                "optionally after one DTSTART line"
            )
        body = rule_lines[0]
        if body.upper().startswith("RRULE:"):
            body = body[len("RRULE:"):]
        self._parts = self._parse_parts(body.upper())
        self._start, tzid, start_utc = self._parse_start(start_lines[0] if start_lines else None)
        if timezone and tzid and resolve_zone(tzid) != resolve_zone(timezone):
            raise ScheduleError(
                f"invalid RRULE {rrule!r}: DTSTART's TZID {tzid!r} differs from "
                f"timezone {timezone!r}; give one of them"
            )
        self.zone = resolve_zone(timezone or tzid or "UTC")
        self.timezone = self.zone.key
        if start_utc:
            self._start = local_wall(self._start.replace(tzinfo=UTC), self.zone)
        self.end = self._until(self._parts.pop("UNTIL", None))
        self._rule_text = ";".join(f"{key}={value}" for key, value in self._parts.items())
        self._both_folds = self._parts["FREQ"] in ("HOURLY", "MINUTELY", "SECONDLY") and (
            "BYHOUR" not in self._parts
        )
        self._build(self._start)
        self.parameters = check_parameters(parameters, "RRuleSchedule")

    def _parse_parts(self, body: str) -> dict[str, str]:
        parts: dict[str, str] = {}
        for item in body.split(";"):
            key, equals, value = item.partition("=")
            if not equals or not key or not value:
                raise ScheduleError(f"invalid RRULE {self.rrule!r}: {item!r} is not KEY=VALUE")
            if key in parts:
                raise ScheduleError(f"invalid RRULE {self.rrule!r}: {key} is given twice")
            parts[key] = value
        if parts.get("FREQ") not in FREQUENCIES:
            raise ScheduleError(
                f"invalid RRULE {self.rrule!r}: FREQ must be one of {', '.join(FREQUENCIES)}"
            )
        for key in ("INTERVAL", "COUNT"):
            if key in parts and (not parts[key].isdigit() or int(parts[key]) == 0):
                raise ScheduleError(
                    f"invalid RRULE {self.rrule!r}: {key} must be a positive integer, "
                    f"got {parts[key]!r}"
                )
        if "COUNT" in parts and "UNTIL" in parts:
            raise ScheduleError(
                f"invalid RRULE {self.rrule!r}: COUNT and UNTIL cannot both be given"
            )
        return parts

    def _parse_start(self, line: str | None) -> tuple[datetime, str | None, bool]:
        """(naive DTSTART, its TZID if any, whether it is a UTC instant)."""
        if line is None:
            return DEFAULT_DTSTART, None, False
        head, colon, value = line.partition(":")
        if not colon:
            raise ScheduleError(f"invalid RRULE {self.rrule!r}: DTSTART line {line!r} has no value")
        params = dict(
            param.partition("=")[::2] for param in head.split(";")[1:] if param.strip()
        )
        tzid = {key.upper(): val for key, val in params.items()}.get("TZID")
        start, is_utc, _ = _stamp(value, "DTSTART", self.rrule)
        if is_utc and tzid:
            raise ScheduleError(f"invalid RRULE {self.rrule!r}: DTSTART has both TZID and 'Z'")
        return start, tzid, is_utc

    def _until(self, value: str | None) -> datetime | None:
        if value is None:
            return None
        stamp, is_utc, is_date = _stamp(value, "UNTIL", self.rrule)
        if is_utc:
            return stamp.replace(tzinfo=UTC)
        if is_date:
            stamp = stamp.replace(hour=23, minute=59, second=59, microsecond=999999)
        return wall_to_instants(stamp, self.zone)[0]

    def _build(self, start: datetime) -> Any:
        from dateutil.rrule import rrulestr

        try:
            return rrulestr(self._rule_text, dtstart=start)
        except (ValueError, KeyError, TypeError, IndexError, OverflowError) as exc:
            raise ScheduleError(f"invalid RRULE {self.rrule!r}: {exc}; expected {_HINT}") from exc

    def iter(self, after: datetime | None = None) -> Iterator[datetime]:
        begin = start_after(after)
        start = self._start
        period = _PERIODS.get(self._parts["FREQ"])
        horizon = local_wall(begin, self.zone) - 2 * WALL_MARGIN
        if period is not None and "COUNT" not in self._parts and start < horizon:
            period *= int(self._parts.get("INTERVAL", "1"))
            start += (horizon - start) // period * period
        walls = iter(self._build(start))
        return instants_from_walls(walls, self.zone, begin, self.end, self._both_folds)

    def describe(self) -> str:
        return f"RRULE {self.rrule.replace(chr(10), ' ')} ({self.timezone})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rrule": self.rrule,
            "timezone": self.timezone,
            "parameters": json_parameters(self.parameters, "RRuleSchedule"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RRuleSchedule:
        """Build from `to_dict()` output; `schedule_from_dict` validates the keys first."""
        return cls(data["rrule"], timezone=data.get("timezone"), parameters=data.get("parameters"))

    def _repr_options(self) -> dict[str, Any]:
        return {"timezone": self.timezone}

    def _key(self) -> tuple[Any, ...]:
        return (self.rrule, self.timezone, self.parameters)
