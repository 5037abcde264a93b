"""`POST /api/events` (the recorder's batch) and reading logs back."""

from __future__ import annotations

import pytest


def task_run(ids, run_id: str, key: str = "extract", **extra) -> dict:
    return {"id": ids(), "flow_run_id": run_id, "task_key": key, "task_name": key, **extra}


def state(ids, run_id: str, type_: str, task_run_id: str | None = None, **extra) -> dict:
    return {"id": ids(), "flow_run_id": run_id, "task_run_id": task_run_id,
            "state": {"type": type_, **extra}}


def log(ids, run_id: str, message: str, level: int = 20, timestamp: float = 1.0, **extra) -> dict:
    return {"id": ids(), "flow_run_id": run_id, "level": level, "logger": "proctor.task_run",
            "message": message, "timestamp": timestamp, **extra}


def test_a_whole_run_in_one_batch(client, new_run, ids):
    run = new_run()
    tasks = [task_run(ids, run["id"], f"t{i}", map_index=i) for i in range(3)]
    states = [state(ids, run["id"], "RUNNING", timestamp=1.0)]
    for i, task in enumerate(tasks):
        states += [
            state(ids, run["id"], "RUNNING", task["id"], timestamp=2.0 + i),
            state(ids, run["id"], "SUCCESS", task["id"], timestamp=3.0 + i),
        ]
    states.append(state(ids, run["id"], "SUCCESS", timestamp=9.0))
    logs = [log(ids, run["id"], f"line {i}", timestamp=float(i)) for i in range(5)]
    body = {"task_runs": tasks, "states": states, "logs": logs}

    answer = client.post("/api/events", json=body)
    assert answer.status_code == 200
    assert answer.json() == {"accepted": 3 + 8 + 5, "duplicates": 0, "rejected": []}
    again = client.post("/api/events", json=body)
    assert again.json() == {"accepted": 0, "duplicates": 16, "rejected": []}

    current = client.get(f"/api/flow_runs/{run['id']}").json()
    assert (current["state_type"], current["start_time"], current["end_time"]) == (
        "SUCCESS", 1.0, 9.0
    )
    task_list = client.get(f"/api/flow_runs/{run['id']}/task_runs").json()["items"]
    assert [(t["task_key"], t["state_type"], t["attempts"]) for t in task_list] == [
        ("t0", "SUCCESS", 1), ("t1", "SUCCESS", 1), ("t2", "SUCCESS", 1)
    ]
    history = client.get(f"/api/task_runs/{tasks[1]['id']}/states").json()
    assert [s["id"] for s in history] == [states[3]["id"], states[4]["id"]]


def test_duplicates_within_one_batch_count_once(client, new_run, ids):
    run = new_run()
    same_log = log(ids, run["id"], "twice")
    same_state = state(ids, run["id"], "RUNNING")
    body = {"states": [same_state, same_state], "logs": [same_log, same_log]}
    assert client.post("/api/events", json=body).json() == {
        "accepted": 2, "duplicates": 2, "rejected": []
    }


def test_rejections_are_listed_and_the_rest_applies(client, new_run, ids):
    run = new_run(state={"type": "RUNNING"})
    ghost = ids()
    other = new_run()
    foreign_task = task_run(ids, other["id"])
    client.post("/api/events", json={"task_runs": [foreign_task]})
    body = {
        "task_runs": [task_run(ids, ghost)],
        "states": [
            state(ids, run["id"], "SUCCESS"),
            state(ids, run["id"], "RUNNING"),  # refused: the run finished
            state(ids, ghost, "RUNNING"),  # no such flow run
            state(ids, run["id"], "RUNNING", ids()),  # no such task run
            state(ids, run["id"], "RUNNING", foreign_task["id"]),  # another run's task
            state(ids, run["id"], "RUNNING", force=False) | {"force": True},  # forced: applies
        ],
        "logs": [log(ids, ghost, "lost"), log(ids, run["id"], "kept")],
    }
    answer = client.post("/api/events", json=body).json()
    assert answer["accepted"] == 3 and answer["duplicates"] == 0
    rejected = {item["id"]: item for item in answer["rejected"]}
    assert list(rejected) == [
        body["task_runs"][0]["id"], *[s["id"] for s in body["states"][1:5]], body["logs"][0]["id"]
    ]
    assert rejected[body["states"][1]["id"]]["rule"] == "finished-does-not-restart"
    assert "does not exist" in rejected[body["states"][2]["id"]]["reason"]
    assert "belongs to flow run" in rejected[body["states"][4]["id"]]["reason"]
    history = client.get(f"/api/flow_runs/{run['id']}/states").json()
    assert [(s["type"], s["forced"]) for s in history] == [
        ("RUNNING", False), ("SUCCESS", False), ("RUNNING", True)
    ]


def test_limit_of_ten_thousand_items(client, new_run, ids):
    run = new_run()
    logs = [log(ids, run["id"], "x", timestamp=float(i)) for i in range(10_000)]
    answer = client.post("/api/events", json={"logs": logs})
    assert answer.status_code == 200 and answer.json()["accepted"] == 10_000
    too_many = {"logs": logs[:5_000], "states": [state(ids, run["id"], "RUNNING")] * 5_001}
    response = client.post("/api/events", json=too_many)
    assert response.status_code == 422
    assert "at most 10000 items" in response.json()["detail"][0]["msg"]


def test_invalid_items_make_the_batch_422(client, new_run, ids):
    run = new_run()
    bad = log(ids, run["id"], "nul \x00 byte")
    response = client.post("/api/events", json={"logs": [bad]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "logs", 0, "message"]


class TestLogs:
    @pytest.fixture
    def run_with_logs(self, client, new_run, ids):
        run = new_run()
        task = task_run(ids, run["id"])
        levels = [10, 20, 30, 40, 50, 20]
        logs = [
            log(ids, run["id"], f"message {i} {'Disk full' if i == 3 else 'ok'}", level,
                timestamp=100.0 + i, task_run_id=task["id"] if i % 2 else None)
            for i, level in enumerate(levels)
        ]
        client.post("/api/events", json={"task_runs": [task], "logs": logs})
        return run["id"], task["id"]

    def test_read_back_oldest_first_with_names(self, client, run_with_logs):
        run_id, _ = run_with_logs
        items = client.get(f"/api/flow_runs/{run_id}/logs").json()["items"]
        assert [i["level_name"] for i in items] == [
            "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "INFO"
        ]
        assert set(items[0]) == {
            "id", "seq", "flow_run_id", "task_run_id", "level", "level_name", "logger",
            "message", "timestamp",
        }

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"level": "WARNING"}, [2, 3, 4]),
            ({"level": "error"}, [3, 4]),
            ({"level": 40}, [3, 4]),
            ({"after": 103.0}, [4, 5]),
            ({"search": "disk FULL"}, [3]),
            ({"limit": 2, "offset": 2}, [2, 3]),
            ({"limit": 1000}, [0, 1, 2, 3, 4, 5]),
        ],
    )
    def test_filters_and_paging(self, client, run_with_logs, params, expected):
        run_id, _ = run_with_logs
        items = client.get(f"/api/flow_runs/{run_id}/logs", params=params).json()["items"]
        assert [int(i["message"].split()[1]) for i in items] == expected

    def test_task_run_filter(self, client, run_with_logs):
        run_id, task_id = run_with_logs
        params = {"task_run_id": task_id}
        items = client.get(f"/api/flow_runs/{run_id}/logs", params=params).json()["items"]
        assert [int(i["message"].split()[1]) for i in items] == [1, 3, 5]

    @pytest.mark.parametrize(
        "params", [{"level": "LOUD"}, {"level": "-1"}, {"limit": 1001}, {"after": "inf"}]
    )
    def test_bad_params(self, client, run_with_logs, params):
        run_id, _ = run_with_logs
        response = client.get(f"/api/flow_runs/{run_id}/logs", params=params)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][0] == "query"

    def test_logs_of_missing_run_are_404(self, client, ids):
        assert client.get(f"/api/flow_runs/{ids()}/logs").status_code == 404
