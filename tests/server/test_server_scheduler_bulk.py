"""The scheduler's bulk pass (chunks of deployments, one transaction each): the rows it makes are
the ones the per-run path (`create_flow_run`) made, a pass is idempotent, concurrent schedulers
make each run once, and one faulty deployment costs only its own runs."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from proctor.core.states import StateType
from proctor.server.db import queries as q
from proctor.server.db.engine import Database
from proctor.server.db.models import TABLE_NAMES, Deployment, FlowRun, StateRecord
from proctor.server.db.queries import scheduling
from proctor.server.services import Scheduler, as_epoch

NOW = as_epoch(datetime(2026, 3, 25, tzinfo=timezone.utc))
EVERY_MINUTE = {"kind": "interval", "interval": 60}


def add_deployment(
    database: Database, name: str, flow_name: str = "etl", **values: Any
) -> Deployment:
    """A deployment upserted through the queries layer (flow `flow_name`)."""
    spec = q.DeploymentSpec(flow_name=flow_name, name=name, entrypoint="etl.py:etl", values=values)
    return database.transact(lambda s: q.upsert_deployment(s, spec, now=0.0))[0]


def per_run_pass(session: Session, deployment_id: str, now: float, max_runs: int) -> int:
    """The scheduler's former path, kept here as the reference: each run through
    `create_flow_run` (ORM row, then its SCHEDULED state through `StateApplier`)."""
    deployment = session.get(Deployment, deployment_id)
    assert deployment is not None
    planned = q.plan_runs(deployment, now, max_runs=max_runs, horizon_seconds=7 * 86_400)
    for run in planned:
        q.create_flow_run(
            session,
            q.FlowRunSpec(
                flow_id=deployment.flow_id,
                parameters=run.parameters,
                tags=list(deployment.tags),
                idempotency_key=run.key,
                deployment_id=deployment.id,
                work_queue_name=deployment.work_queue_name,
                expected_start_time=run.when,
                auto_scheduled=True,
                max_retries=deployment.retries,
                state=q.StateSpec(StateType.SCHEDULED, timestamp=now),
            ),
            now=now,
        )
    return len(planned)


def stored_rows(database: Database) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Every flow run and its one state row, as plain column dicts, by idempotency key.
    JSON columns are given as their JSON text, so that key order counts as well."""
    runs_table, states_table = FlowRun.__table__, StateRecord.__table__
    with database.read() as session:
        runs = [row._asdict() for row in session.execute(select(runs_table))]
        states = {row.flow_run_id: row._asdict() for row in session.execute(select(states_table))}
        assert session.scalar(select(func.count()).select_from(states_table)) == len(runs)
    found = {}
    for run in runs:
        for column in ("parameters", "tags"):
            run[column] = json.dumps(run[column])
        found[run["idempotency_key"]] = (run, states[run["id"]])
    return found


def without_ids(run: dict[str, Any], state: dict[str, Any]) -> tuple[dict, dict]:
    """The rows less what is fresh for every run (its id, its state's id, and the name, which
    ends in the id), once checked that they hang together the way `create_flow_run` makes them."""
    assert run["name"] == f"{run['flow_name']}-{run['id'][:8]}"
    assert run["state_id"] == state["id"] and state["flow_run_id"] == run["id"]
    run = {k: v for k, v in run.items() if k not in ("id", "name", "state_id")}
    state = {k: v for k, v in state.items() if k not in ("id", "flow_run_id")}
    return run, state


def run_count(database: Database) -> tuple[int, int]:
    """(flow runs, distinct idempotency keys)."""
    with database.read() as session:
        total = session.scalar(select(func.count()).select_from(FlowRun))
        keys = session.scalar(select(func.count(func.distinct(FlowRun.idempotency_key))))
    return int(total or 0), int(keys or 0)


def test_a_bulk_pass_makes_the_rows_the_per_run_path_made(database: Database):
    deployments = [
        add_deployment(
            database,
            "rich",
            flow_name="reports",
            schedule={
                "kind": "schedule",
                "clocks": [
                    {"kind": "cron", "cron": "0 9 * * *", "parameters": {"region": "eu"}},
                    {"kind": "cron", "cron": "0 9 * * *", "parameters": {"z": 1, "region": "us"}},
                ],
            },
            parameters={"zeta": 1, "alpha": {"b": 2, "a": [1, "x"]}},
            tags=["nightly", "eu"],
            work_queue_name="reports-queue",
            retries=2,
        ),
        add_deployment(database, "plain", schedule=EVERY_MINUTE),
    ]
    for deployment in deployments:
        database.transact(lambda s, d=deployment: per_run_pass(s, d.id, NOW, 5))
    expected = {key: without_ids(*rows) for key, rows in stored_rows(database).items()}
    with database.write() as session:
        session.execute(FlowRun.__table__.delete())
    assert Scheduler(database, max_runs=5).run_once(NOW) == len(expected) == 10
    made = {key: without_ids(*rows) for key, rows in stored_rows(database).items()}
    assert made == expected
    rich = [run for run, _ in made.values() if run["deployment_id"] == deployments[0].id]
    assert rich[0]["tags"] == '["nightly", "eu"]' and rich[0]["max_retries"] == 2


def test_a_second_pass_makes_nothing_whatever_the_chunks(database: Database):
    for index in range(20):
        add_deployment(database, f"d{index}", schedule=EVERY_MINUTE)
    assert Scheduler(database, max_runs=10, chunk_size=7).run_once(NOW) == 200
    assert Scheduler(database, max_runs=10, chunk_size=7).run_once(NOW) == 0
    assert Scheduler(database, max_runs=10).run_once(NOW) == 0
    assert Scheduler(database, max_runs=10, chunk_size=3).run_once(NOW + 120) == 40
    assert run_count(database) == (240, 240)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("engines", [1, 2], ids=["one-engine", "two-engines"])
def test_concurrent_schedulers_make_each_run_once(database_url: str, engines: int):
    """Two schedulers in threads (each chunk its own session and transaction), over one engine
    or two (two servers on one database), pass at the same instants over 200 deployments."""
    databases = [Database(database_url) for _ in range(engines)]
    try:
        for index in range(200):
            add_deployment(databases[0], f"d{index}", schedule=EVERY_MINUTE)
        schedulers = [
            Scheduler(databases[i % engines], max_runs=5, chunk_size=size)
            for i, size in enumerate((16, 25))
        ]
        # Every 2 minutes, each deployment lacks its next 2 runs (5 ahead, one a minute).
        for step, expected in enumerate((1000, 400, 400)):
            barrier = threading.Barrier(len(schedulers))

            def one_pass(
                scheduler: Scheduler,
                now: float = NOW + 120 * step,
                barrier: threading.Barrier = barrier,
            ) -> int:
                barrier.wait()
                return scheduler.run_once(now)

            with ThreadPoolExecutor(len(schedulers)) as pool:
                made = sum(pool.map(one_pass, schedulers))
            assert made == expected
        assert run_count(databases[0]) == (1800, 1800)
    finally:
        for database in databases:
            database.dispose()


def test_a_key_made_meanwhile_fails_the_chunk_and_the_retry_finds_it(
    database: Database, monkeypatch: pytest.MonkeyPatch
):
    """Another writer made one of the runs after the chunk looked for existing keys: the unique
    constraint refuses the insert, `transact` retries the chunk, and the retry makes the rest."""
    deployment = add_deployment(database, "raced", schedule=EVERY_MINUTE)
    database.transact(lambda s: per_run_pass(s, deployment.id, NOW, 1))
    real = scheduling._existing_keys
    calls: list[int] = []

    def blind_once(session: Session, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
        calls.append(len(pairs))
        return set() if len(calls) == 1 else real(session, pairs)

    monkeypatch.setattr(scheduling, "_existing_keys", blind_once)
    assert Scheduler(database, max_runs=5).run_once(NOW) == 4
    assert calls == [5, 5]
    assert run_count(database) == (5, 5)


def test_a_deployment_whose_definition_changed_after_planning_is_planned_again(
    database: Database,
):
    deployment = add_deployment(database, "moving", schedule=EVERY_MINUTE, parameters={"n": 1})
    with database.read() as session:
        plans = scheduling.plan_deployments(
            session, [deployment.id], now=NOW, max_runs=3, horizon_seconds=86_400
        )
    add_deployment(database, "moving", schedule=EVERY_MINUTE, parameters={"n": 2})
    made = database.transact(
        lambda s: scheduling.schedule_deployments(
            s, [deployment.id], now=NOW, max_runs=3, horizon_seconds=86_400, plans=plans
        )
    )
    assert (made.made, made.failed) == (3, {})
    assert {run["parameters"] for run, _ in stored_rows(database).values()} == {'{"n": 2}'}


def test_a_plan_made_for_another_instant_is_not_used(database: Database):
    deployment = add_deployment(database, "late", schedule=EVERY_MINUTE)
    with database.read() as session:
        plans = scheduling.plan_deployments(
            session, [deployment.id], now=NOW, max_runs=3, horizon_seconds=86_400
        )
    database.transact(
        lambda s: scheduling.schedule_deployments(
            s, [deployment.id], now=NOW + 600, max_runs=3, horizon_seconds=86_400, plans=plans
        )
    )
    with database.read() as session:
        times = sorted(session.scalars(select(FlowRun.expected_start_time)))
    assert times == [NOW + 660, NOW + 720, NOW + 780]


def test_a_broken_stored_schedule_does_not_stop_its_chunk(
    database: Database, caplog: pytest.LogCaptureFixture
):
    ids = [add_deployment(database, f"d{i}", schedule=EVERY_MINUTE).id for i in range(5)]
    broken = ids[2]
    with database.write() as session:
        session.execute(
            update(Deployment).where(Deployment.id == broken).values(schedule={"kind": "?"})
        )
    assert Scheduler(database, max_runs=3).run_once(NOW) == 12
    assert f"deployment {broken}" in caplog.text
    with database.read() as session:
        query = select(FlowRun.deployment_id).distinct()
        assert set(session.scalars(query)) == set(ids) - {broken}
    with pytest.raises(Exception, match="kind"):
        database.transact(lambda s: q.schedule_deployment(s, broken, now=NOW))


def test_a_chunk_the_database_refuses_is_tried_one_deployment_at_a_time(
    database: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    ids = [add_deployment(database, f"d{i}", schedule=EVERY_MINUTE).id for i in range(4)]
    faulty = ids[1]
    real = scheduling.bulk_insert

    def refusing(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
        if any(row.get("deployment_id") == faulty for row in rows):
            raise DataError("INSERT", {}, ValueError("value too long"))
        real(session, table, rows)

    monkeypatch.setattr(scheduling, "bulk_insert", refusing)
    with caplog.at_level(logging.WARNING, "proctor.server.scheduler"):
        assert Scheduler(database, max_runs=2).run_once(NOW) == 6
    assert f"could not schedule the runs of deployment {faulty}" in caplog.text
    assert run_count(database) == (6, 6)


def test_a_deployment_another_transaction_holds_is_skipped_until_released(postgres_url: str):
    """PostgreSQL only (SQLite runs one writer at a time, so nothing is ever held beside a
    pass): `FOR UPDATE SKIP LOCKED` over the chunk; a locked deployment (a pause or re-deploy
    under way, or another scheduler) gets nothing, the others get their runs."""
    database = Database(postgres_url)
    with database.write_connection() as connection:  # the session's database, emptied
        connection.exec_driver_sql(f"TRUNCATE {', '.join(TABLE_NAMES)} CASCADE")
    try:
        held = add_deployment(database, "held", schedule=EVERY_MINUTE)
        add_deployment(database, "free", schedule=EVERY_MINUTE)
        scheduler = Scheduler(database, max_runs=3)
        with database.write() as session:
            q.read_deployment(session, held.id, lock=True)
            assert scheduler.run_once(NOW) == 3
        assert scheduler.run_once(NOW) == 3
        assert run_count(database) == (6, 6)
    finally:
        database.dispose()
