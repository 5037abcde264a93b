"""A task run's `upstream`: the task keys it waited for, which a UI needs to draw the task graph
(the server never sees the flow's code). Stored and returned through the single route and the
batch (with and without a first state), validated, and filled in for task runs recorded before
the column existed. Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from proctor.server.db import migrate
from proctor.server.db import queries as q
from proctor.server.db.engine import Database


def task_run(ids, run_id: str, key: str, **extra: Any) -> dict:
    """A batch task-run item (the same body the single route takes, with an id)."""
    return {"id": ids(), "flow_run_id": run_id, "task_key": key, "task_name": key, **extra}


def upstream_by_key(client, run_id: str) -> dict[tuple[str, int | None], list[str]]:
    """(task key, map index) -> upstream, as the flow run's task-run list returns them."""
    items = client.get(f"/api/flow_runs/{run_id}/task_runs").json()["items"]
    return {(item["task_key"], item["map_index"]): item["upstream"] for item in items}


class TestSingleRoute:
    def test_stored_and_returned(self, client, new_run, ids):
        run = new_run()
        body = task_run(ids, run["id"], "load", upstream=["transform", "audit"])
        created = client.post("/api/task_runs", json=body)
        assert created.status_code == 201
        assert created.json()["upstream"] == ["transform", "audit"]
        read = client.get(f"/api/task_runs/{body['id']}").json()
        assert read["upstream"] == ["transform", "audit"]
        assert upstream_by_key(client, run["id"]) == {("load", None): ["transform", "audit"]}

    def test_defaults_to_empty(self, client, new_run, ids):
        run = new_run()
        created = client.post("/api/task_runs", json=task_run(ids, run["id"], "extract"))
        assert created.status_code == 201 and created.json()["upstream"] == []

    def test_a_repeated_create_keeps_the_first_upstream(self, client, new_run, ids):
        run = new_run()
        body = task_run(ids, run["id"], "load", upstream=["transform"])
        assert client.post("/api/task_runs", json=body).status_code == 201
        again = client.post("/api/task_runs", json={**body, "upstream": ["other"]})
        assert again.status_code == 200 and again.json()["upstream"] == ["transform"]


class TestBatch:
    def test_with_and_without_a_first_state(self, client, new_run, ids):
        run = new_run()
        extract = task_run(ids, run["id"], "extract")
        children = [
            task_run(ids, run["id"], "transform", map_index=i, upstream=["extract"],
                     state={"id": ids(), "type": "RUNNING", "timestamp": 2.0 + i})
            for i in range(3)
        ]
        load = task_run(ids, run["id"], "load", upstream=["transform"])
        body = {"task_runs": [extract, *children, load]}
        assert client.post("/api/events", json=body).json() == {
            "accepted": 5 + 3, "duplicates": 0, "rejected": []
        }
        assert upstream_by_key(client, run["id"]) == {
            ("extract", None): [],
            ("transform", 0): ["extract"],
            ("transform", 1): ["extract"],
            ("transform", 2): ["extract"],
            ("load", None): ["transform"],
        }
        read = client.get(f"/api/task_runs/{children[1]['id']}").json()
        assert (read["upstream"], read["state_type"], read["attempts"]) == (
            ["extract"], "RUNNING", 1
        )

    def test_alone_with_its_first_state_and_in_the_same_batch_as_later_states(
        self, client, new_run, ids
    ):
        run = new_run()
        task = task_run(ids, run["id"], "report", upstream=["a", "b"],
                        state={"id": ids(), "type": "RUNNING", "timestamp": 1.0})
        final = {"id": ids(), "flow_run_id": run["id"], "task_run_id": task["id"],
                 "state": {"type": "SUCCESS", "timestamp": 2.0}}
        answer = client.post("/api/events", json={"task_runs": [task], "states": [final]})
        assert answer.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
        read = client.get(f"/api/task_runs/{task['id']}").json()
        assert (read["upstream"], read["state_type"]) == (["a", "b"], "SUCCESS")

    def test_long_keys_and_the_most_keys_allowed(self, client, new_run, ids):
        """The JSON column's encoding holds up for the largest value (COPY on PostgreSQL,
        executemany on SQLite), with text that needs escaping."""
        run = new_run()
        keys = [f'k"{i}\\\t{"é" * 10}' for i in range(999)] + ["x" * 1024]
        task = task_run(ids, run["id"], "wide", upstream=keys)
        assert client.post("/api/events", json={"task_runs": [task]}).json()["accepted"] == 1
        assert client.get(f"/api/task_runs/{task['id']}").json()["upstream"] == keys


TOO_MANY = [f"t{i}" for i in range(1001)]


@pytest.mark.parametrize(
    ("upstream", "where"),
    [
        (TOO_MANY, []),
        ([""], [0]),
        (["ok", "x" * 1025], [1]),
        (["nul \x00"], [0]),
        ([7], [0]),
        ("extract", []),
        (None, []),
    ],
    ids=["1001-keys", "empty-key", "too-long-key", "nul", "not-a-string", "not-a-list", "null"],
)
class TestRefused:
    def test_by_the_single_route(self, client, new_run, ids, upstream, where):
        run = new_run()
        body = task_run(ids, run["id"], "t", upstream=upstream)
        response = client.post("/api/task_runs", json=body)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "upstream", *where]

    def test_by_the_batch(self, client, new_run, ids, upstream, where):
        run = new_run()
        items = [task_run(ids, run["id"], "fine"), task_run(ids, run["id"], "t", upstream=upstream)]
        response = client.post("/api/events", json={"task_runs": items})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "task_runs", 1, "upstream", *where]
        listed = client.get(f"/api/flow_runs/{run['id']}/task_runs").json()["items"]
        assert listed == []  # nothing of a refused batch is stored


def test_task_runs_recorded_before_revision_0003_get_an_empty_upstream(database: Database):
    """Upgrading over task runs written at revision 0002 fills the new column with []."""
    migrate.downgrade(database, "0002")
    try:
        with database.write() as session:
            session.execute(text(
                "INSERT INTO flows (id, name, description, tags, created_at, updated_at) "
                "VALUES ('f0000000000000000000000000000000', 'old', '', '[]', 1, 1)"
            ))
            session.execute(text(
                "INSERT INTO flow_runs (id, flow_id, flow_name, name, parameters, tags, "
                "created_at, updated_at) VALUES ('r0000000000000000000000000000000', "
                "'f0000000000000000000000000000000', 'old', 'run', '{}', '[]', 1, 1)"
            ))
            session.execute(text(
                "INSERT INTO task_runs (id, flow_run_id, task_key, task_name, tags, attempts, "
                "created_at, updated_at) VALUES ('t0000000000000000000000000000000', "
                "'r0000000000000000000000000000000', 'extract', 'extract', '[]', 0, 1, 1)"
            ))
    finally:
        migrate.upgrade(database)
    with database.read() as session:
        run = q.read_task_run(session, "t0000000000000000000000000000000")
        assert run.upstream == []
