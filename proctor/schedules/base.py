"""What every clock and schedule offers, written once: `next`, `iter`, `next_runs`, `iter_runs`.

A subclass only implements `iter(after)` (a lazy, strictly increasing stream of UTC instants),
`describe()` and `to_dict()`. Everything is a function of the `after` it is given; the single clock
read is the "now" default, so tests and the server's scheduler loop pass their own time.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from ._time import UTC
from .errors import ScheduleError


@dataclass(frozen=True)
class ScheduledTime:
    """One run a schedule asks for: when (aware, UTC), with which parameters, from which clock."""

    when: datetime
    parameters: dict[str, Any] = field(hash=False)
    clock: Clock


def check_count(n: object) -> int:
    """`n` for `next(n)`: a non-negative int, so a typo never turns into an endless search."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ScheduleError(f"n must be a non-negative integer, got {n!r}")
    return n


def check_parameters(parameters: object, owner: str) -> dict[str, Any]:
    """A private copy of per-clock parameter defaults, keyed by parameter name."""
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping) or not all(isinstance(k, str) for k in parameters):
        raise ScheduleError(
            f"parameters of {owner} must be a mapping of parameter names to values, "
            f"got {parameters!r}"
        )
    return dict(parameters)


def json_parameters(parameters: dict[str, Any], owner: str) -> dict[str, Any]:
    """Parameters for `to_dict`: refused early if they could not be stored as JSON."""
    try:
        json.dumps(parameters)
    except (TypeError, ValueError) as exc:
        raise ScheduleError(
            f"parameters of {owner} cannot be serialised as JSON ({exc}): {parameters!r}"
        ) from exc
    return dict(parameters)


class Timeline:
    """Shared behaviour of clocks and combined schedules (see the module docstring)."""

    def iter(self, after: datetime | None = None) -> Iterator[datetime]:
        """Lazily yield the times strictly after `after` (default now), aware, in UTC."""
        raise NotImplementedError

    def iter_runs(self, after: datetime | None = None) -> Iterator[ScheduledTime]:
        """Lazily yield the runs strictly after `after`, each with its parameters and clock."""
        raise NotImplementedError

    def next(self, n: int, after: datetime | None = None) -> list[datetime]:
        """The next `n` times strictly after `after` (default now); fewer if the schedule ends."""
        return list(itertools.islice(self.iter(after), check_count(n)))

    def next_runs(self, n: int, after: datetime | None = None) -> list[ScheduledTime]:
        """The next `n` runs strictly after `after`, with per-clock parameters filled in."""
        return list(itertools.islice(self.iter_runs(after), check_count(n)))

    def describe(self) -> str:
        """A short English text for people (UIs, CLI listings)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict that `schedule_from_dict` turns back into an equal object."""
        raise NotImplementedError


class Clock(Timeline):
    """One source of times (interval, cron or RRULE) with its own parameter defaults and zone.

    `zone` is where filters look at the clock's times ("is it a weekday?" is a local question).
    """

    kind: str = ""
    zone: tzinfo = UTC
    parameters: dict[str, Any]

    def iter_runs(self, after: datetime | None = None) -> Iterator[ScheduledTime]:
        times = self.iter(after)
        return (ScheduledTime(when, dict(self.parameters), self) for when in times)

    def _key(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()[0]))

    def __repr__(self) -> str:
        """The constructor call that builds an equal clock (defaults left out)."""
        args = [repr(value) for value in self._repr_args()]
        args += [f"{name}={value!r}" for name, value in self._repr_options().items()]
        if self.parameters:
            args.append(f"parameters={self.parameters!r}")
        return f"{type(self).__name__}({', '.join(args)})"

    def _repr_args(self) -> tuple[Any, ...]:
        return self._key()[:1]

    def _repr_options(self) -> dict[str, Any]:
        return {}
