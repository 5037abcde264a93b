"""Deployments through the API: upsert, read by id and by name, pause and resume, delete, runs on
demand, upcoming runs; and what each change does to the runs the scheduler made."""

from __future__ import annotations

import json
import time

from sqlalchemy import text

from proctor.server.db import migrate
from proctor.server.db.engine import Database
from proctor.server.services import Scheduler

DEPLOYMENT_KEYS = {
    "id", "flow_id", "flow_name", "name", "description", "entrypoint", "working_directory",
    "parameters",
    "parameter_schema", "schedule", "schedule_description", "work_queue_name", "tags", "paused",
    "max_concurrent_runs", "retries", "created_at", "updated_at",
}
EVERY_5_MIN = {"kind": "interval", "interval": 300}
HOURLY_CRON = {"kind": "cron", "cron": "0 * * * *", "timezone": "Europe/Paris"}


def scheduler(client) -> Scheduler:
    return Scheduler(client.app.state.database, interval=1, max_runs=10, horizon_days=7)


def runs_of(client, deployment_id: str, **params) -> list[dict]:
    answer = client.get("/api/flow_runs", params={"deployment_id": deployment_id, "limit": 500,
                                                  **params})
    return answer.json()["items"]


def claim(client, agent_id: str, limit: int = 1, queue: str = "default") -> list[dict]:
    answer = client.post(f"/api/work_queues/{queue}/claim",
                         json={"agent_id": agent_id, "limit": limit})
    assert answer.status_code == 200, answer.text
    return answer.json()


class TestUpsert:
    def test_create_then_redeploy_updates_only_what_is_given(self, client):
        body = {
            "flow_name": "etl", "name": "nightly", "entrypoint": "flows/etl.py:etl",
            "description": "Nightly load.", "parameters": {"n": 1}, "schedule": HOURLY_CRON,
            "parameter_schema": {"parameters": [{"name": "n"}]}, "tags": ["prod"],
            "work_queue_name": "etl-queue", "max_concurrent_runs": 2, "retries": 3,
        }
        created = client.post("/api/deployments", json=body)
        assert created.status_code == 201, created.text
        deployment = created.json()
        assert set(deployment) == DEPLOYMENT_KEYS
        assert deployment["flow_name"] == "etl" and deployment["paused"] is False
        assert deployment["schedule"]["cron"] == "0 * * * *"
        assert deployment["schedule_description"] == "every hour (Europe/Paris)"
        assert (deployment["max_concurrent_runs"], deployment["retries"]) == (2, 3)
        flows = client.get("/api/flows", params={"name": "etl"}).json()["items"]
        assert [flow["id"] for flow in flows] == [deployment["flow_id"]]

        client.post(f"/api/deployments/{deployment['id']}/pause")
        again = client.post("/api/deployments", json={
            "flow_name": "etl", "name": "nightly", "entrypoint": "flows/etl2.py:etl",
            "parameters": {"n": 2}, "id": "f" * 32,
        })
        assert again.status_code == 200
        updated = again.json()
        assert updated["id"] == deployment["id"]  # the id of an update is ignored
        assert updated["entrypoint"] == "flows/etl2.py:etl" and updated["parameters"] == {"n": 2}
        assert updated["paused"] is True  # not given: an operator's pause survives a re-deploy
        assert updated["schedule"] == deployment["schedule"]
        assert updated["work_queue_name"] == "etl-queue" and updated["retries"] == 3
        removed = client.post("/api/deployments", json={**body, "schedule": None})
        assert removed.json()["schedule"] is None
        assert removed.json()["schedule_description"] == ""

    def test_the_working_directory_goes_with_the_entrypoint(self, client):
        body = {"flow_name": "etl", "name": "mine", "entrypoint": "flows.py:etl",
                "working_directory": "/home/ann/myproj"}
        first = client.post("/api/deployments", json=body).json()
        assert first["working_directory"] == "/home/ann/myproj"
        windows = client.post("/api/deployments", json={
            **body, "working_directory": "C:\\Users\\ann\\myproj"}).json()
        assert windows["working_directory"] == "C:\\Users\\ann\\myproj"
        # A re-deploy that names no folder (an entrypoint absolute, or relative to the agent)
        # does not keep the old folder for a new entrypoint.
        moved = client.post("/api/deployments", json={
            "flow_name": "etl", "name": "mine", "entrypoint": "/srv/flows.py:etl"}).json()
        assert moved["working_directory"] is None
        for relative in ("myproj", "./myproj", ""):
            refused = client.post("/api/deployments", json={**body, "working_directory": relative})
            assert refused.status_code == 422, relative

    def test_read_by_id_by_name_and_list(self, client, deploy):
        nightly = deploy()
        hourly = deploy(name="hourly")
        other = deploy(flow_name="report", name="daily")
        assert client.get(f"/api/deployments/{nightly['id']}").json() == nightly
        assert client.get("/api/deployments/name/etl/hourly").json() == hourly
        assert client.get("/api/deployments/name/daily").json() == other
        listed = client.get("/api/deployments").json()
        assert [(d["flow_name"], d["name"]) for d in listed["items"]] == [
            ("etl", "hourly"), ("etl", "nightly"), ("report", "daily"),
        ]
        page = client.get("/api/deployments", params={"flow_name": "etl", "limit": 1,
                                                       "offset": 1}).json()
        assert [d["name"] for d in page["items"]] == ["nightly"]
        assert (page["limit"], page["offset"]) == (1, 1)

    def test_an_ambiguous_name_is_409_and_missing_ones_404(self, client, deploy, ids):
        deploy()
        deploy(flow_name="report")
        ambiguous = client.get("/api/deployments/name/nightly")
        assert ambiguous.status_code == 409
        assert ambiguous.json()["detail"]["rule"] == "ambiguous-deployment-name"
        assert "flow_name/name" in ambiguous.json()["detail"]["reason"]
        assert client.get("/api/deployments/name/report/nightly").status_code == 200
        missing = client.get("/api/deployments/name/etl/weekly")
        assert missing.status_code == 404 and "etl/weekly" in missing.json()["detail"]
        assert client.get("/api/deployments/name/weekly").status_code == 404
        unknown = ids()
        for method, path in (
            ("GET", f"/api/deployments/{unknown}"),
            ("POST", f"/api/deployments/{unknown}/pause"),
            ("POST", f"/api/deployments/{unknown}/resume"),
            ("DELETE", f"/api/deployments/{unknown}"),
            ("GET", f"/api/deployments/{unknown}/scheduled"),
            ("POST", f"/api/deployments/{unknown}/runs"),
        ):
            answer = client.request(method, path, json={} if method == "POST" else None)
            assert answer.status_code == 404, (method, path)
            assert answer.json() == {"detail": f"deployment {unknown} not found"}

    def test_a_new_deployment_cannot_take_another_ones_id(self, client, deploy):
        first = deploy()
        answer = client.post("/api/deployments", json={
            "flow_name": "etl", "name": "other", "entrypoint": "x.py:f", "id": first["id"],
        })
        assert answer.status_code == 409
        assert answer.json()["detail"]["rule"] == "deployment-id-in-use"

    def test_invalid_bodies_are_422_naming_the_problem(self, client):
        base = {"flow_name": "etl", "name": "nightly", "entrypoint": "f.py:etl"}
        bad_cron = client.post("/api/deployments",
                               json={**base, "schedule": {"kind": "cron", "cron": "61 * * * *"}})
        assert bad_cron.status_code == 422
        [problem] = bad_cron.json()["detail"]
        assert problem["loc"] == ["body", "schedule"] and "61" in problem["msg"]
        bad_kind = client.post("/api/deployments", json={**base, "schedule": {"kind": "weekly"}})
        assert "'kind' must be one of" in bad_kind.json()["detail"][0]["msg"]
        bad_zone = {"kind": "cron", "cron": "0 9 * * *", "timezone": "Mars/Olympus"}
        answer = client.post("/api/deployments", json={**base, "schedule": bad_zone})
        assert "Mars/Olympus" in answer.json()["detail"][0]["msg"]
        no_entrypoint = {"flow_name": "etl", "name": "nightly"}
        for body in (
            no_entrypoint, {**base, "max_concurrent_runs": 0}, {**base, "retries": -1},
            {**base, "name": ""}, {**base, "flow_name": "a\x00b"}, {**base, "id": "not-an-id"},
            {**base, "parameters": {"x": float("inf")}},
            {**base, "schedule": {"kind": "interval"}},
            {**base, "schedule": {"kind": "interval", "interval": {"every": 5}}},
        ):
            answer = client.post("/api/deployments", content=json.dumps(body),
                                 headers={"content-type": "application/json"})
            assert answer.status_code == 422, (body, answer.text)


class TestRunsOfADeployment:
    def test_a_run_now_overlays_parameters_and_merges_tags(self, client, deploy):
        deployment = deploy(parameters={"n": 1, "env": "prod"}, tags=["etl"],
                            work_queue_name="q1", retries=2)
        before = time.time()
        answer = client.post(f"/api/deployments/{deployment['id']}/runs",
                             json={"parameters": {"n": 5}, "tags": ["manual", "etl"]})
        assert answer.status_code == 201
        run = answer.json()
        assert run["parameters"] == {"n": 5, "env": "prod"}
        assert run["tags"] == ["etl", "manual"]
        assert run["state_type"] == "SCHEDULED" and run["work_queue_name"] == "q1"
        assert before <= run["expected_start_time"] <= time.time()
        assert (run["auto_scheduled"], run["agent_id"], run["max_retries"]) == (False, None, 2)
        assert run["deployment_id"] == deployment["id"] and run["flow_name"] == "etl"

    def test_idempotency_key_and_scheduled_time(self, client, deploy):
        deployment = deploy()
        path = f"/api/deployments/{deployment['id']}/runs"
        first = client.post(path, json={"idempotency_key": "k1", "scheduled_time": 2e9})
        second = client.post(path, json={"idempotency_key": "k1", "scheduled_time": 3e9})
        assert (first.status_code, second.status_code) == (201, 200)
        assert second.json()["id"] == first.json()["id"]
        assert first.json()["expected_start_time"] == 2e9
        bad = client.post(path, json={"scheduled_time": "soon"})
        assert bad.status_code == 422

    def test_upcoming_runs_soonest_first(self, client, deploy):
        deployment = deploy()
        path = f"/api/deployments/{deployment['id']}/runs"
        for when in (3e9, 1e9, 2e9):
            client.post(path, json={"scheduled_time": when})
        upcoming = client.get(f"/api/deployments/{deployment['id']}/scheduled",
                              params={"limit": 2}).json()
        assert [r["expected_start_time"] for r in upcoming["items"]] == [1e9, 2e9]
        assert client.get(f"/api/deployments/{deployment['id']}/scheduled",
                          params={"limit": 0}).status_code == 422


class TestChangesSettleUnstartedRuns:
    """What a pause, a re-deploy or a delete does to the runs no agent took (the rule is in
    docs/schedules.md; tests/faults/test_scheduling_faults.py drives it with a chosen clock)."""

    def test_pause_cancels_due_auto_runs_removes_future_ones_and_resume_brings_them_back(
        self, client, deploy, ids
    ):
        deployment = deploy(schedule=EVERY_5_MIN)
        now = time.time()
        assert scheduler(client).run_once(now - 3600) == 10  # the first ones are due already
        manual = client.post(f"/api/deployments/{deployment['id']}/runs", json={}).json()
        [taken] = claim(client, ids())
        assert taken["flow_run"]["auto_scheduled"] is True

        paused = client.post(f"/api/deployments/{deployment['id']}/pause")
        assert paused.status_code == 200 and paused.json()["paused"] is True
        left = {run["id"]: run["state_type"] for run in runs_of(client, deployment["id"])}
        assert left.pop(manual["id"]) == "SCHEDULED"  # made by hand: untouched
        assert left.pop(taken["flow_run"]["id"]) == "PENDING"  # an agent has it: untouched
        assert list(left.values()) == ["CANCELLED"] * 9  # due, never started: kept, cancelled
        assert scheduler(client).run_once(now) == 0  # paused: nothing is scheduled
        assert client.post(f"/api/deployments/{deployment['id']}/pause").status_code == 200

        resumed = client.post(f"/api/deployments/{deployment['id']}/resume").json()
        assert resumed["paused"] is False
        assert scheduler(client).run_once(now) == 10
        upcoming = client.get(f"/api/deployments/{deployment['id']}/scheduled").json()["items"]
        assert all(run["expected_start_time"] > now for run in upcoming if run["auto_scheduled"])

    def test_a_new_schedule_or_parameters_replace_future_runs_an_identical_one_keeps_them(
        self, client, deploy
    ):
        deployment = deploy(schedule=EVERY_5_MIN, parameters={"n": 1})
        now = time.time()
        scheduler(client).run_once(now)
        first = {run["id"] for run in runs_of(client, deployment["id"])}
        deploy(schedule=EVERY_5_MIN, parameters={"n": 1})  # the same definition again
        assert {run["id"] for run in runs_of(client, deployment["id"])} == first
        deploy(schedule=EVERY_5_MIN, parameters={"n": 2})
        assert runs_of(client, deployment["id"]) == []
        scheduler(client).run_once(now)
        assert {run["parameters"]["n"] for run in runs_of(client, deployment["id"])} == {2}
        deploy(schedule=HOURLY_CRON, parameters={"n": 2})
        scheduler(client).run_once(now)
        times = [run["expected_start_time"] for run in runs_of(client, deployment["id"])]
        assert len(times) == 10 and all(t % 3600 == 0 for t in times)

    def test_delete_cancels_unstarted_runs_and_keeps_history(self, client, deploy, ids):
        deployment = deploy()
        path = f"/api/deployments/{deployment['id']}/runs"
        due = client.post(path, json={"scheduled_time": time.time() - 10}).json()
        [taken] = claim(client, ids())
        assert taken["flow_run"]["id"] == due["id"]
        waiting = client.post(path, json={"scheduled_time": 3e9}).json()
        assert client.delete(f"/api/deployments/{deployment['id']}").status_code == 204
        assert client.get(f"/api/deployments/{deployment['id']}").status_code == 404
        cancelled = client.get(f"/api/flow_runs/{waiting['id']}").json()
        assert cancelled["state_type"] == "CANCELLED"
        assert cancelled["state"]["message"].startswith("deployment deleted at ")
        assert client.get(f"/api/flow_runs/{due['id']}").json()["state_type"] == "PENDING"
        assert client.delete(f"/api/deployments/{deployment['id']}").status_code == 404


def test_deployments_made_before_revision_0002_get_their_flow_name(database: Database):
    """Upgrading over data written at revision 0001 fills the new columns."""
    migrate.downgrade(database, "0001")
    try:
        with database.write() as session:
            session.execute(text(
                "INSERT INTO flows (id, name, description, tags, created_at, updated_at) "
                "VALUES ('f0000000000000000000000000000000', 'old', '', '[]', 1, 1)"
            ))
            session.execute(text(
                "INSERT INTO deployments (id, flow_id, name, description, entrypoint, "
                "parameters, schedule, work_queue_name, tags, paused, created_at, updated_at) "
                "VALUES ('d0000000000000000000000000000000', 'f0000000000000000000000000000000',"
                " 'nightly', '', 'x.py:f', '{}', 'null', 'default', '[]', false, 1, 1)"
            ))
    finally:
        migrate.upgrade(database)
    with database.read() as session:
        row = session.execute(text(
            "SELECT flow_name, retries, schedule_description, max_concurrent_runs, "
            "schedule IS NULL FROM deployments"
        )).one()
    assert tuple(row) == ("old", 0, "", None, True)


def test_new_routes_check_ids_and_the_api_key(make_client):
    client = make_client(PROCTOR_API_KEY="k")
    for method, path in (
        ("GET", "/api/deployments"),
        ("POST", "/api/agents/heartbeat"),
        ("POST", "/api/work_queues/default/claim"),
        ("GET", "/api/concurrency_limits"),
    ):
        assert client.request(method, path, json={}).status_code == 401, path
    headers = {"Authorization": "Bearer k"}
    for method, path in (
        ("GET", "/api/deployments/not-an-id"),
        ("POST", "/api/deployments/ABC/pause"),
        ("POST", "/api/flow_runs/xyz/cancel"),
    ):
        answer = client.request(method, path, headers=headers)
        assert answer.status_code == 422, path
        assert answer.json()["detail"][0]["loc"][0] == "path"
