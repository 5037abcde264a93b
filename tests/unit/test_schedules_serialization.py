"""to_dict / schedule_from_dict round trips, strict loading, CLI input, describe(), import cost."""

import json
import subprocess
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from proctor.schedules import (
    CronSchedule,
    IntervalSchedule,
    RRuleSchedule,
    Schedule,
    ScheduleError,
    at_time,
    between_dates,
    between_times,
    is_weekday,
    is_weekend,
    not_on_dates,
    on_dates,
    schedule_from_cli,
    schedule_from_dict,
)

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


OBJECTS = [
    IntervalSchedule(300),
    IntervalSchedule(0.5),
    IntervalSchedule("1d", anchor=datetime(2026, 1, 5, 9, tzinfo=PARIS), end=utc(2027, 1, 1),
                     parameters={"full": True, "limit": 10}),
    IntervalSchedule("1h", timezone="Asia/Kolkata"),
    IntervalSchedule("1h", anchor=datetime(2026, 1, 1, tzinfo=timezone.utc)),
    CronSchedule("*/5 * * * *"),
    CronSchedule("@daily", "Europe/Paris", end=utc(2026, 12, 31), parameters={"x": [1, 2]}),
    RRuleSchedule("FREQ=WEEKLY;BYDAY=MO"),
    RRuleSchedule("DTSTART;TZID=America/New_York:20260105T090000\nRRULE:FREQ=DAILY",
                  parameters={"who": "ny"}),
    Schedule(
        [CronSchedule("0 9 * * *", "Europe/Paris"), IntervalSchedule("6h", parameters={"a": 1})],
        filters=[is_weekday, between_times("08:00", "18:00"), at_time("09:00", "12:00"),
                 between_dates("2026-01-01", "2026-12-31")],
        not_filters=[on_dates("2026-12-25"), is_weekend, not_on_dates("2026-01-01")],
    ),
]


@pytest.mark.parametrize("obj", OBJECTS, ids=[repr(o) for o in OBJECTS])
def test_round_trip_through_json(obj):
    data = obj.to_dict()
    restored = schedule_from_dict(json.loads(json.dumps(data)))
    assert restored == obj
    assert restored.to_dict() == data
    after = utc(2026, 3, 1)
    assert restored.next(5, after) == obj.next(5, after)
    assert restored.describe() == obj.describe()


def test_dict_shapes():
    assert CronSchedule("0 9 * * 1-5", "Europe/Paris").to_dict() == {
        "kind": "cron", "cron": "0 9 * * 1-5", "timezone": "Europe/Paris", "end": None,
        "parameters": {},
    }
    assert IntervalSchedule(90).to_dict() == {
        "kind": "interval", "interval": 90, "anchor": "2020-01-01T00:00:00+00:00",
        "timezone": "UTC", "end": None, "parameters": {},
    }
    assert RRuleSchedule("FREQ=DAILY").to_dict() == {
        "kind": "rrule", "rrule": "FREQ=DAILY", "timezone": "UTC", "parameters": {},
    }
    assert Schedule([IntervalSchedule(90)], [is_weekday]).to_dict()["filters"] == [
        {"kind": "is_weekday"}
    ]


def test_minimal_dicts_take_defaults():
    assert schedule_from_dict({"kind": "cron", "cron": "@hourly"}) == CronSchedule("@hourly")
    assert schedule_from_dict({"kind": "interval", "interval": "5m"}) == IntervalSchedule(300)
    data = {"kind": "interval", "interval": 60, "end": "2026-01-01T00:00:00Z"}
    assert schedule_from_dict(data) == IntervalSchedule(60, end=utc(2026, 1, 1))


def test_unserialisable_parts_are_refused_by_to_dict():
    with pytest.raises(ScheduleError, match="cannot be serialised as JSON"):
        CronSchedule("@daily", parameters={"when": datetime(2026, 1, 1)}).to_dict()
    with pytest.raises(ScheduleError, match="cannot be serialised"):
        Schedule([IntervalSchedule(60)], filters=[lambda when: True]).to_dict()


INVALID_DICTS = [
    (None, "expected a dict"),
    ([], "expected a dict"),
    ({}, "'kind' must be one of"),
    ({"kind": "weekly"}, "got 'weekly'"),
    ({"kind": "cron"}, "missing cron"),
    ({"kind": "cron", "cron": "0 9 * * *", "tz": "UTC"}, "unknown keys tz"),
    ({"kind": "cron", "cron": "0 25 * * *"}, "hour field '25'"),
    ({"kind": "cron", "cron": 5}, "'cron' must be a string"),
    ({"kind": "cron", "cron": "@daily", "timezone": "Moon/Base"}, "'Moon/Base'"),
    ({"kind": "cron", "cron": "@daily", "timezone": 1}, "'timezone' must be a string"),
    ({"kind": "cron", "cron": "@daily", "end": "2026-01-01T00:00:00"}, "naive"),
    ({"kind": "cron", "cron": "@daily", "end": "soon"}, "'soon' is not an ISO-8601"),
    ({"kind": "cron", "cron": "@daily", "parameters": [1]}, "'parameters' must be an object"),
    ({"kind": "interval", "interval": "abc"}, "'abc'"),
    ({"kind": "interval", "interval": 0}, "greater than zero"),
    ({"kind": "interval", "interval": 60, "anchor": "2026-01-01"}, "naive"),
    ({"kind": "rrule", "rrule": "FREQ=NEVER"}, "FREQ must be one of"),
    ({"kind": "schedule"}, "missing clocks"),
    ({"kind": "schedule", "clocks": []}, "at least one clock"),
    ({"kind": "schedule", "clocks": "cron"}, "'clocks' must be a list"),
    ({"kind": "schedule", "clocks": [{"kind": "schedule", "clocks": [
        {"kind": "cron", "cron": "@daily"}]}]}, "cannot contain another Schedule"),
    ({"kind": "schedule", "clocks": [{"kind": "cron", "cron": "@daily"}],
      "filters": [{"kind": "is_holiday"}]}, "unknown kind 'is_holiday'"),
    ({"kind": "schedule", "clocks": [{"kind": "cron", "cron": "@daily"}],
      "filters": [{"kind": "between_times", "start": "09:00"}]}, "missing or wrong field"),
    ({"kind": "schedule", "clocks": [{"kind": "cron", "cron": "@daily"}],
      "filters": ["is_weekday"]}, "expected a dict with a 'kind'"),
]


@pytest.mark.parametrize(
    ("data", "fragment"), INVALID_DICTS, ids=[repr(d[0])[:60] for d in INVALID_DICTS]
)
def test_invalid_dicts(data, fragment):
    with pytest.raises(ScheduleError) as caught:
        schedule_from_dict(data)
    assert fragment in str(caught.value)


CLI = [
    (dict(cron="0 9 * * *"), CronSchedule("0 9 * * *")),
    (dict(cron="0 9 * * *", timezone="Europe/Paris"), CronSchedule("0 9 * * *", "Europe/Paris")),
    (dict(interval="90"), IntervalSchedule(90)),
    (dict(interval="5m"), IntervalSchedule(300)),
    (dict(interval="1h30m"), IntervalSchedule(5400)),
    (dict(interval="2d"), IntervalSchedule(172800)),
    (dict(interval=60), IntervalSchedule(60)),
    (dict(interval="1h", timezone="Asia/Kolkata"),
     IntervalSchedule(3600, timezone="Asia/Kolkata")),
    (dict(rrule="FREQ=DAILY"), RRuleSchedule("FREQ=DAILY")),
    (dict(rrule="FREQ=DAILY", timezone="Europe/Paris"),
     RRuleSchedule("FREQ=DAILY", "Europe/Paris")),
]


@pytest.mark.parametrize(("options", "expected"), CLI, ids=[repr(c[0]) for c in CLI])
def test_schedule_from_cli(options, expected):
    assert schedule_from_cli(**options) == expected


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({}, "got none"),
        (dict(cron="@daily", interval="5m"), "got --cron, --interval"),
        (dict(cron="@daily", rrule="FREQ=DAILY", interval="1m"), "exactly one"),
        (dict(interval="abc"), "invalid interval 'abc'"),
        (dict(interval="0"), "greater than zero"),
        (dict(interval="-5m"), "'-5m'"),
        (dict(cron="0 9 * * * *"), "6 fields"),
        (dict(cron="@daily", timezone="Paris"), "'Paris'"),
        (dict(rrule="DAILY"), "'DAILY' is not KEY=VALUE"),
    ],
)
def test_schedule_from_cli_errors(options, fragment):
    with pytest.raises(ScheduleError) as caught:
        schedule_from_cli(**options)
    assert fragment in str(caught.value)


DESCRIBE = [
    ("* * * * *", "UTC", "every minute"),
    ("*/5 * * * *", "UTC", "every 5 minutes"),
    ("*/5 * * * *", "Europe/Paris", "every 5 minutes (Europe/Paris)"),
    ("*/7 * * * *", "UTC", "cron '*/7 * * * *' (UTC)"),
    ("0 * * * *", "UTC", "every hour"),
    ("@hourly", "UTC", "every hour"),
    ("15 * * * *", "UTC", "every hour at minute 15"),
    ("0 */2 * * *", "UTC", "every 2 hours (UTC)"),
    ("30 */6 * * *", "UTC", "every 6 hours at minute 30 (UTC)"),
    ("0 9 * * *", "UTC", "at 09:00 every day (UTC)"),
    ("@daily", "Europe/Paris", "at 00:00 every day (Europe/Paris)"),
    ("0 9 * * MON-FRI", "Europe/Paris", "at 09:00 on Monday through Friday (Europe/Paris)"),
    ("0 9 * * 1-5", "UTC", "at 09:00 on Monday through Friday (UTC)"),
    ("30 8 * * 1,3,5", "UTC", "at 08:30 on Monday, Wednesday and Friday (UTC)"),
    ("0 10 * * SAT,SUN", "UTC", "at 10:00 on Saturday and Sunday (UTC)"),
    ("0 10 * * 0", "UTC", "at 10:00 on Sunday (UTC)"),
    ("@weekly", "UTC", "at 00:00 on Sunday (UTC)"),
    ("0 9,17 * * *", "UTC", "at 09:00 and 17:00 every day (UTC)"),
    ("*/15 9-17 * * 1-5", "America/New_York",
     "every 15 minutes from 09:00 to 17:45 on Monday through Friday (America/New_York)"),
    ("0 9-17 * * *", "UTC", "every hour from 09:00 to 17:00 (UTC)"),
    ("0 0 1 * *", "UTC", "at 00:00 on day 1 of every month (UTC)"),
    ("@monthly", "UTC", "at 00:00 on day 1 of every month (UTC)"),
    ("0 6 1,15 * *", "UTC", "at 06:00 on days 1 and 15 of every month (UTC)"),
    ("0 0 1 1 *", "UTC", "at 00:00 on January 1 (UTC)"),
    ("@yearly", "UTC", "at 00:00 on January 1 (UTC)"),
    ("0 0 1 1,7 *", "UTC", "at 00:00 on day 1 of January and July (UTC)"),
    ("0 12 * 12 *", "UTC", "at 12:00 every day in December (UTC)"),
    ("0 9 * * MON", "UTC", "at 09:00 on Monday (UTC)"),
    ("0 9 * 6-8 FRI", "UTC", "at 09:00 on Friday in June, July and August (UTC)"),
    ("0 0 13 * FRI", "UTC", "cron '0 0 13 * FRI' (UTC)"),
    ("5,10,20,40,50 1,2 * * *", "UTC", "cron '5,10,20,40,50 1,2 * * *' (UTC)"),
]


@pytest.mark.parametrize(("cron", "zone", "text"), DESCRIBE, ids=[d[0] for d in DESCRIBE])
def test_describe_cron(cron, zone, text):
    assert CronSchedule(cron, zone).describe() == text


def test_describe_cron_with_end():
    clock = CronSchedule("0 9 * * *", "Europe/Paris", end=utc(2026, 6, 30, 22))
    assert clock.describe() == "at 09:00 every day, until 2026-07-01 00:00 (Europe/Paris)"


def test_import_proctor_does_not_import_schedules():
    code = (
        "import proctor, sys; "
        "assert 'proctor.schedules' not in sys.modules, 'schedules imported'; "
        "assert 'croniter' not in sys.modules and 'dateutil.rrule' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_importing_schedules_does_not_import_dateutil_until_an_rrule_is_built():
    code = (
        "import sys, proctor.schedules as s; assert 'dateutil.rrule' not in sys.modules; "
        "s.RRuleSchedule('FREQ=DAILY'); assert 'dateutil.rrule' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


REPRS = [
    (CronSchedule("@daily"), "CronSchedule('@daily', timezone='UTC')"),
    (CronSchedule("0 9 * * *", "Europe/Paris", end=utc(2027, 1, 1), parameters={"a": 1}),
     "CronSchedule('0 9 * * *', timezone='Europe/Paris', end='2027-01-01T00:00:00+00:00', "
     "parameters={'a': 1})"),
    (IntervalSchedule(5400), "IntervalSchedule('1h30m')"),
    (IntervalSchedule(0.25), "IntervalSchedule('0.25s')"),
    (IntervalSchedule("1w1d1s", timezone="Asia/Kolkata"),
     "IntervalSchedule('1w1d1s', timezone='Asia/Kolkata')"),
    (IntervalSchedule(60, anchor=utc(2026, 1, 1)),
     "IntervalSchedule('1m', anchor='2026-01-01T00:00:00+00:00')"),
    (RRuleSchedule("FREQ=DAILY"), "RRuleSchedule('FREQ=DAILY', timezone='UTC')"),
    (Schedule([IntervalSchedule(60)]), "Schedule('every minute')"),
]


@pytest.mark.parametrize(("obj", "text"), REPRS, ids=[r[1][:40] for r in REPRS])
def test_repr_is_the_constructor_call(obj, text):
    assert repr(obj) == text
