"""`DatesClock`: runs at a fixed list of instants (Prefect 1's DatesClock)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from ._time import UTC, parse_instant, require_aware, start_after
from .base import Clock, check_parameters, json_parameters
from .errors import ScheduleError


class DatesClock(Clock):
    """Runs once at each of `dates` (aware datetimes; duplicates run once)."""

    kind = "dates"

    def __init__(self, dates: Iterable[datetime], parameters: dict[str, Any] | None = None,
                 parameter_defaults: dict[str, Any] | None = None) -> None:
        if isinstance(dates, (str, datetime)):
            raise ScheduleError("DatesClock(dates): give a list of datetimes")
        given = list(dates)
        if not given:
            raise ScheduleError("DatesClock needs at least one date")
        self.dates = tuple(sorted({require_aware(d, "DatesClock date").astimezone(UTC)
                                   for d in given}))
        first = given[0]
        self.zone = first.tzinfo if isinstance(first, datetime) and first.tzinfo else UTC
        self.parameters = check_parameters(
            parameters if parameters is not None else parameter_defaults, "DatesClock")

    def iter(self, after: datetime | None = None) -> Iterator[datetime]:
        start = start_after(after)
        index = bisect.bisect_right(self.dates, start)
        return iter(self.dates[index:])

    def describe(self) -> str:
        if len(self.dates) == 1:
            return f"once, at {self.dates[0]:%Y-%m-%d %H:%M} UTC"
        return (f"at {len(self.dates)} set times, from {self.dates[0]:%Y-%m-%d %H:%M} to "
                f"{self.dates[-1]:%Y-%m-%d %H:%M} UTC")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "dates": [d.isoformat() for d in self.dates],
                "parameters": json_parameters(self.parameters, "DatesClock")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatesClock:
        dates = data["dates"]
        if not isinstance(dates, list):
            raise ScheduleError("invalid dates schedule: 'dates' must be a list")
        return cls([parse_instant(d, "date") for d in dates], parameters=data.get("parameters"))

    def _repr_args(self) -> tuple[Any, ...]:
        return ([d.isoformat() for d in self.dates],)

    def _key(self) -> tuple[Any, ...]:
        return (self.dates, self.parameters)
