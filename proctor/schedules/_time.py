"""Time-zone helpers shared by the clocks, and the one place the DST rule is implemented.

Calendar clocks (cron, RRULE) think in *wall time*: the naive date and time a person in the
schedule's zone reads on a wall clock. Storage and comparison need *instants*. Turning one into the
other is ambiguous twice a year, so it is done here, once, by `wall_to_instants`:

- an ordinary wall time is one instant;
- a wall time inside a spring-forward gap (it never appears on the clock) is moved forward by the
  length of the gap: 02:30 in Paris on 2026-03-29 becomes 03:30 CEST. A run is never dropped;
- a wall time inside a fall-back overlap (it appears twice) is its *first* occurrence (fold=0),
  unless the caller asks for both (clocks that fire every hour do, so every real hour gets its run).

`instants_from_walls` turns an increasing stream of wall times into a strictly increasing stream of
UTC instants. Moving gap times forward can put them after a later wall time's instant (02:30 → 03:30
comes after 03:00), so it keeps a small look-ahead heap instead of assuming the order is kept.

`minute_instants` is the same conversion for one whole-minute wall time, written for speed (cron
plans call it for every candidate), and `remembered_minutes` keeps its answers per zone.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ScheduleError

UTC = timezone.utc

#: Any instant made from a wall time `w` is later than `w - LOOKAHEAD` read as UTC, because no zone
#: is more than 14 hours ahead of UTC. Once the wall times reach `w`, earlier instants are final.
LOOKAHEAD = timedelta(hours=15)

#: Walls are generated from this long before `after`, so that gap-shifted and repeated times that
#: land after `after` are not missed.
WALL_MARGIN = timedelta(days=1)

#: How many converted wall times `remembered_minutes` keeps per zone (about 110 bytes each), and
#: for how many zones, before starting afresh: a few MB at most, while a scheduler pass over many
#: deployments in a handful of zones finds nearly every wall time it needs already converted.
MAX_REMEMBERED = 20_000
MAX_REMEMBERED_ZONES = 16
_REMEMBERED: dict[tzinfo, dict[int, datetime | tuple[datetime, datetime]]] = {}

ZONE_HINT = "an IANA time-zone name such as 'UTC', 'Europe/Paris' or 'America/New_York'"


def resolve_zone(value: str | tzinfo) -> ZoneInfo:
    """Return the `ZoneInfo` for an IANA name, or raise `ScheduleError` naming the bad value.

    Only named zones are accepted for calendar clocks: a fixed offset such as `+02:00` cannot know
    when daylight saving time starts, which is the whole point of evaluating in a zone.
    """
    if isinstance(value, ZoneInfo):
        return value
    if value is UTC:
        return ZoneInfo("UTC")
    if not isinstance(value, str) or not value.strip():
        raise ScheduleError(f"time zone {value!r} is not valid: expected {ZONE_HINT}")
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleError(f"unknown time zone {value!r}: expected {ZONE_HINT}") from exc


def zone_label(zone: tzinfo) -> str:
    """A short name of a zone for texts and dicts: the IANA key, else the UTC offset."""
    key = getattr(zone, "key", None)
    if isinstance(key, str):
        return key
    offset = zone.utcoffset(None)
    if offset is None:
        return str(zone)
    if offset == timedelta(0):
        return "UTC"
    return datetime(2000, 1, 1, tzinfo=zone).strftime("UTC%z")


def require_aware(value: object, what: str) -> datetime:
    """Return `value` if it is a timezone-aware datetime; otherwise explain how to fix it.

    Naive datetimes are refused rather than guessed: the same naive value means different instants
    on a laptop in Paris and on a server in UTC, and a schedule must mean one thing everywhere.
    """
    if not isinstance(value, datetime):
        raise ScheduleError(f"{what} must be a timezone-aware datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ScheduleError(
            f"{what} {value.isoformat()} is naive (no time zone), so it would mean a different "
            f"instant on each machine: add a tzinfo, e.g. `datetime(2026, 1, 1, 9, 0, "
            f"tzinfo=ZoneInfo('Europe/Paris'))` (from zoneinfo import ZoneInfo), "
            f"`.replace(tzinfo=timezone.utc)`, or a pendulum datetime (pendulum.now('UTC'))"
        )
    return value


def prefect1_instant(value: object, what: str) -> datetime:
    """An instant given with a Prefect 1 name (`start_date`, `end_date`): a naive datetime is
    read as UTC, with a warning, as Prefect 1 did (its examples pass `datetime.utcnow()`).
    Proctor's own options (`anchor`, `end`, `start`) keep refusing naive values."""
    if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
        import warnings

        warnings.warn(
            f"{what} {value.isoformat()} has no time zone; it is read as UTC (as Prefect 1 "
            f"did). Give an aware datetime to say which zone you mean.",
            stacklevel=3,
        )
        return value.replace(tzinfo=UTC)
    return require_aware(value, what)


def start_after(after: datetime | None) -> datetime:
    """The instant to search after, in UTC. `None` means now: the only clock read in the package."""
    if after is None:
        return datetime.now(UTC)
    if after.__class__ is datetime and after.tzinfo is UTC:
        return after  # already what the checks below would give: planning calls this a lot
    return require_aware(after, "after").astimezone(UTC)


def parse_instant(value: object, what: str) -> datetime:
    """Read an aware datetime from a datetime or an ISO-8601 string with an offset (dict input)."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ScheduleError(
                f"{what} {value!r} is not an ISO-8601 datetime such as '2026-01-01T09:00:00+00:00'"
            ) from exc
    return require_aware(value, what)


def wall_to_instants(
    wall: datetime, zone: tzinfo, both_folds: bool = False
) -> tuple[datetime, ...]:
    """The UTC instant(s) at which the naive `wall` time happens in `zone` (see the module doc).

    With PEP 495, `fold=0` reads a time with the offset in force *before* a transition and `fold=1`
    with the one *after*. In an overlap fold=0 is therefore the earlier instant; in a gap fold=0 is
    the later one, which is exactly "moved forward by the gap".
    """
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first < second and both_folds:
        return first, second
    return (first,)


def instants_from_walls(
    walls: Iterable[datetime],
    zone: tzinfo,
    after: datetime,
    end: datetime | None = None,
    both_folds: bool = False,
) -> Iterator[datetime]:
    """Strictly increasing UTC instants > `after` (and <= `end`) for increasing wall times."""
    pending: list[datetime] = []
    last: datetime | None = None

    def release(limit: datetime | None) -> Iterator[datetime]:
        nonlocal last
        while pending and (limit is None or pending[0] < limit):
            instant = heapq.heappop(pending)
            if instant != last:
                last = instant
                yield instant

    for wall in walls:
        floor = wall.replace(tzinfo=UTC) - LOOKAHEAD
        for instant in release(floor):
            if end is not None and instant > end:
                return
            yield instant
        if end is not None and floor > end:
            break
        for instant in wall_to_instants(wall, zone, both_folds):
            if instant > after:
                heapq.heappush(pending, instant)
    for instant in release(None):
        if end is not None and instant > end:
            return
        yield instant


def fixed_offset(zone: tzinfo) -> timedelta | None:
    """The zone's UTC offset if it never changes ('UTC', 'Etc/GMT-3'), else None.

    `utcoffset(None)` is the standard question for this: zoneinfo answers with an offset only when
    the zone has no transitions and no daylight-saving rule. Such a zone has no gaps and no
    repeated hours, so its wall times convert by one subtraction, without looking at each one.
    """
    return zone.utcoffset(None)


def minute_instants(
    zone: tzinfo, day: date, early: time, late: time, as_utc: datetime
) -> datetime | tuple[datetime, datetime]:
    """`wall_to_instants` for the wall time `early` (fold=0; `late` is it with fold=1) on `day`;
    `as_utc` is that wall time read as UTC (the caller builds it by adding to a midnight).

    Returns the instant of an ordinary wall time, and (fold=0 instant, fold=1 instant) for one in a
    gap (the first is later: moved forward by the gap) or in an overlap (the first is earlier).

    Same results as `wall_to_instants`: `astimezone(UTC)` of an aware time subtracts exactly the
    `utcoffset` its zone gives for those wall fields and fold. Asking the zone with naive times
    built from prepared `time` objects skips the slow `replace` and `astimezone` calls.
    """
    first = zone.utcoffset(datetime.combine(day, early))
    second = zone.utcoffset(datetime.combine(day, late))
    if first is None or second is None:
        raise ScheduleError(f"time zone {zone_label(zone)} gives no UTC offset for {day} {early}")
    wall = as_utc
    if first == second:
        return wall - first
    return wall - first, wall - second


def remembered_minutes(zone: tzinfo) -> dict[int, datetime | tuple[datetime, datetime]]:
    """`minute_instants` answers already computed for `zone`, by `ordinal * 1440 + minute of day`.

    Planning asks about the same wall times again and again (each scheduler pass plans from a
    slightly later "now", and many deployments share a zone), and the answer for a zone and a wall
    time never changes. Callers store at most `MAX_REMEMBERED` answers; a full memo is replaced by
    an empty one here, and all are dropped when a zone beyond `MAX_REMEMBERED_ZONES` comes, so
    memory stays bounded however long a process runs.
    """
    memo = _REMEMBERED.get(zone)
    if memo is None or len(memo) >= MAX_REMEMBERED:
        if memo is None and len(_REMEMBERED) >= MAX_REMEMBERED_ZONES:
            _REMEMBERED.clear()
        memo = _REMEMBERED[zone] = {}
    return memo


def local_wall(instant: datetime, zone: tzinfo) -> datetime:
    """The naive wall time an aware `instant` shows in `zone`."""
    return instant.astimezone(zone).replace(tzinfo=None)

