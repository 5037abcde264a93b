"""Schedules to and from JSON-safe dicts (server, deployments) and from CLI options.

`schedule_from_dict` is strict: unknown kinds, unknown keys and wrongly typed values are errors, so
a typo in a stored deployment is reported when it is loaded, not discovered when no run happens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .adjustments import adjustment_from_dict
from .base import Clock, Timeline
from .cron import CronSchedule
from .dates import DatesClock
from .errors import ScheduleError
from .filters import filter_from_dict
from .interval import IntervalSchedule, parse_interval
from .rrules import RRuleSchedule
from .schedule import Schedule

#: kind -> (required keys, optional keys)
_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "interval": (
        frozenset({"interval"}),
        frozenset({"anchor", "timezone", "end", "parameters"}),
    ),
    "cron": (frozenset({"cron"}), frozenset({"timezone", "end", "parameters", "start"})),
    "rrule": (frozenset({"rrule"}), frozenset({"timezone", "parameters"})),
    "dates": (frozenset({"dates"}), frozenset({"parameters"})),
    "schedule": (frozenset({"clocks"}),
                 frozenset({"filters", "not_filters", "or_filters", "adjustments"})),
}
_CLOCKS: dict[str, type[IntervalSchedule] | type[CronSchedule] | type[RRuleSchedule]] = {
    "interval": IntervalSchedule,
    "cron": CronSchedule,
    "rrule": RRuleSchedule,
    "dates": DatesClock,
}


def _check_keys(data: Mapping[str, Any]) -> str:
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _KEYS:
        raise ScheduleError(
            f"invalid schedule {dict(data)!r}: 'kind' must be one of {', '.join(_KEYS)}, "
            f"got {kind!r}"
        )
    required, optional = _KEYS[kind]
    missing = sorted(required - data.keys())
    if missing:
        raise ScheduleError(f"invalid {kind} schedule {dict(data)!r}: missing {', '.join(missing)}")
    unknown = sorted(set(data) - required - optional - {"kind"})
    if unknown:
        raise ScheduleError(
            f"invalid {kind} schedule {dict(data)!r}: unknown keys {', '.join(unknown)}; "
            f"expected {', '.join(sorted(required | optional))}"
        )
    parameters = data.get("parameters")
    if parameters is not None and not isinstance(parameters, Mapping):
        raise ScheduleError(f"invalid {kind} schedule: 'parameters' must be an object")
    for key in ("timezone", "end", "anchor", "cron", "rrule", "start"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ScheduleError(
                f"invalid {kind} schedule: {key!r} must be a string, got {value!r}"
            )
    return kind


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ScheduleError(f"invalid schedule: {key!r} must be a list, got {value!r}")
    return value


def schedule_from_dict(data: object) -> Timeline:
    """Rebuild a clock or a `Schedule` from its `to_dict()`; invalid input is a `ScheduleError`.

    The result compares equal to the object that produced the dict.
    """
    if not isinstance(data, Mapping):
        raise ScheduleError(f"invalid schedule {data!r}: expected a dict with a 'kind'")
    kind = _check_keys(data)
    if kind != "schedule":
        return _CLOCKS[kind].from_dict(dict(data))
    clocks = [schedule_from_dict(item) for item in _list(data, "clocks")]
    for clock in clocks:
        if not isinstance(clock, Clock):
            raise ScheduleError("invalid schedule: a Schedule cannot contain another Schedule")
    return Schedule(
        clocks,  # type: ignore[arg-type]
        filters=[filter_from_dict(item) for item in _list(data, "filters")],
        not_filters=[filter_from_dict(item) for item in _list(data, "not_filters")],
        or_filters=[filter_from_dict(item) for item in _list(data, "or_filters")],
        adjustments=[adjustment_from_dict(item) for item in _list(data, "adjustments")],
    )


def schedule_from_cli(
    cron: str | None = None,
    interval: str | float | None = None,
    rrule: str | None = None,
    timezone: str | None = None,
) -> Clock:
    """The clock that `--cron`, `--interval` or `--rrule` (exactly one) and `--timezone` describe.

    `interval` accepts seconds ('90') or durations ('5m', '1h30m', '2d'). `timezone` defaults to UTC
    (for an RRULE, to its DTSTART's TZID if it has one).
    """
    given = {
        name: value
        for name, value in (("cron", cron), ("interval", interval), ("rrule", rrule))
        if value is not None
    }
    if len(given) != 1:
        named = ", ".join(f"--{name}" for name in given) or "none"
        raise ScheduleError(f"give exactly one of --cron, --interval or --rrule (got {named})")
    if cron is not None:
        return CronSchedule(cron, timezone=timezone or "UTC")
    if rrule is not None:
        return RRuleSchedule(rrule, timezone=timezone)
    return IntervalSchedule(parse_interval(interval), timezone=timezone)
