"""The API's routes for flows, flow runs, task runs and states, through FastAPI's test client."""

from __future__ import annotations

import pytest

STATE_KEYS = {
    "id", "type", "name", "message", "timestamp", "started_at", "ended_at", "flow_run_id",
    "task_run_id", "forced",
}
FLOW_RUN_KEYS = {
    "id", "flow_id", "flow_name", "name", "parameters", "tags", "deployment_id",
    "idempotency_key", "state", "state_type", "start_time", "end_time", "created_at",
    "updated_at", "work_queue_name", "expected_start_time", "auto_scheduled", "agent_id",
    "heartbeat_at",
    "cancel_requested", "retry_of", "retry_count", "max_retries",
}
TASK_RUN_KEYS = {
    "id", "flow_run_id", "task_key", "task_name", "map_index", "tags", "state", "state_type",
    "start_time", "end_time", "attempts", "created_at", "upstream",
}


def set_state(client, run_id: str, type_: str, *, task: bool = False, **extra):
    kind = "task_runs" if task else "flow_runs"
    force = extra.pop("force", False)
    return client.post(
        f"/api/{kind}/{run_id}/state", json={"state": {"type": type_, **extra}, "force": force}
    )


class TestFlows:
    def test_upsert_list_read(self, client):
        created = client.post("/api/flows", json={"name": "etl", "tags": ["a"]})
        assert created.status_code == 201
        flow = created.json()
        assert set(flow) == {"id", "name", "description", "tags", "created_at"}
        again = client.post("/api/flows", json={"name": "etl", "description": "Nightly."})
        assert again.status_code == 200 and again.json()["id"] == flow["id"]
        assert again.json()["description"] == "Nightly." and again.json()["tags"] == ["a"]
        client.post("/api/flows", json={"name": "another"})
        listed = client.get("/api/flows", params={"limit": 1}).json()
        assert listed["limit"] == 1 and listed["offset"] == 0
        assert [f["name"] for f in listed["items"]] == ["another"]
        assert [f["id"] for f in client.get("/api/flows", params={"name": "etl"}).json()["items"]]\
            == [flow["id"]]
        assert client.get(f"/api/flows/{flow['id']}").json() == again.json()

    def test_read_missing_flow(self, client, ids):
        missing = ids()
        response = client.get(f"/api/flows/{missing}")
        assert response.status_code == 404
        assert response.json() == {"detail": f"flow {missing} not found"}


class TestFlowRuns:
    def test_create_with_flow_name_creates_the_flow(self, client, ids):
        run_id = ids()
        response = client.post(
            "/api/flow_runs",
            json={
                "id": run_id, "flow_name": "etl", "parameters": {"n": 3, "xs": [1.5, None]},
                "tags": ["nightly"], "state": {"type": "SCHEDULED", "message": "at 9"},
            },
        )
        assert response.status_code == 201
        run = response.json()
        assert set(run) == FLOW_RUN_KEYS and run["id"] == run_id
        assert run["parameters"] == {"n": 3, "xs": [1.5, None]}
        assert run["state_type"] == "SCHEDULED" and set(run["state"]) == STATE_KEYS
        assert run["state"]["message"] == "at 9" and run["state"]["name"] == "Scheduled"
        flows = client.get("/api/flows", params={"name": "etl"}).json()["items"]
        assert [f["id"] for f in flows] == [run["flow_id"]]
        assert client.get(f"/api/flow_runs/{run_id}").json() == run

    def test_same_id_twice_is_one_run(self, client, new_run, ids):
        run_id = ids()
        first = new_run(id=run_id)
        response = client.post("/api/flow_runs", json={"id": run_id, "flow_name": "etl"})
        assert response.status_code == 200 and response.json()["id"] == first["id"]
        assert client.get("/api/flow_runs/count").json() == {"count": 1}

    def test_idempotency_key_per_flow(self, client, new_run):
        first = new_run(idempotency_key="2025-01-01T09:00")
        response = client.post(
            "/api/flow_runs",
            json={"flow_id": first["flow_id"], "idempotency_key": "2025-01-01T09:00"},
        )
        assert response.status_code == 200 and response.json()["id"] == first["id"]
        other = new_run(flow_name="other", idempotency_key="2025-01-01T09:00")
        assert other["id"] != first["id"]

    def test_unknown_flow_id_is_404_and_no_flow_is_422(self, client, ids):
        missing = ids()
        response = client.post("/api/flow_runs", json={"flow_id": missing})
        assert response.status_code == 404 and missing in response.json()["detail"]
        response = client.post("/api/flow_runs", json={"name": "orphan"})
        assert response.status_code == 422
        assert "flow_id or flow_name" in response.json()["detail"][0]["msg"]

    def test_filters_and_pagination(self, client, new_run):
        a = new_run(flow_name="etl", tags=["x", "y"])
        b = new_run(flow_name="etl", tags=["x"])
        c = new_run(flow_name="report", tags=["y"])
        set_state(client, a["id"], "RUNNING", timestamp=1000.0)
        set_state(client, c["id"], "RUNNING", timestamp=3000.0)
        set_state(client, c["id"], "FAILED")

        def listed(**params):
            answer = client.get("/api/flow_runs", params=params)
            assert answer.status_code == 200, answer.text
            count = client.get("/api/flow_runs/count", params=params).json()["count"]
            items = [run["id"] for run in answer.json()["items"]]
            if "limit" not in params and "offset" not in params:
                assert count == len(items)
            return items

        assert listed() == [c["id"], b["id"], a["id"]]
        assert listed(sort="created_asc") == [a["id"], b["id"], c["id"]]
        assert listed(sort="start_desc") == [c["id"], a["id"], b["id"]]
        assert listed(flow_name="etl") == [b["id"], a["id"]]
        assert listed(flow_id=c["flow_id"]) == [c["id"]]
        assert listed(state=["RUNNING", "FAILED"]) == [c["id"], a["id"]]
        assert listed(state="FAILED") == [c["id"]]
        assert listed(tag=["x", "y"]) == [a["id"]]
        assert listed(tag="y") == [c["id"], a["id"]]
        assert listed(start_after=2000.0, start_before=4000.0) == [c["id"]]
        assert listed(start_before=1500.0) == [a["id"]]
        assert listed(limit=2) == [c["id"], b["id"]]
        assert listed(limit=2, offset=2) == [a["id"]]
        page = client.get("/api/flow_runs", params={"limit": 2, "offset": 1}).json()
        assert (page["limit"], page["offset"]) == (2, 1)

    @pytest.mark.parametrize(
        "params",
        [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"state": "NOPE"}, {"sort": "name"},
         {"flow_id": "xyz"}, {"start_after": "nan"}, {"start_before": "inf"}],
    )
    def test_bad_list_params_are_422(self, client, params):
        response = client.get("/api/flow_runs", params=params)
        assert response.status_code == 422
        (problem,) = response.json()["detail"]
        assert problem["loc"][0] == "query" and problem["msg"]


class TestStates:
    def test_transition_history_and_times(self, client, new_run):
        run = new_run(state={"type": "PENDING", "timestamp": 10.0})
        running = set_state(client, run["id"], "RUNNING", timestamp=11.0)
        assert running.status_code == 201
        assert set(running.json()) == STATE_KEYS and running.json()["forced"] is False
        done = set_state(client, run["id"], "SUCCESS", timestamp=12.0, message="ok")
        assert done.status_code == 201
        current = client.get(f"/api/flow_runs/{run['id']}").json()
        assert current["state"] == done.json()
        assert (current["start_time"], current["end_time"]) == (11.0, 12.0)
        history = client.get(f"/api/flow_runs/{run['id']}/states").json()
        assert [s["type"] for s in history] == ["PENDING", "RUNNING", "SUCCESS"]

    def test_success_to_running_is_409_unless_forced(self, client, new_run):
        run = new_run(state={"type": "RUNNING"})
        set_state(client, run["id"], "SUCCESS")
        refused = set_state(client, run["id"], "RUNNING")
        assert refused.status_code == 409
        assert refused.json()["detail"]["rule"] == "finished-does-not-restart"
        assert "SUCCESS" in refused.json()["detail"]["reason"]
        forced = set_state(client, run["id"], "RUNNING", force=True)
        assert forced.status_code == 201 and forced.json()["forced"] is True
        history = client.get(f"/api/flow_runs/{run['id']}/states").json()
        assert [(s["type"], s["forced"]) for s in history] == [
            ("RUNNING", False), ("SUCCESS", False), ("RUNNING", True)
        ]

    def test_force_on_an_allowed_transition_is_not_marked_forced(self, client, new_run):
        run = new_run(state={"type": "PENDING"})
        answer = set_state(client, run["id"], "RUNNING", force=True)
        assert answer.status_code == 201 and answer.json()["forced"] is False

    @pytest.mark.parametrize("target", ["RUNNING", "SUCCESS", "SCHEDULED", "FAILED"])
    def test_leaving_cancelled_is_409(self, client, new_run, target):
        run = new_run(state={"type": "CANCELLED"})
        refused = set_state(client, run["id"], target)
        assert refused.status_code == 409
        assert refused.json()["detail"]["rule"] == "cancelled-is-final"
        assert client.get(f"/api/flow_runs/{run['id']}").json()["state_type"] == "CANCELLED"

    def test_state_with_an_id_is_idempotent(self, client, new_run, ids):
        run = new_run()
        body = {"state": {"type": "RUNNING"}, "id": ids()}
        first = client.post(f"/api/flow_runs/{run['id']}/state", json=body)
        again = client.post(f"/api/flow_runs/{run['id']}/state", json=body)
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json() == again.json()

    def test_state_of_missing_run_is_404(self, client, ids):
        missing = ids()
        for kind, noun in (("flow_runs", "flow run"), ("task_runs", "task run")):
            body = {"state": {"type": "RUNNING"}}
            response = client.post(f"/api/{kind}/{missing}/state", json=body)
            assert response.status_code == 404
            assert response.json()["detail"] == f"{noun} {missing} not found"
            assert client.get(f"/api/{kind}/{missing}/states").status_code == 404


class TestTaskRuns:
    def test_create_read_state_and_list(self, client, new_run, ids):
        run = new_run()
        task_id = ids()
        body = {"id": task_id, "flow_run_id": run["id"], "task_key": "etl.extract",
                "task_name": "extract", "map_index": 0, "tags": ["io"],
                "state": {"type": "PENDING", "timestamp": 4.0}}
        created = client.post("/api/task_runs", json=body)
        assert created.status_code == 201 and set(created.json()) == TASK_RUN_KEYS
        assert client.post("/api/task_runs", json=body).status_code == 200
        assert set_state(client, task_id, "RUNNING", task=True, timestamp=5.0).status_code == 201
        assert set_state(client, task_id, "SUCCESS", task=True, timestamp=6.0).status_code == 201
        assert set_state(client, task_id, "RUNNING", task=True).status_code == 409
        task = client.get(f"/api/task_runs/{task_id}").json()
        assert (task["state_type"], task["attempts"], task["start_time"], task["end_time"]) == (
            "SUCCESS", 1, 5.0, 6.0
        )
        assert task["state"]["task_run_id"] == task_id
        history = client.get(f"/api/task_runs/{task_id}/states").json()
        assert [s["type"] for s in history] == ["PENDING", "RUNNING", "SUCCESS"]
        assert client.get(f"/api/flow_runs/{run['id']}/states").json() == []

        for i in range(1, 4):
            client.post("/api/task_runs", json={**body, "id": ids(), "map_index": i, "state": None})
        page = client.get(f"/api/flow_runs/{run['id']}/task_runs", params={"limit": 2, "offset": 1})
        assert [t["map_index"] for t in page.json()["items"]] == [1, 2]

    def test_task_run_of_missing_flow_run_is_404(self, client, ids):
        missing = ids()
        response = client.post(
            "/api/task_runs", json={"flow_run_id": missing, "task_key": "k", "task_name": "k"}
        )
        assert response.status_code == 404 and missing in response.json()["detail"]
        assert client.get(f"/api/task_runs/{missing}").status_code == 404
        assert client.get(f"/api/flow_runs/{missing}/task_runs").status_code == 404
