"""`Schedule`: several clocks merged into one timeline, thinned by filters.

Merging: the clocks' times are interleaved in order. The same instant from two clocks is one run
when the clocks' parameters are equal (listing both a daily and an hourly clock must not start two
identical runs at midnight), and two runs when they differ (one clock per region, say, both at
09:00). `next()`, which returns bare datetimes, lists each instant once. When duplicates merge,
the run names the first clock in the list.

Filtering: a time is kept if every filter accepts it and no `not_filters` entry does. Each filter
sees the time in the zone of the clock that produced it. A filter set that rejects
`MAX_CONSECUTIVE_REJECTS` candidates in a row ends the iteration instead of searching forever, so
`next(n)` can return fewer than n items.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from ._time import start_after
from .base import Clock, ScheduledTime, Timeline
from .errors import ScheduleError

FilterFn = Callable[[datetime], bool]

MAX_CONSECUTIVE_REJECTS = 100_000


def _tagged(clock: Clock, index: int, after: datetime) -> Iterator[tuple[datetime, int, Clock]]:
    for when in clock.iter(after):
        yield when, index, clock


def _check_filters(filters: Iterable[FilterFn], what: str) -> tuple[FilterFn, ...]:
    checked = tuple(filters)
    for candidate in checked:
        if not callable(candidate):
            raise ScheduleError(f"{what} must be callables of a datetime, got {candidate!r}")
    return checked


class Schedule(Timeline):
    """Clocks merged into one timeline, with filters (see the module docstring).

    - `clocks`: one or more `IntervalSchedule` / `CronSchedule` / `RRuleSchedule`, each with its
      own `parameters` defaults that its runs carry.
    - `filters`: keep a time only if all of these return True.
    - `or_filters`: when given, keep a time only if at least one of these returns True.
    - `not_filters`: drop a time if any of these returns True.
    - `adjustments`: functions of a kept time returning the time to run instead (in order),
      e.g. `adjustments.next_weekday`; two times adjusted onto one run once.
    """

    kind = "schedule"

    def __init__(
        self,
        clocks: Sequence[Clock],
        filters: Iterable[FilterFn] = (),
        not_filters: Iterable[FilterFn] = (),
        or_filters: Iterable[FilterFn] = (),
        adjustments: Iterable[Any] = (),
    ) -> None:
        if isinstance(clocks, Clock):
            clocks = [clocks]
        self.clocks = tuple(clocks)
        if not self.clocks:
            raise ScheduleError("a Schedule needs at least one clock")
        for clock in self.clocks:
            if not isinstance(clock, Clock):
                raise ScheduleError(
                    f"clocks must be IntervalSchedule, CronSchedule or RRuleSchedule, got {clock!r}"
                )
        self.filters = _check_filters(filters, "filters")
        self.not_filters = _check_filters(not_filters, "not_filters")
        self.or_filters = _check_filters(or_filters, "or_filters")
        self.adjustments = _check_filters(adjustments, "adjustments")

    def _keeps(self, when: datetime) -> bool:
        """Whether every filter accepts `when` and no `not_filters` entry does (in list order)."""
        for test in self.filters:
            if not test(when):
                return False
        for test in self.not_filters:
            if test(when):
                return False
        if self.or_filters and not any(test(when) for test in self.or_filters):
            return False
        return True

    def iter_runs(self, after: datetime | None = None) -> Iterator[ScheduledTime]:
        return self._runs(start_after(after))

    def iter(self, after: datetime | None = None) -> Iterator[datetime]:
        return self._instants(start_after(after))

    def _merged(self, start: datetime) -> Iterator[tuple[datetime, Clock]]:
        """(time, clock) for every clock's times, in time order; ties in the order of the clocks."""
        if len(self.clocks) == 1:
            clock = self.clocks[0]
            return zip(clock.iter(start), itertools.repeat(clock))
        merged = heapq.merge(
            *(_tagged(clock, index, start) for index, clock in enumerate(self.clocks))
        )
        return ((when, clock) for when, _, clock in merged)

    def _kept(self, start: datetime) -> Iterator[tuple[datetime, Clock]]:
        """The filtered times, then moved by the adjustments."""
        if not self.adjustments:
            return self._filtered(start)
        return self._adjusted(self._filtered(start), start)

    def _filtered(self, start: datetime) -> Iterator[tuple[datetime, Clock]]:
        """The merged (time, clock) pairs the filters keep; each filter sees the time in the zone
        of its clock. Ends after `MAX_CONSECUTIVE_REJECTS` rejections in a row."""
        if not self.filters and not self.not_filters and not self.or_filters:
            yield from self._merged(start)
            return
        rejected = 0
        for when, clock in self._merged(start):
            if self._keeps(when.astimezone(clock.zone)):
                rejected = 0
                yield when, clock
                continue
            rejected += 1
            if rejected >= MAX_CONSECUTIVE_REJECTS:
                return

    def _adjusted(self, pairs: Iterator[tuple[datetime, Clock]],
                  start: datetime) -> Iterator[tuple[datetime, Clock]]:
        """Times moved by the adjustments (each sees the clock's local time), kept in order:
        an adjusted time not after the last one given (or not after `start`) is dropped."""
        last: datetime | None = None
        for when, clock in pairs:
            moved = when.astimezone(clock.zone)
            for adjust in self.adjustments:
                moved = adjust(moved)
            moved = moved.astimezone(when.tzinfo)
            if moved <= start or (last is not None and moved < last):
                continue
            last = moved
            yield moved, clock

    def _runs(self, start: datetime) -> Iterator[ScheduledTime]:
        """One run per kept time and distinct parameter set, naming the first such clock."""
        current: datetime | None = None
        seen: list[dict[str, Any]] = []
        for when, clock in self._kept(start):
            if when != current:
                current, seen = when, []
            if clock.parameters in seen:
                continue
            seen.append(clock.parameters)
            yield ScheduledTime(when, dict(clock.parameters), clock)

    def _instants(self, start: datetime) -> Iterator[datetime]:
        """Each kept time once, for callers that only want times (no run objects are built)."""
        last: datetime | None = None
        for when, _ in self._kept(start):
            if when != last:
                last = when
                yield when

    def describe(self) -> str:
        text = "; ".join(clock.describe() for clock in self.clocks)
        phrases = [_describe_filter(test) for test in self.filters]
        phrases += [f"except {_describe_filter(test)}" for test in self.not_filters]
        if self.or_filters:
            phrases.append(" or ".join(_describe_filter(t) for t in self.or_filters))
        phrases += [_describe_filter(adjust) for adjust in self.adjustments]
        return ", ".join([text, *phrases])

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "clocks": [clock.to_dict() for clock in self.clocks],
            "filters": [_filter_dict(test) for test in self.filters],
            "not_filters": [_filter_dict(test) for test in self.not_filters],
            **({"or_filters": [_filter_dict(t) for t in self.or_filters]}
               if self.or_filters else {}),
            **({"adjustments": [_filter_dict(a) for a in self.adjustments]}
               if self.adjustments else {}),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return (self.clocks, self.filters, self.not_filters, self.or_filters,
                self.adjustments) == (other.clocks, other.filters, other.not_filters,
                                      other.or_filters, other.adjustments)

    def __hash__(self) -> int:
        return hash(self.clocks)

    def __repr__(self) -> str:
        return f"Schedule({self.describe()!r})"


def _describe_filter(test: FilterFn) -> str:
    if hasattr(test, "describe"):
        return test.describe()
    return f"where {getattr(test, '__name__', repr(test))}"


def _filter_dict(test: FilterFn) -> dict[str, Any]:
    if hasattr(test, "to_dict") and hasattr(test, "kind"):
        return test.to_dict()
    raise ScheduleError(
        f"filter {test!r} cannot be serialised: only the filters of proctor.schedules.filters can"
    )
