"""The scheduler service: which runs it makes (times from the schedule itself, DST included, within
the horizon, parameters overlaid), and that repeated or concurrent passes never make one twice."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from proctor import settings
from proctor.schedules import schedule_from_dict
from proctor.server.db import queries as q
from proctor.server.db.engine import Database
from proctor.server.db.models import Deployment, FlowRun
from proctor.server.services import Scheduler, Service, as_epoch

UTC = timezone.utc
#: A week before Paris springs forward (2026-03-29, 02:00 -> 03:00).
BEFORE_DST = datetime(2026, 3, 25, tzinfo=UTC)


def add_deployment(database: Database, name: str = "nightly", **values) -> Deployment:
    spec = q.DeploymentSpec(flow_name="etl", name=name, entrypoint="etl.py:etl", values=values)
    return database.transact(lambda s: q.upsert_deployment(s, spec, now=0.0))[0]


def scheduled_runs(database: Database, deployment_id: str | None = None) -> list[FlowRun]:
    with database.read() as session:
        query = select(FlowRun).where(FlowRun.auto_scheduled.is_(True))
        if deployment_id is not None:
            query = query.where(FlowRun.deployment_id == deployment_id)
        return list(session.scalars(query.order_by(FlowRun.expected_start_time)))


def test_times_are_the_schedules_own_dst_included(database: Database):
    schedule = {"kind": "cron", "cron": "30 2 * * *", "timezone": "Europe/Paris"}
    deployment = add_deployment(database, schedule=schedule, parameters={"n": 1})
    made = Scheduler(database).run_once(BEFORE_DST)
    expected = [
        run.when.timestamp()
        for run in schedule_from_dict(schedule).next_runs(100, after=BEFORE_DST)
        if run.when <= BEFORE_DST + timedelta(days=7)
    ]
    runs = scheduled_runs(database)
    assert made == len(expected) == 7
    assert [run.expected_start_time for run in runs] == expected
    spring = datetime.fromtimestamp(expected[4], UTC)
    assert (spring.day, spring.hour, spring.minute) == (29, 1, 30)  # 03:30 CEST: moved by the gap
    assert [run.idempotency_key for run in runs] == [
        f"scheduled:{deployment.id}:{int(when)}" for when in expected
    ]
    first = runs[0]
    assert (first.state_type, first.work_queue_name, first.parameters) == (
        "SCHEDULED", "default", {"n": 1},
    )
    with database.read() as session:
        assert [s.type for s in q.read_states(session, flow_run_id=first.id)] == ["SCHEDULED"]


def test_horizon_is_the_next_runs_or_the_next_days_whichever_fewer(database: Database):
    add_deployment(database, "minutely", schedule={"kind": "interval", "interval": 60})
    add_deployment(database, "weekly", schedule={"kind": "cron", "cron": "0 9 * * 1"})
    assert Scheduler(database, max_runs=100, horizon_days=7).run_once(BEFORE_DST) == 101
    by_name = {}
    with database.read() as session:
        for deployment in q.list_deployments(session):
            by_name[deployment.name] = len(scheduled_runs(database, deployment.id))
    assert by_name == {"minutely": 100, "weekly": 1}


def test_clock_parameters_overlay_the_deployments(database: Database):
    schedule = {
        "kind": "schedule",
        "clocks": [
            {"kind": "cron", "cron": "0 9 * * *", "parameters": {"region": "eu"}},
            {"kind": "cron", "cron": "0 9 * * *", "parameters": {"region": "us", "n": 2}},
        ],
    }
    deployment = add_deployment(database, schedule=schedule, parameters={"n": 1, "x": 0})
    Scheduler(database, max_runs=2).run_once(BEFORE_DST)
    runs = scheduled_runs(database)
    assert [run.parameters for run in runs] == [
        {"n": 1, "x": 0, "region": "eu"}, {"n": 2, "x": 0, "region": "us"},
    ]
    when = int(runs[0].expected_start_time)
    assert {run.idempotency_key for run in runs} == {
        f"scheduled:{deployment.id}:{when}", f"scheduled:{deployment.id}:{when}:2",
    }


def test_repeated_passes_make_only_the_missing_runs(database: Database):
    add_deployment(database, schedule={"kind": "interval", "interval": 300})
    scheduler = Scheduler(database, max_runs=10)
    now = as_epoch(BEFORE_DST)
    assert scheduler.run_once(now) == 10
    assert scheduler.run_once(now) == 0
    assert scheduler.run_once(now + 600) == 2  # two slots went by: two new ones at the end
    runs = scheduled_runs(database)
    assert len(runs) == 12 == len({run.idempotency_key for run in runs})


def test_paused_and_unscheduled_deployments_get_nothing(database: Database):
    add_deployment(database, "paused", schedule={"kind": "interval", "interval": 60}, paused=True)
    add_deployment(database, "manual")
    assert Scheduler(database).run_once(BEFORE_DST) == 0


def test_a_broken_stored_schedule_stops_only_its_deployment(
    database: Database, caplog: pytest.LogCaptureFixture
):
    broken = add_deployment(database, "broken", schedule={"kind": "interval", "interval": 60})
    add_deployment(database, "fine", schedule={"kind": "interval", "interval": 60})
    with database.write() as session:
        session.execute(
            update(Deployment).where(Deployment.id == broken.id).values(schedule={"kind": "?"})
        )
    assert Scheduler(database, max_runs=5).run_once(BEFORE_DST) == 5
    assert f"deployment {broken.id}" in caplog.text


@pytest.mark.timeout(120)
def test_concurrent_schedulers_never_make_a_run_twice(database_url: str):
    """Four schedulers over two engines (two servers on one database), all passing at the same
    instants over the same deployments."""
    databases = [Database(database_url), Database(database_url)]
    try:
        for index in range(4):
            add_deployment(databases[0], f"d{index}",
                           schedule={"kind": "interval", "interval": 60 * (index + 1)})
        schedulers = [Scheduler(databases[i % 2], max_runs=25) for i in range(4)]
        start = as_epoch(BEFORE_DST)
        for step in range(3):
            barrier = threading.Barrier(len(schedulers))

            def one_pass(
                scheduler: Scheduler,
                now: float = start + step * 3600,
                barrier: threading.Barrier = barrier,
            ) -> int:
                barrier.wait()
                return scheduler.run_once(now)

            with ThreadPoolExecutor(len(schedulers)) as pool:
                made = sum(pool.map(one_pass, schedulers))
            with databases[0].read() as session:
                total = session.scalar(select(func.count()).select_from(FlowRun))
                keys = session.scalar(select(func.count(func.distinct(FlowRun.idempotency_key))))
            assert total == keys
            if step == 0:
                assert made == total == 100
        # An hour later each deployment needs the runs of the next hour, capped at 25, once.
        assert total == 100 + 2 * (25 + 25 + 20 + 15)
    finally:
        for database in databases:
            database.dispose()


class TestTheLoop:
    def test_a_service_keeps_passing_after_a_failure_and_stops(self, database: Database):
        calls: list[float] = []

        class Flaky(Service):
            name = "flaky"

            def run_once(self, now):
                calls.append(as_epoch(now))
                if len(calls) == 1:
                    raise RuntimeError("first pass fails")

        service = Flaky(database, interval=0.01)
        service.start()
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        service.stop()
        assert len(calls) >= 3 and not service.running
        assert abs(calls[0] - time.time()) < 10

    def test_the_app_runs_the_scheduler_while_it_runs(
        self, database_url: str, monkeypatch: pytest.MonkeyPatch
    ):
        from fastapi.testclient import TestClient

        from proctor.server.api.app import create_app

        monkeypatch.setenv("PROCTOR_SCHEDULER_INTERVAL", "30")  # only a wake-up can be in time
        body = {"flow_name": "etl", "name": "live", "entrypoint": "etl.py:etl",
                "schedule": {"kind": "interval", "interval": 3600}}
        with TestClient(create_app(database_url), base_url="http://127.0.0.1") as client:
            deployment = client.post("/api/deployments", json=body).json()
            path = f"/api/deployments/{deployment['id']}/scheduled"
            deadline = time.monotonic() + 10
            while not client.get(path).json()["items"] and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(client.get(path, params={"limit": 500}).json()["items"]) == 100
            services = client.app.state.services
        assert services is not None and not any(s.running for s in services.services)


def test_naive_times_are_utc():
    assert as_epoch(datetime(2026, 1, 1)) == as_epoch(datetime(2026, 1, 1, tzinfo=UTC))
    assert as_epoch(12.5) == 12.5


@pytest.mark.parametrize(
    ("variable", "reader", "value", "expected"),
    [
        ("PROCTOR_SCHEDULER_INTERVAL", settings.scheduler_interval, "", 5.0),
        ("PROCTOR_SCHEDULER_INTERVAL", settings.scheduler_interval, "0.5", 0.5),
        ("PROCTOR_LATE_AFTER", settings.late_after, "", 60.0),
        ("PROCTOR_AGENT_TIMEOUT", settings.agent_timeout, "", 90.0),
        ("PROCTOR_SCHEDULER_HORIZON_RUNS", settings.scheduler_horizon_runs, "", 100),
        ("PROCTOR_SCHEDULER_HORIZON_RUNS", settings.scheduler_horizon_runs, "20", 20),
        ("PROCTOR_SCHEDULER_HORIZON_DAYS", settings.scheduler_horizon_days, "", 7.0),
    ],
)
def test_settings(monkeypatch, variable, reader, value, expected):
    monkeypatch.setenv(variable, value)
    assert reader() == expected


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf"])
def test_bad_settings_name_the_variable(monkeypatch, value):
    monkeypatch.setenv("PROCTOR_AGENT_TIMEOUT", value)
    with pytest.raises(ValueError, match="PROCTOR_AGENT_TIMEOUT"):
        settings.agent_timeout()
    monkeypatch.setenv("PROCTOR_SCHEDULER_HORIZON_RUNS", "2.5")
    with pytest.raises(ValueError, match="whole number"):
        settings.scheduler_horizon_runs()
