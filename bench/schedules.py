"""How long planning the next runs of a schedule takes. Prints figures; asserts no timing.

One row per cron expression and zone: microseconds per `clock.next(10, after)` call, the best of
several repeats (each repeat cycles through a fixed set of `after` instants spread over 2026, so
DST changes are among them). Extra rows show what the server's scheduler pays per deployment:

- `iter_runs` for 10 runs (run objects with their parameters), and a `Schedule([cron],
  filters=[is_weekday]).next(10)`: a combined schedule with a filter;
- `schedule_from_dict(d)` + `iter_runs` for 10 runs: what one deployment costs in a pass;
- "never-seen after": each call plans from a new instant (3 days and 7 minutes after the last), so
  nothing computed by an earlier call helps (planning remembers converted wall times per zone);
- floors, with no calendar and no time zone work at all: `IntervalSchedule("5m").next(10)`, an
  interval's `iter_runs`, and a daily interval in the same filtered `Schedule`.

Run from the repository root: `.venv/bin/python bench/schedules.py` (`--quick` for fewer repeats).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proctor.schedules import (  # noqa: E402
    CronSchedule,
    IntervalSchedule,
    Schedule,
    is_weekday,
    schedule_from_dict,
)

UTC = timezone.utc
EXPRESSIONS = ("*/5 * * * *", "0 * * * *", "0 2 * * *", "30 9 * * 1-5", "0 0 1 * *")
ZONES = ("UTC", "Europe/Paris")
#: 16 instants, 22 days 19 hours 7 minutes 13 seconds apart, from 2026-01-01: odd enough that the
#: `after` falls at different times of day, on different weekdays, and near both Paris changes.
AFTERS = tuple(
    datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC) + k * timedelta(days=22, hours=19, seconds=433)
    for k in range(16)
)


def best_us(call: Callable[[datetime], object], repeats: int, rounds: int) -> float:
    """Best (least disturbed) mean microseconds per call over `repeats` timed loops."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(rounds):
            for after in AFTERS:
                call(after)
        elapsed = time.perf_counter() - started
        best = min(best, elapsed / (rounds * len(AFTERS)))
    return best * 1e6


def rows() -> list[tuple[str, Callable[[datetime], object]]]:
    """(label, call) for every figure, in print order."""
    table: list[tuple[str, Callable[[datetime], object]]] = []
    for expression in EXPRESSIONS:
        for zone in ZONES:
            clock = CronSchedule(expression, zone)
            table.append((f"cron {expression!r:16} {zone}", lambda a, c=clock: c.next(10, a)))
    for zone in ZONES:
        clock = CronSchedule("0 2 * * *", zone)
        table.append(
            (f"iter_runs '0 2 * * *' {zone}", lambda a, c=clock: list(islice(c.iter_runs(a), 10)))
        )
    for zone in ZONES:
        filtered = Schedule([CronSchedule("0 9 * * *", zone)], filters=[is_weekday])
        table.append(
            (f"Schedule '0 9 * * *' + is_weekday {zone}", lambda a, s=filtered: s.next(10, a))
        )
    for expression in ("*/5 * * * *", "0 2 * * *"):
        stored = CronSchedule(expression, "Europe/Paris").to_dict()

        def plan(after: datetime, data: dict = stored) -> object:
            return list(islice(schedule_from_dict(data).iter_runs(after), 10))

        table.append((f"from_dict + iter_runs {expression!r:16} Europe/Paris", plan))
    for expression in ("*/5 * * * *", "0 2 * * *"):
        clock = CronSchedule(expression, "Europe/Paris")

        def never_seen(
            after: datetime, c: CronSchedule = clock, fresh: Iterator[int] = itertools.count()
        ) -> object:
            return c.next(10, after + next(fresh) * timedelta(days=3, minutes=7))

        table.append((f"cron {expression!r:16} Europe/Paris, never-seen after", never_seen))
    interval = IntervalSchedule("5m")
    table.append(("interval '5m' (floor)", lambda a: interval.next(10, a)))
    daily = IntervalSchedule("1d", anchor=datetime(2020, 1, 1, 2, tzinfo=UTC))
    table.append(
        ("interval '1d' iter_runs (floor)", lambda a: list(islice(daily.iter_runs(a), 10)))
    )
    nine = Schedule([IntervalSchedule("1d", anchor=datetime(2020, 1, 1, 9, tzinfo=UTC))],
                    filters=[is_weekday])
    table.append(("Schedule interval '1d' + is_weekday (floor)", lambda a: nine.next(10, a)))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats, target_seconds = (3, 0.05) if args.quick else (7, 0.2)
    print(f"Python {sys.version.split()[0]}; us per call (10 runs), best of {repeats}")
    for label, call in rows():
        once = best_us(call, 1, 1)
        rounds = max(1, int(target_seconds * 1e6 / (once * len(AFTERS))))
        print(f"  {label:52} {best_us(call, repeats, rounds):10.1f} us")


if __name__ == "__main__":
    main()
