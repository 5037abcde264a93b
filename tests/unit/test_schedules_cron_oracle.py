"""Cron planning gives exactly the results recorded in schedules_cron_oracle.json.

The table was written by the cron implementation as it was before planning was made fast (commit
c12d60b, which walked every matching wall time from a day before `after` and converted each one):
the next runs of many expressions, in five zones, from `after` instants placed around the DST
changes of 2026 and 2027 (and Kathmandu's 15-minute change of 1986, and the year-9999 limit), plus
clocks with an `end` and filtered, combined schedules. Any change of a single instant fails here.

Regenerating the table would make it agree with whatever the code does now, so it is only done on
purpose, from an old checkout: `python tests/unit/test_schedules_cron_oracle.py --write`.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from proctor.schedules import CronSchedule, Schedule, schedule_from_dict
from proctor.schedules.filters import between_times, is_weekday, on_dates

UTC = timezone.utc
ORACLE = Path(__file__).with_name("schedules_cron_oracle.json")
RUNS = 6  # next(RUNS) per entry

ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
EXPRESSIONS = [
    # the common ones
    "*/5 * * * *", "0 * * * *", "0 2 * * *", "30 9 * * 1-5", "0 0 1 * *",
    # hours that DST changes skip or repeat somewhere (Lord Howe moves 02:00 <-> 02:30)
    "30 2 * * *", "30 1 * * *", "45 1 * * *", "15 2 * * *", "0 3 * * *", "30 2,3 * * *",
    "0 1-3 * * *", "15,45 1-3 * * *", "* 2 * * *", "*/7 1-3 * * *", "59 1 * * *",
    # every hour: both occurrences of a repeated hour
    "*/15 * * * *", "30 * * * *", "5-10/2 * * * *", "* * * * *", "0,30 * * * *",
    # days, months, weekdays and the either-day rule
    "0 0 * * 0", "0 3 * * SUN", "0 0 13 * FRI", "0 2 */2 * *", "0 0,12 1,15 * *",
    "0 0 29 2 *", "59 23 31 12 *", "10 2 29 3 *", "0 9 * MAR,OCT,NOV MON-FRI",
    "0 0 */10 * MON", "@yearly", "@weekly", "0 23 * * *", "30 0 * * *",
]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def transitions(zone: ZoneInfo, years: range) -> list[datetime]:
    """UTC instants at which `zone` changes its offset in `years`: found hour by hour, then to the
    second by bisection. (Only used to place `after` instants; exactness is not needed here.)"""
    found = []
    moment = utc(years.start, 1, 1)
    stop = utc(years.stop, 1, 1)
    while moment < stop:
        later = moment + timedelta(hours=1)
        if moment.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
            low, high = moment, later
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(microsecond=0))
        moment = later
    return found


AROUND = [timedelta(hours=-25), timedelta(minutes=-90), timedelta(minutes=-30),
          timedelta(seconds=-1), timedelta(0), timedelta(minutes=30), timedelta(hours=2)]
GENERIC = [utc(2026, 1, 1), utc(2026, 2, 28, 23, 59, 59, 500000), utc(2027, 12, 31, 23, 30)]


def afters(zone_name: str) -> list[datetime]:
    """Start instants for one zone: around its 2026-2027 changes (Paris's for zones without)."""
    changes = transitions(ZoneInfo(zone_name), range(2026, 2028))
    if zone_name == "Asia/Kathmandu":
        changes += transitions(ZoneInfo(zone_name), range(1985, 1987))
    if not changes:
        changes = transitions(ZoneInfo("Europe/Paris"), range(2026, 2028))
    return [change + shift for change in sorted(changes) for shift in AROUND] + GENERIC


def stamp(when: datetime) -> float:
    """An instant as POSIX seconds: an int when whole, so the table stays small and exact."""
    seconds = when.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def compress(instants: list[datetime]) -> list[float]:
    """[first, gap, gap, ...] in seconds: most gaps are 300, 3600 or 86400."""
    values = [stamp(when) for when in instants]
    gaps = [later - earlier for earlier, later in zip(values, values[1:], strict=False)]
    return values[:1] + gaps


def expand(values: list[float]) -> list[float]:
    total, out = 0.0, []
    for value in values:
        total += value
        out.append(total)
    return out


def edge_cases() -> list[tuple[str, str, datetime]]:
    """(expression, zone, after) near the year-9999 limit and in the far past."""
    cases = []
    for zone in ("UTC", "Europe/Paris", "America/New_York", "Asia/Kathmandu"):
        for cron in ("0 0 1 * *", "0 0 1 1 *", "0 0 * 12 *", "*/30 * * * *", "0 12 31 12 *"):
            cases.append((cron, zone, utc(9998, 12, 30, 10)))
        cases.append(("0 0 * * *", zone, utc(1900, 3, 1)))
        cases.append(("30 2 * * *", zone, utc(1970, 1, 1)))
    return cases


def schedules() -> list[dict[str, Any]]:
    """Clocks with an `end`, and filtered combined schedules, as `to_dict()` dicts."""
    paris_spring, paris_fall = utc(2026, 3, 29, 1), utc(2026, 10, 25, 1)
    found: list[dict[str, Any]] = []
    for zone in ZONES:
        for cron in ("*/5 * * * *", "0 * * * *", "30 2 * * *"):
            end = paris_fall + timedelta(hours=2)
            found.append(CronSchedule(cron, zone, end=end).to_dict())
        found.append(
            Schedule([CronSchedule("0 9 * * *", zone)], filters=[is_weekday]).to_dict()
        )
        found.append(Schedule(
            [CronSchedule("*/20 * * * *", zone, parameters={"fast": True}),
             CronSchedule("0 * * * *", zone, parameters={"fast": False}),
             CronSchedule("0 * * * *", "UTC", parameters={"fast": True})],
            filters=[between_times("01:00", "03:30")],
            not_filters=[on_dates("2026-03-30", "2026-10-26")],
        ).to_dict())
    found.append(CronSchedule("0 2 * * *", "Europe/Paris", end=paris_spring).to_dict())
    return found


SCHEDULE_AFTERS = [utc(2026, 3, 28, 23), utc(2026, 3, 29, 0, 59, 59), utc(2026, 10, 24, 23),
                   utc(2026, 10, 25, 0, 45), utc(2026, 11, 1, 4), utc(2026, 4, 4, 14)]


def run_table(runs: list[Any], clocks: list[dict[str, Any]]) -> list[list[Any]]:
    """[POSIX seconds, parameters, index of the producing clock] per run of a schedule."""
    return [[stamp(run.when), run.parameters, clocks.index(run.clock.to_dict())] for run in runs]


def build() -> dict[str, Any]:
    """Everything the table holds, computed by the code as it is now."""
    cron: dict[str, dict[str, list[list[float]]]] = {}
    for zone in ZONES:
        starts = afters(zone)
        cron[zone] = {
            expression: [[stamp(after), *compress(CronSchedule(expression, zone).next(RUNS, after))]
                         for after in starts]
            for expression in EXPRESSIONS
        }
    edges = [[cron_text, zone, stamp(after),
              *compress(CronSchedule(cron_text, zone).next(RUNS, after))]
             for cron_text, zone, after in edge_cases()]
    combined = []
    for data in schedules():
        timeline = schedule_from_dict(data)
        clocks = data.get("clocks", [data])
        combined.append({
            "schedule": data,
            "runs": {
                str(stamp(after)): {
                    "runs": run_table(timeline.next_runs(12, after), clocks),
                    "times": compress(timeline.next(12, after)),
                }
                for after in SCHEDULE_AFTERS
            },
        })
    return {"runs_per_entry": RUNS, "cron": cron, "edges": edges, "schedules": combined}


def from_stamp(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


@pytest.fixture(scope="module")
def oracle() -> dict[str, Any]:
    return json.loads(ORACLE.read_text())


@pytest.mark.parametrize("zone", ZONES)
def test_cron_runs_are_unchanged(oracle, zone):
    table = oracle["cron"][zone]
    assert sorted(table) == sorted(EXPRESSIONS)
    for expression, entries in table.items():
        clock = CronSchedule(expression, zone)
        for after, *expected in entries:
            got = [stamp(when) for when in clock.next(oracle["runs_per_entry"], from_stamp(after))]
            assert got == expand(expected), (expression, zone, from_stamp(after))


def test_edge_runs_are_unchanged(oracle):
    assert len(oracle["edges"]) == len(edge_cases())
    for cron_text, zone, after, *expected in oracle["edges"]:
        got = CronSchedule(cron_text, zone).next(oracle["runs_per_entry"], from_stamp(after))
        assert [stamp(when) for when in got] == expand(expected), (cron_text, zone, after)


def test_schedule_runs_are_unchanged(oracle):
    assert len(oracle["schedules"]) == len(schedules())
    for entry in oracle["schedules"]:
        timeline = schedule_from_dict(entry["schedule"])
        clocks = entry["schedule"].get("clocks", [entry["schedule"]])
        for after, expected in entry["runs"].items():
            start = from_stamp(float(after))
            runs = timeline.next_runs(12, start)
            assert run_table(runs, clocks) == expected["runs"], (entry["schedule"], after)
            times = [stamp(when) for when in timeline.next(12, start)]
            assert times == expand(expected["times"]), (entry["schedule"], after)


def test_the_table_covers_every_transition():
    """The starts sit next to each zone's 2026 and 2027 changes (four per zone with DST)."""
    for zone in ("Europe/Paris", "America/New_York", "Australia/Lord_Howe"):
        assert len(transitions(ZoneInfo(zone), range(2026, 2028))) == 4
    assert len(transitions(ZoneInfo("Asia/Kathmandu"), range(1985, 1987))) == 1


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    ORACLE.write_text(json.dumps(build(), separators=(",", ":")) + "\n")
    print(f"wrote {ORACLE} ({ORACLE.stat().st_size} bytes)")
