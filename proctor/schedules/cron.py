"""`CronSchedule`: a standard cron expression evaluated on the wall clock of a named time zone.

The DST rule (implemented in `_time`: `wall_to_instants`, and `minute_instants` for planning):

- Spring forward: a wall time that does not exist runs at the same distance past the gap, i.e. it
  is moved forward by the gap's length. `30 2 * * *` in Europe/Paris on 2026-03-29 runs at 03:30
  CEST. If that instant is also named by the expression (`*/30 * * * *` names 03:30 too), it runs
  once: times are de-duplicated by instant.
- Fall back: a wall time that happens twice runs once, at its first occurrence (summer time,
  fold=0), when the hour field names particular hours (`30 2 * * *`, `0 9-17 * * *`). When the hour
  field allows every hour (`0 * * * *`, `*/15 * * * *`), it runs at both occurrences: such a clock
  means "every hour", and the repeated hour is a real hour that would otherwise get no run.

Times come back aware, in UTC: the form to store and compare; convert with `.astimezone()` to show.
How the runs are found quickly, with the same results, is explained in `cron_plan`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from ._time import (
    UTC,
    WALL_MARGIN,
    parse_instant,
    prefect1_instant,
    require_aware,
    resolve_zone,
    start_after,
)
from .base import Clock, check_parameters, json_parameters
from .cron_expr import CronExpression
from .cron_plan import cron_instants
from .describe import describe_cron


class CronSchedule(Clock):
    """Runs at the wall-clock times a five-field cron expression names, in `timezone`.

    - `cron`: 'minute hour day-of-month month day-of-week', with numbers, `*`, ranges, steps,
      lists and names (JAN-DEC, SUN-SAT, 0 or 7 = Sunday), or @hourly/@daily/@weekly/@monthly/
      @yearly. Invalid input raises `ScheduleError` naming the field.
    - `timezone`: an IANA zone name; the expression is read on that zone's wall clock.
    - `end`: optional aware datetime; no run after it.
    See the module docstring for what happens on DST changes.
    """

    kind = "cron"

    def __init__(
        self,
        cron: str,
        timezone: str = "UTC",
        end: datetime | None = None,
        parameters: dict[str, Any] | None = None,
        start: datetime | None = None,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        day_or: bool | None = None,
    ) -> None:
        if start_date is not None:  # Prefect 1's names: naive means UTC (`prefect1_instant`)
            start = prefect1_instant(start_date, "start_date")
            if timezone == "UTC" and start.tzinfo is not None and hasattr(start.tzinfo, "key"):
                timezone = start.tzinfo.key  # Prefect 1 read the cron in start_date's zone
        if end_date is not None:
            end = prefect1_instant(end_date, "end_date")
        self.expression = CronExpression.parse(cron)
        self.cron = self.expression.text
        self.zone = resolve_zone(timezone)
        self.timezone = self.zone.key
        self.end = require_aware(end, "end").astimezone(UTC) if end is not None else None
        #: no run before `start` (Prefect 1's `start_date`), a run exactly at it is kept
        self.start = require_aware(start, "start").astimezone(UTC) if start is not None else None
        self.parameters = check_parameters(parameters, f"CronSchedule({self.cron!r})")

    def iter(self, after: datetime | None = None) -> Iterator[datetime]:
        last_day = None
        if self.end is not None:
            # Wall times of later local days cannot give instants up to `end` (offsets < 24 h).
            last_day = (self.end.astimezone(self.zone) + WALL_MARGIN).toordinal()
        begin = start_after(after)
        if self.start is not None and begin < self.start:
            begin = self.start - timedelta(microseconds=1)
        return cron_instants(self.expression, self.zone, begin, self.end, last_day)

    def describe(self) -> str:
        until = None
        if self.end is not None:
            until = f"{self.end.astimezone(self.zone):%Y-%m-%d %H:%M}"
        text = describe_cron(self.expression, self.timezone, until)
        if self.start is not None:
            text += f", from {self.start.astimezone(self.zone):%Y-%m-%d %H:%M}"
        return text

    def to_dict(self) -> dict[str, Any]:
        data = {
            "kind": self.kind,
            "cron": self.cron,
            "timezone": self.timezone,
            "end": self.end.isoformat() if self.end is not None else None,
            "parameters": json_parameters(self.parameters, f"CronSchedule({self.cron!r})"),
        }
        if self.start is not None:
            data["start"] = self.start.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CronSchedule:
        """Build from `to_dict()` output; `schedule_from_dict` validates the keys first."""
        end = data.get("end")
        start = data.get("start")
        return cls(
            data["cron"],
            timezone=data.get("timezone", "UTC"),
            end=parse_instant(end, "end") if end is not None else None,
            parameters=data.get("parameters"),
            start=parse_instant(start, "start") if start is not None else None,
        )

    def _repr_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"timezone": self.timezone}
        if self.end is not None:
            options["end"] = self.end.isoformat()
        if self.start is not None:
            options["start"] = self.start.isoformat()
        return options

    def _key(self) -> tuple[Any, ...]:
        return (self.cron, self.timezone, self.end, self.parameters, self.start)
