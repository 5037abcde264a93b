"""The batch endpoint's fast path: a task run sent with its first state, the runs' mirrored
columns computed in memory and written once per batch, a fixed number of statements however
many items, and the same results as the single-change routes."""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from proctor.server.api import schemas
from proctor.server.api.routers import events
from proctor.server.db import queries as q
from proctor.server.db.models import StateRecord
from proctor.server.db.queries.batch import bulk_insert


def task_run(ids, run_id: str, key: str = "t", first: dict | None = None, **extra) -> dict:
    item = {"id": ids(), "flow_run_id": run_id, "task_key": key, "task_name": key, **extra}
    if first is not None:
        item["state"] = {"id": ids(), **first}
    return item


def state(ids, run_id: str, type_: str, task_run_id: str | None = None, force: bool = False,
          **extra) -> dict:
    return {"id": ids(), "flow_run_id": run_id, "task_run_id": task_run_id, "force": force,
            "state": {"type": type_, **extra}}


def history(client, task_run_id: str) -> list[tuple]:
    rows = client.get(f"/api/task_runs/{task_run_id}/states").json()
    return [(s["id"], s["type"], s["forced"]) for s in rows]


class TestFirstStateWithTheTaskRun:
    def test_recorded_as_the_first_state_and_counted(self, client, new_run, ids):
        run = new_run()
        tasks = [task_run(ids, run["id"], f"t{i}", {"type": "RUNNING", "timestamp": 2.0 + i},
                          map_index=i) for i in range(3)]
        finals = [state(ids, run["id"], "SUCCESS", t["id"], timestamp=5.0 + i)
                  for i, t in enumerate(tasks)]
        body = {"task_runs": tasks, "states": finals}
        assert client.post("/api/events", json=body).json() == {
            "accepted": 3 + 3 + 3, "duplicates": 0, "rejected": []
        }
        for i, task in enumerate(tasks):
            assert history(client, task["id"]) == [
                (task["state"]["id"], "RUNNING", False), (finals[i]["id"], "SUCCESS", False)
            ]
            read = client.get(f"/api/task_runs/{task['id']}").json()
            assert (read["state_type"], read["attempts"], read["start_time"], read["end_time"]) \
                == ("SUCCESS", 1, 2.0 + i, 5.0 + i)
        # sent again (a retry after a lost answer): every item, carried states too, a duplicate
        assert client.post("/api/events", json=body).json() == {
            "accepted": 0, "duplicates": 9, "rejected": []
        }

    def test_alone_in_its_batch(self, client, new_run, ids):
        run = new_run()
        task = task_run(ids, run["id"], first={"type": "RUNNING", "timestamp": 1.0})
        assert client.post("/api/events", json={"task_runs": [task]}).json()["accepted"] == 2
        read = client.get(f"/api/task_runs/{task['id']}").json()
        assert (read["state_type"], read["attempts"], read["start_time"]) == ("RUNNING", 1, 1.0)
        later = state(ids, run["id"], "SUCCESS", task["id"], timestamp=3.0)
        assert client.post("/api/events", json={"states": [later]}).json()["accepted"] == 1
        read = client.get(f"/api/task_runs/{task['id']}").json()
        assert (read["state_type"], read["attempts"], read["end_time"]) == ("SUCCESS", 1, 3.0)

    def test_of_an_existing_task_run_applies_as_any_state_event(self, client, new_run, ids):
        run = new_run()
        task = task_run(ids, run["id"])
        client.post("/api/events", json={"task_runs": [task]})
        task["state"] = {"id": ids(), "type": "RUNNING"}
        assert client.post("/api/events", json={"task_runs": [task]}).json() == {
            "accepted": 1, "duplicates": 1, "rejected": []
        }
        assert [t for _, t, _ in history(client, task["id"])] == ["RUNNING"]

    def test_refused_with_its_task_run(self, client, ids):
        ghost = ids()
        task = task_run(ids, ghost, first={"type": "RUNNING"})
        answer = client.post("/api/events", json={"task_runs": [task]}).json()
        assert answer["accepted"] == 0
        assert [item["id"] for item in answer["rejected"]] == [task["id"], task["state"]["id"]]
        assert "does not exist" in answer["rejected"][1]["reason"]

    def test_goes_through_the_rules(self, client, new_run, ids):
        run = new_run()
        task = task_run(ids, run["id"])
        finished = state(ids, run["id"], "SUCCESS", task["id"])
        client.post("/api/events", json={"task_runs": [task], "states": [finished]})
        task["state"] = {"id": ids(), "type": "RUNNING"}
        answer = client.post("/api/events", json={"task_runs": [task]}).json()
        assert answer["rejected"][0]["id"] == task["state"]["id"]
        assert answer["rejected"][0]["rule"] == "finished-does-not-restart"

    def test_a_reused_state_id_stays_a_duplicate(self, client, new_run, ids):
        # The first attempt does not look up the state ids of task runs the batch creates; the
        # primary key catches the reuse, and the retry counts it as a duplicate, as always.
        run = new_run()
        first = task_run(ids, run["id"], first={"type": "RUNNING"})
        client.post("/api/events", json={"task_runs": [first]})
        second = task_run(ids, run["id"])
        second["state"] = dict(first["state"])  # another (new) task run, the same state id
        assert client.post("/api/events", json={"task_runs": [second]}).json() == {
            "accepted": 1, "duplicates": 1, "rejected": []
        }
        assert history(client, second["id"]) == []
        assert [t for _, t, _ in history(client, first["id"])] == ["RUNNING"]

    def test_needs_an_id(self, client, new_run, ids):
        task = task_run(ids, new_run()["id"])
        task["state"] = {"type": "RUNNING"}
        response = client.post("/api/events", json={"task_runs": [task]})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "task_runs", 0, "state", "id"]

    def test_counts_towards_the_limit(self, client, new_run, ids):
        run = new_run()
        tasks = [task_run(ids, run["id"], first={"type": "RUNNING"}) for _ in range(5_000)]
        response = client.post("/api/events", json={"task_runs": tasks[:4_999]})
        assert response.status_code == 200 and response.json()["accepted"] == 9_998
        extra = {"task_runs": tasks[4_999:], "states": [state(ids, run["id"], "RUNNING")] * 9_999}
        response = client.post("/api/events", json=extra)
        assert response.status_code == 422
        assert "at most 10000 items, not 10001" in response.json()["detail"][0]["msg"]


# Sequences of (type, extra fields, force) applied to one run, each through the single-change
# route and through batches; both must leave the same history and the same run columns.
SEQUENCES = {
    "success": [("RUNNING", {}, False), ("SUCCESS", {}, False)],
    "retried": [("RUNNING", {}, False), ("FAILED", {}, False), ("RETRYING", {}, False),
                ("RUNNING", {}, False), ("SUCCESS", {"ended_at": 8.5}, False)],
    "given times": [("PENDING", {"started_at": 0.5}, False), ("RUNNING", {}, False),
                    ("CANCELLED", {"ended_at": 7.0}, False)],
    "refused and forced": [("RUNNING", {}, False), ("SUCCESS", {}, False),
                           ("RUNNING", {}, False), ("RUNNING", {}, True),
                           ("PAUSED", {"ended_at": 6.0}, False)],
}
RUN_FIELDS = ("state_type", "start_time", "end_time")


def _single(client, path: str, run_id: str, steps) -> None:
    for i, (type_, extra, force) in enumerate(steps):
        body = {"state": {"type": type_, "timestamp": 1.0 + i, **extra}, "force": force}
        client.post(f"{path}/{run_id}/state", json=body)


def _events(ids, flow_run_id, task_run_id, steps) -> list[dict]:
    return [state(ids, flow_run_id, type_, task_run_id, force, timestamp=1.0 + i, **extra)
            for i, (type_, extra, force) in enumerate(steps)]


def _flow_history(client, run_id: str) -> list[tuple]:
    rows = client.get(f"/api/flow_runs/{run_id}/states").json()
    return [(s["type"], s["name"], s["timestamp"], s["forced"]) for s in rows]


def _task_history(client, run_id: str) -> list[tuple]:
    rows = client.get(f"/api/task_runs/{run_id}/states").json()
    return [(s["type"], s["name"], s["timestamp"], s["forced"]) for s in rows]


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_batches_and_single_changes_agree(client, new_run, ids, name):
    steps = SEQUENCES[name]
    run = new_run()

    single = client.post("/api/task_runs", json={
        "id": ids(), "flow_run_id": run["id"], "task_key": "single", "task_name": "single",
    }).json()
    _single(client, "/api/task_runs", single["id"], steps)

    # created with its first state carried, every other state in the same batch
    one = task_run(ids, run["id"], "one")
    first, *rest = _events(ids, run["id"], one["id"], steps)
    one["state"] = {"id": first["id"], **first["state"]}  # (no sequence forces its first)
    client.post("/api/events", json={"task_runs": [one], "states": rest})

    # created in one batch, its states in later batches, one at a time: the UPDATE path
    split = task_run(ids, run["id"], "split")
    client.post("/api/events", json={"task_runs": [split]})
    for item in _events(ids, run["id"], split["id"], steps):
        client.post("/api/events", json={"states": [item]})

    reads = [client.get(f"/api/task_runs/{t}").json() for t in (single["id"], one["id"],
                                                                  split["id"])]
    expected = {field: reads[0][field] for field in (*RUN_FIELDS, "attempts")}
    expected_state = {k: reads[0]["state"][k] for k in ("type", "name", "timestamp", "forced")}
    for read in reads[1:]:
        assert {field: read[field] for field in expected} == expected
        assert {k: read["state"][k] for k in expected_state} == expected_state
    histories = [_task_history(client, t) for t in (single["id"], one["id"], split["id"])]
    assert histories[1] == histories[0] and histories[2] == histories[0]

    # the same for flow runs: single route, one batch, one batch per state
    flows = [new_run(), new_run(), new_run()]
    _single(client, "/api/flow_runs", flows[0]["id"], steps)
    client.post("/api/events", json={"states": _events(ids, flows[1]["id"], None, steps)})
    for item in _events(ids, flows[2]["id"], None, steps):
        client.post("/api/events", json={"states": [item]})
    reads = [client.get(f"/api/flow_runs/{f['id']}").json() for f in flows]
    for read in reads[1:]:
        assert {f: read[f] for f in RUN_FIELDS} == {f: reads[0][f] for f in RUN_FIELDS}
        assert read["state"]["id"] != reads[0]["state"]["id"]
        assert read["state"]["forced"] == reads[0]["state"]["forced"]
    flow_histories = [_flow_history(client, f["id"]) for f in flows]
    assert flow_histories[1] == flow_histories[0] and flow_histories[2] == flow_histories[0]


def _a_map(ids, run_id: str, n: int) -> q.Batch:
    """n task runs, each with its first state, then each one's final state (as the recorder
    sends a map)."""
    tasks = [task_run(ids, run_id, "double", {"type": "RUNNING", "timestamp": 1.0},
                      map_index=i) for i in range(n)]
    finals = [state(ids, run_id, "SUCCESS", t["id"], timestamp=2.0) for t in tasks]
    body = TypeAdapter(events.EventsIn).validate_python({"task_runs": tasks, "states": finals})
    return events._batch(body)


def test_statements_do_not_grow_with_the_batch(database, new_run, ids):
    run = new_run()
    counts = []
    statements: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    def work(session, batch):
        result = q.record_batch(session, batch)
        assert len(session.identity_map) == 0  # no ORM objects loaded
        return result

    for n in (3, 1_500):
        batch = _a_map(ids, run["id"], n)
        statements.clear()
        event.listen(database.engine, "before_cursor_execute", note)
        try:
            result = database.transact(lambda session, batch=batch: work(session, batch))
        finally:
            event.remove(database.engine, "before_cursor_execute", note)
        assert (result.accepted, result.duplicates, result.rejected) == (3 * n, 0, ())
        counts.append(len(statements))
    # PostgreSQL writes rows with COPY, on the driver's own cursor: it adds no statement here
    assert counts[0] == counts[1]


def test_runs_created_earlier_get_one_update_each(database, new_run, ids):
    run = new_run()
    batch = _a_map(ids, run["id"], 4)
    created = q.Batch(task_runs=batch.task_runs, states=batch.states[:4])
    database.transact(lambda session: q.record_batch(session, created))
    later = q.Batch(states=[*batch.states[4:], *batch.states[4:]])  # finals, sent twice
    updates: list[int] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE task_runs"):
            updates.append(len(parameters) if executemany else 1)

    event.listen(database.engine, "before_cursor_execute", note)
    try:
        result = database.transact(lambda session: q.record_batch(session, later))
    finally:
        event.remove(database.engine, "before_cursor_execute", note)
    assert (result.accepted, result.duplicates) == (4, 4)
    assert sum(updates) == 4


def test_bulk_insert_reports_a_duplicate_key_as_sqlalchemy_does(database, new_run, ids):
    run = new_run()
    row = {"id": ids(), "flow_run_id": run["id"], "task_run_id": None, "type": "RUNNING",
           "name": "Running", "message": "tab\tnew line\n back\\slash", "timestamp": 1.0,
           "started_at": None, "ended_at": None, "forced": False, "created_at": 1.0}
    database.transact(lambda session: bulk_insert(session, StateRecord.__table__, [row]))
    states = database.transact(lambda session: q.read_states(session, flow_run_id=run["id"]))
    assert [s.message for s in states] == [row["message"]]
    with pytest.raises(IntegrityError):
        database.transact(
            lambda session: bulk_insert(session, StateRecord.__table__, [row]), attempts=1
        )


def test_lean_body_types_follow_the_schemas():
    """The endpoint validates into dataclasses built from `schemas`' batch models: same fields,
    types, constraints and required fields (plus the task run's `state`)."""
    pairs = [
        (schemas.StateIn, events.BatchStateIn, {}),
        (schemas.BatchTaskRun, events.BatchTaskRunIn, {"state"}),
        (schemas.BatchState, events.BatchStateChange, set()),
        (schemas.BatchLog, events.BatchLogLine, set()),
        (schemas.BatchIn, events.EventsIn, set()),
    ]
    renamed = {"StateIn": "BatchStateIn"}
    for model, lean, added in pairs:
        expected = model.model_json_schema()
        actual = TypeAdapter(lean).json_schema()
        assert set(actual["properties"]) == set(expected["properties"]) | set(added)
        assert actual.get("required") == expected.get("required")
        for name, spec in expected["properties"].items():
            spec = {k: v for k, v in spec.items() if k != "default" or v != []}
            text = json.dumps(spec, sort_keys=True)
            for old, new in renamed.items():
                text = text.replace(f'"#/$defs/{old}"', f'"#/$defs/{new}"')
            assert json.dumps(actual["properties"][name], sort_keys=True) == text, name
