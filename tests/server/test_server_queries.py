"""The query verbs, called directly on each backend: what the API is built from."""

from __future__ import annotations

import pytest

from proctor.core.states import StateType as T
from proctor.server.db import queries as q
from proctor.server.db.engine import Database
from proctor.server.db.models import FlowRun, StateRecord


def _state(database: Database, run_id: str, type_: T, **kwargs) -> q.Outcome:
    force = kwargs.pop("force", False)
    event = q.StateEvent(flow_run_id=run_id, state=q.StateSpec(type_, **kwargs), force=force)
    return database.transact(lambda s: q.set_run_state(s, event))


def _task_state(database: Database, task_run_id: str, type_: T, **kwargs) -> q.Outcome:
    spec = q.StateSpec(type_, **kwargs)
    event = q.StateEvent(flow_run_id=None, task_run_id=task_run_id, state=spec)
    return database.transact(lambda s: q.set_run_state(s, event))


def _run(database: Database, now: float | None = None, **fields) -> FlowRun:
    spec = q.FlowRunSpec(**{"flow_name": "etl", **fields})
    return database.transact(lambda s: q.create_flow_run(s, spec, now=now))[0]


class TestFlows:
    def test_upsert_finds_by_name_and_updates_given_fields(self, database: Database):
        first, created = database.transact(lambda s: q.upsert_flow(s, "etl", description="v1"))
        assert created
        again, created = database.transact(
            lambda s: q.upsert_flow(s, "etl", tags=["nightly"], now=first.created_at + 1)
        )
        assert not created and again.id == first.id
        assert again.description == "v1" and again.tags == ["nightly"]

    def test_list_and_read(self, database: Database):
        for name in ("b", "a", "c"):
            database.transact(lambda s, name=name: q.upsert_flow(s, name))
        with database.read() as s:
            assert [f.name for f in q.list_flows(s)] == ["a", "b", "c"]
            assert [f.name for f in q.list_flows(s, name="b")] == ["b"]
            assert [f.name for f in q.list_flows(s, page=q.Page(limit=1, offset=1))] == ["b"]
            with pytest.raises(q.NotFound, match="flow 0+ not found"):
                q.read_flow(s, "0" * 32)


class TestFlowRuns:
    def test_same_id_twice_makes_one_row(self, database: Database, ids):
        run_id = ids()
        first = _run(database, id=run_id, name="first")
        second, created = database.transact(
            lambda s: q.create_flow_run(s, q.FlowRunSpec(id=run_id, flow_name="etl", name="x"))
        )
        assert not created and second.id == first.id and second.name == "first"
        with database.read() as s:
            assert q.count_flow_runs(s) == 1

    def test_idempotency_key_is_per_flow(self, database: Database):
        a = _run(database, idempotency_key="9:00")
        b = _run(database, idempotency_key="9:00")
        c = _run(database, flow_name="other", idempotency_key="9:00")
        assert a.id == b.id and c.id != a.id

    def test_initial_state_and_missing_flow(self, database: Database, ids):
        run = _run(database, state=q.StateSpec(T.SCHEDULED))
        assert run.state_type == "SCHEDULED" and run.state_name == "Scheduled"
        with pytest.raises(q.NotFound, match="flow "):
            _run(database, flow_id=ids(), flow_name=None)


class TestStates:
    def test_rules_refuse_and_force_overrides(self, database: Database):
        run = _run(database)
        assert _state(database, run.id, T.RUNNING, timestamp=100.0).accepted
        assert _state(database, run.id, T.SUCCESS, timestamp=110.0).accepted
        refused = _state(database, run.id, T.RUNNING)
        assert not refused.accepted and refused.rule == "finished-does-not-restart"
        forced = _state(database, run.id, T.RUNNING, force=True, timestamp=120.0)
        assert forced.accepted and forced.row["forced"] is True
        with database.read() as s:
            history = q.read_states(s, flow_run_id=run.id)
            current = q.read_flow_run(s, run.id)
        assert [h.type for h in history] == ["RUNNING", "SUCCESS", "RUNNING"]
        assert [h.forced for h in history] == [False, False, True]
        assert current.state_type == "RUNNING" and current.state_forced
        assert current.start_time == 100.0 and current.end_time is None

    def test_cancelled_is_final(self, database: Database):
        run = _run(database)
        assert _state(database, run.id, T.CANCELLED).accepted
        for target in (T.RUNNING, T.SUCCESS, T.FAILED, T.PENDING):
            outcome = _state(database, run.id, target)
            assert not outcome.accepted and outcome.rule == "cancelled-is-final"

    def test_times_and_attempts_of_a_task_run(self, database: Database):
        run = _run(database)
        task, _ = database.transact(
            lambda s: q.create_task_run(s, q.TaskRunSpec(run.id, "extract", "extract"))
        )
        for type_, at in ((T.PENDING, 1.0), (T.RUNNING, 2.0), (T.RETRYING, 3.0), (T.RUNNING, 4.0)):
            assert _task_state(database, task.id, type_, timestamp=at).accepted
        assert _task_state(database, task.id, T.FAILED, timestamp=5.0, ended_at=5.5).accepted
        with database.read() as s:
            task = q.read_task_run(s, task.id)
            history = q.read_states(s, task_run_id=task.id)
            own = q.read_states(s, flow_run_id=run.id)
        assert (task.start_time, task.end_time, task.attempts) == (2.0, 5.5, 2)
        assert [h.type for h in history][-1] == "FAILED" and own == []

    def test_same_state_id_is_a_duplicate(self, database: Database, ids):
        run = _run(database)
        state_id = ids()
        event = q.StateEvent(flow_run_id=run.id, state=q.StateSpec(T.RUNNING), id=state_id)
        first = database.transact(lambda s: q.set_run_state(s, event))
        again = database.transact(lambda s: q.set_run_state(s, event))
        assert first.accepted and again.duplicate and again.row["id"] == state_id
        with database.read() as s:
            assert len(q.read_states(s, flow_run_id=run.id)) == 1

    def test_missing_runs(self, database: Database, ids):
        with pytest.raises(q.NotFound, match="flow run"):
            _state(database, ids(), T.RUNNING)
        with pytest.raises(q.NotFound, match="task run"):
            _task_state(database, ids(), T.RUNNING)
        with database.read() as s, pytest.raises(q.NotFound):
            q.read_states(s, flow_run_id=ids())


class TestListFilters:
    @pytest.fixture
    def runs(self, database: Database) -> dict[str, FlowRun]:
        made = {
            "a": _run(database, flow_name="etl", tags=["x", "y"], now=10.0),
            "b": _run(database, flow_name="etl", tags=["x"], now=20.0),
            "c": _run(database, flow_name="report", tags=["y"], now=30.0),
        }
        _state(database, made["a"].id, T.RUNNING, timestamp=15.0)
        _state(database, made["c"].id, T.RUNNING, timestamp=35.0)
        _state(database, made["c"].id, T.FAILED, timestamp=36.0)
        return made

    @staticmethod
    def names(database: Database, runs, **kwargs) -> list[str]:
        sort = kwargs.pop("sort", q.RunSort.CREATED_DESC)
        page = kwargs.pop("page", q.Page())
        by_id = {run.id: key for key, run in runs.items()}
        flt = q.FlowRunFilter(**kwargs)
        with database.read() as s:
            found = q.list_flow_runs(s, flt, sort=sort, page=page)
            count = q.count_flow_runs(s, flt)
        if page.offset == 0 and len(found) < page.limit:
            assert count == len(found)
        return [by_id[run.id] for run in found]

    def test_filters(self, database: Database, runs):
        assert self.names(database, runs) == ["c", "b", "a"]
        assert self.names(database, runs, flow_name="etl") == ["b", "a"]
        assert self.names(database, runs, flow_id=runs["c"].flow_id) == ["c"]
        assert self.names(database, runs, states=[T.RUNNING, T.FAILED]) == ["c", "a"]
        assert self.names(database, runs, tags=["x"]) == ["b", "a"]
        assert self.names(database, runs, tags=["x", "y"]) == ["a"]
        assert self.names(database, runs, tags=["nope"]) == []
        # start time when started (a: 15, c: 35), else creation time (b: 20)
        assert self.names(database, runs, start_after=16.0) == ["c", "b"]
        assert self.names(database, runs, start_before=20.0) == ["b", "a"]
        assert self.names(database, runs, start_after=14.0, start_before=16.0) == ["a"]

    def test_sort_and_pages(self, database: Database, runs):
        assert self.names(database, runs, sort=q.RunSort.CREATED_ASC) == ["a", "b", "c"]
        assert self.names(database, runs, sort=q.RunSort.START_DESC) == ["c", "a", "b"]
        pages = [
            self.names(database, runs, page=q.Page(limit=2, offset=offset)) for offset in (0, 2)
        ]
        assert pages == [["c", "b"], ["a"]]


class TestLogsAndBatch:
    def test_batch_then_log_filters(self, database: Database, ids):
        run = _run(database)
        task_id = ids()
        batch = q.Batch(
            task_runs=[q.TaskRunSpec(run.id, "extract", "extract", id=task_id)],
            states=[
                q.StateEvent(run.id, q.StateSpec(T.RUNNING), task_run_id=task_id, id=ids()),
                q.StateEvent(run.id, q.StateSpec(T.SUCCESS), task_run_id=task_id, id=ids()),
            ],
            logs=[
                q.LogSpec(ids(), run.id, level, f"line {i} Hello", 100.0 + i, "proctor",
                          task_id if i % 2 else None)
                for i, level in enumerate((10, 20, 30, 40))
            ],
        )
        result = database.transact(lambda s: q.record_batch(s, batch))
        assert (result.accepted, result.duplicates, result.rejected) == (7, 0, ())
        again = database.transact(lambda s: q.record_batch(s, batch))
        assert (again.accepted, again.duplicates) == (0, 7)

        def messages(**kwargs):
            page = kwargs.pop("page", q.Page())
            with database.read() as s:
                found = q.list_logs(s, q.LogFilter(run.id, **kwargs), page=page)
            return [log.message.split()[1] for log in found]

        assert messages() == ["0", "1", "2", "3"]
        assert messages(min_level=30) == ["2", "3"]
        assert messages(task_run_id=task_id) == ["1", "3"]
        assert messages(after=101.0) == ["2", "3"]
        assert messages(search="LINE 2") == ["2"]
        assert messages(search="%") == []  # wildcards are literal
        assert messages(page=q.Page(limit=2, offset=1)) == ["1", "2"]

    def test_batch_rejections(self, database: Database, ids):
        run = _run(database)
        ghost = ids()
        done = ids()
        batch = q.Batch(
            task_runs=[q.TaskRunSpec(ghost, "t", "t", id=ids())],
            states=[
                q.StateEvent(run.id, q.StateSpec(T.SUCCESS), id=done),
                q.StateEvent(run.id, q.StateSpec(T.RUNNING), id=ids()),
                q.StateEvent(ghost, q.StateSpec(T.RUNNING), id=ids()),
            ],
            logs=[q.LogSpec(ids(), ghost, 20, "lost", 1.0)],
        )
        result = database.transact(lambda s: q.record_batch(s, batch))
        assert result.accepted == 1
        reasons = [r.reason for r in result.rejected]
        assert len(reasons) == 4
        assert "does not exist" in reasons[0]
        assert result.rejected[1].rule == "finished-does-not-restart"
        with database.read() as s:
            assert [h.id for h in q.read_states(s, flow_run_id=run.id)] == [done]


class TestConcurrencySlots:
    def test_limit_is_respected_and_release_frees(self, database: Database):
        run = _run(database)
        tasks = [
            database.transact(
                lambda s, i=i: q.create_task_run(s, q.TaskRunSpec(run.id, f"t{i}", "t"))
            )[0]
            for i in range(3)
        ]
        database.transact(lambda s: q.set_concurrency_limit(s, "db", 2))

        def take(task):
            return database.transact(lambda s: q.acquire_concurrency_slots(s, task.id, ["db", "x"]))

        assert [take(t) for t in tasks] == [True, True, False]
        assert take(tasks[0])  # already held
        assert database.transact(lambda s: q.release_concurrency_slots(s, tasks[0].id)) == 1
        assert take(tasks[2])


def test_metrics_counts(database: Database):
    _state(database, _run(database).id, T.RUNNING)
    _run(database)
    with database.read() as s:
        counts = q.count_runs_by_state(s)
    assert counts == {"flow_runs": {"RUNNING": 1, "NONE": 1}, "task_runs": {}}


def test_history_rows_are_typed_like_the_contract(database: Database):
    run = _run(database, state=q.StateSpec(T.PENDING, message="queued", timestamp=5.0))
    with database.read() as s:
        (row,) = s.query(StateRecord).all()
    assert row.flow_run_id == run.id and row.task_run_id is None
    assert (row.type, row.name, row.message, row.timestamp) == ("PENDING", "Pending", "queued", 5.0)


@pytest.mark.parametrize(
    ("flt", "index"),
    [
        (q.FlowRunFilter(), "ix_flow_runs_created_at"),
        (q.FlowRunFilter(flow_name="etl"), "ix_flow_runs_flow_id_created_at"),
        (q.FlowRunFilter(flow_id="0" * 32, states=[T.FAILED]), "ix_flow_runs_"),
        (q.FlowRunFilter(states=[T.FAILED]), "ix_flow_runs_state_type_created_at"),
    ],
)
def test_run_lists_read_through_an_index(sqlite_template, tmp_path, flt, index):
    """The page of 50 comes from an index walk, never from sorting the whole table (SQLite's
    plan; the figures for 100,000 runs on both backends are in the server's notes)."""
    import shutil

    from sqlalchemy import select

    from proctor.server.db.queries.flow_runs import _ORDERS, _filter_clauses

    path = tmp_path / "plan.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    try:
        with database.read() as s:
            query = (
                select(FlowRun)
                .where(*_filter_clauses(s, flt))
                .order_by(*_ORDERS[q.RunSort.CREATED_DESC])
                .limit(50)
            )
            sql = str(query.compile(s.get_bind(), compile_kwargs={"literal_binds": True}))
            rows = s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            plan = [row[-1] for row in rows]
    finally:
        database.dispose()
    assert any(f"USING INDEX {index}" in step for step in plan), plan
    assert not any(step.startswith("USE TEMP B-TREE FOR ORDER BY") for step in plan), plan
