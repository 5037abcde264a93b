"""Tag concurrency limits through the API: create or change, list with slots in use, delete, and
slots taken all or nothing (also by many task runs at once) and given back."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest


@pytest.fixture
def task_run(client, new_run):
    """task_run() -> the id of a new task run (of a new flow run)."""

    def create() -> str:
        run = new_run()
        body = {"flow_run_id": run["id"], "task_key": "t", "task_name": "t"}
        return client.post("/api/task_runs", json=body).json()["id"]

    return create


def acquire(client, task_run_id: str, tags: list[str]) -> bool:
    answer = client.post("/api/concurrency_limits/acquire",
                         json={"task_run_id": task_run_id, "tags": tags})
    assert answer.status_code == 200, answer.text
    return answer.json()["granted"]


def active(client) -> dict[str, int]:
    items = client.get("/api/concurrency_limits").json()["items"]
    return {item["tag"]: item["active"] for item in items}


def test_create_change_list_delete(client):
    created = client.post("/api/concurrency_limits", json={"tag": "db", "limit": 2})
    assert created.status_code == 201
    assert created.json() == {"tag": "db", "limit": 2, "active": 0}
    changed = client.post("/api/concurrency_limits", json={"tag": "db", "limit": 5})
    assert changed.status_code == 200 and changed.json()["limit"] == 5
    client.post("/api/concurrency_limits", json={"tag": "api", "limit": 0})
    listed = client.get("/api/concurrency_limits", params={"limit": 1}).json()
    assert listed == {"items": [{"tag": "api", "limit": 0, "active": 0}], "limit": 1, "offset": 0}
    assert client.delete("/api/concurrency_limits/db").status_code == 204
    missing = client.delete("/api/concurrency_limits/db")
    assert missing.status_code == 404 and missing.json() == {
        "detail": "concurrency limit db not found"
    }
    assert [item["tag"] for item in client.get("/api/concurrency_limits").json()["items"]] == [
        "api"
    ]


def test_bad_bodies_are_422(client, ids):
    for path, body in (
        ("", {"tag": "db", "limit": -1}),
        ("", {"tag": "", "limit": 1}),
        ("", {"tag": "db"}),
        ("/acquire", {"task_run_id": "x", "tags": []}),
        ("/acquire", {"task_run_id": ids(), "tags": "db"}),
        ("/release", {}),
    ):
        answer = client.post(f"/api/concurrency_limits{path}", json=body)
        assert answer.status_code == 422, (path, body)


def test_slots_are_taken_all_or_nothing_and_given_back(client, task_run, ids):
    client.post("/api/concurrency_limits", json={"tag": "a", "limit": 1})
    client.post("/api/concurrency_limits", json={"tag": "b", "limit": 2})
    first, second = task_run(), task_run()
    assert acquire(client, first, ["a", "b", "unlimited"]) is True
    assert active(client) == {"a": 1, "b": 1}
    assert acquire(client, first, ["a", "b"]) is True  # held slots count as taken
    assert acquire(client, second, ["b", "a"]) is False
    assert active(client) == {"a": 1, "b": 1}  # the free slot of b was not taken either
    assert acquire(client, second, ["b"]) is True
    assert active(client) == {"a": 1, "b": 2}
    released = client.post("/api/concurrency_limits/release", json={"task_run_id": first})
    assert released.json() == {"released": 2}
    assert acquire(client, second, ["a", "b"]) is True
    assert active(client) == {"a": 1, "b": 1}
    again = client.post("/api/concurrency_limits/release", json={"task_run_id": ids()})
    assert again.json() == {"released": 0}
    missing = client.post("/api/concurrency_limits/acquire",
                          json={"task_run_id": ids(), "tags": ["a"]})
    assert missing.status_code == 404


def test_deleting_a_limit_drops_its_slots(client, task_run):
    client.post("/api/concurrency_limits", json={"tag": "a", "limit": 1})
    holder = task_run()
    assert acquire(client, holder, ["a"]) is True
    client.delete("/api/concurrency_limits/a")
    client.post("/api/concurrency_limits", json={"tag": "a", "limit": 1})
    assert acquire(client, task_run(), ["a"]) is True


@pytest.mark.timeout(120)
def test_many_task_runs_at_once_never_exceed_a_limit(client, task_run):
    client.post("/api/concurrency_limits", json={"tag": "db", "limit": 3})
    client.post("/api/concurrency_limits", json={"tag": "api", "limit": 5})
    runs = [task_run() for _ in range(12)]
    with ThreadPoolExecutor(6) as pool:
        granted = list(pool.map(lambda run_id: acquire(client, run_id, ["db", "api"]), runs))
    assert sum(granted) == 3
    assert active(client) == {"db": 3, "api": 3}
