"""The reaper service, driven with explicit times: overdue runs become LATE; runs of agents that
went silent become CRASHED (their slots freed) and are scheduled again while retries remain."""

from __future__ import annotations

import time

from sqlalchemy import update

from proctor.server.db.models import FlowRun
from proctor.server.services import Reaper


def reaper(client) -> Reaper:
    return Reaper(client.app.state.database, interval=1, late_after=60, agent_timeout=90)


def run_at(client, deployment: dict, when: float) -> dict:
    answer = client.post(f"/api/deployments/{deployment['id']}/runs",
                         json={"scheduled_time": when})
    assert answer.status_code == 201, answer.text
    return answer.json()


def heartbeat(client, agent_id: str) -> None:
    body = {"id": agent_id, "name": "agent", "work_queue_name": "default"}
    assert client.post("/api/agents/heartbeat", json=body).status_code == 200


def claim_one(client, agent_id: str) -> dict:
    [item] = client.post("/api/work_queues/default/claim",
                         json={"agent_id": agent_id, "limit": 1}).json()
    return item["flow_run"]


def read(client, run_id: str) -> dict:
    return client.get(f"/api/flow_runs/{run_id}").json()


def test_overdue_scheduled_runs_become_late_and_stay_claimable(client, deploy, ids):
    deployment = deploy()
    due = time.time() - 10
    run = run_at(client, deployment, due)
    later = run_at(client, deployment, due + 1000)
    assert reaper(client).run_once(due + 59)["late"] == 0
    counts = reaper(client).run_once(due + 61)
    assert counts == {"late": 1, "crashed": 0, "cancelled": 0, "rescheduled": 0}
    late = read(client, run["id"])
    assert late["state_type"] == "LATE" and "60 s" in late["state"]["message"]
    assert read(client, later["id"])["state_type"] == "SCHEDULED"
    assert reaper(client).run_once(due + 61)["late"] == 0  # already LATE
    assert claim_one(client, ids())["id"] == run["id"]


def test_a_silent_agents_runs_crash_free_their_slots_and_are_retried(client, deploy, ids):
    deployment = deploy(retries=1, parameters={"n": 3}, tags=["etl"])
    run = run_at(client, deployment, time.time() - 1)
    agent_id = ids()
    heartbeat(client, agent_id)
    claim_one(client, agent_id)
    client.post(f"/api/flow_runs/{run['id']}/state", json={"state": {"type": "RUNNING"}})
    task = client.post("/api/task_runs", json={
        "flow_run_id": run["id"], "task_key": "t", "task_name": "t", "tags": ["db"],
    }).json()
    client.post("/api/concurrency_limits", json={"tag": "db", "limit": 1})
    granted = client.post("/api/concurrency_limits/acquire",
                          json={"task_run_id": task["id"], "tags": ["db"]}).json()
    assert granted == {"granted": True}

    now = time.time()
    assert reaper(client).run_once(now + 30)["crashed"] == 0  # heartbeat still fresh
    counts = reaper(client).run_once(now + 91)
    assert counts == {"late": 0, "crashed": 1, "cancelled": 0, "rescheduled": 1}
    crashed = read(client, run["id"])
    assert crashed["state_type"] == "CRASHED" and agent_id in crashed["state"]["message"]
    assert client.get("/api/concurrency_limits").json()["items"][0]["active"] == 0

    [retry] = client.get(f"/api/deployments/{deployment['id']}/scheduled").json()["items"]
    assert retry["retry_of"] == run["id"]
    assert (retry["retry_count"], retry["max_retries"]) == (1, 1)
    assert (retry["parameters"], retry["tags"]) == ({"n": 3}, ["etl"])
    # Due one agent timeout after the crash: a run the server only inferred crashed may be
    # alive, and its agent must get the chance to stop it first (the fence).
    assert retry["expected_start_time"] == now + 91 + 90
    assert retry["name"].endswith("(retry 1)")
    assert reaper(client).run_once(now + 92)["rescheduled"] == 0  # one retry per crash

    # The retry crashes too: no retries are left. (It is due at the reaper's `now`, in the
    # future of the claim's clock: move it back.)
    second_agent = ids()
    with client.app.state.database.write() as session:
        session.execute(update(FlowRun).where(FlowRun.id == retry["id"])
                        .values(expected_start_time=time.time() - 1))
    taken = client.post("/api/work_queues/default/claim",
                        json={"agent_id": second_agent, "limit": 1}).json()
    assert [item["flow_run"]["id"] for item in taken] == [retry["id"]]
    counts = reaper(client).run_once(time.time() + 1000)
    assert (counts["crashed"], counts["rescheduled"]) == (1, 0)
    assert client.get(f"/api/deployments/{deployment['id']}/scheduled").json()["items"] == []


def test_without_retries_a_crash_is_final(client, deploy, ids):
    deployment = deploy()
    run = run_at(client, deployment, time.time() - 1)
    claim_one(client, ids())  # never heartbeats after its claim
    counts = reaper(client).run_once(time.time() + 91)
    assert (counts["crashed"], counts["rescheduled"]) == (1, 0)
    assert read(client, run["id"])["state_type"] == "CRASHED"


def test_a_silent_agents_run_whose_cancellation_was_asked_ends_cancelled(client, deploy, ids):
    run = run_at(client, deploy(retries=3), time.time() - 1)
    agent_id = ids()
    claim_one(client, agent_id)
    client.post(f"/api/flow_runs/{run['id']}/cancel")
    counts = reaper(client).run_once(time.time() + 91)
    assert counts == {"late": 0, "crashed": 0, "cancelled": 1, "rescheduled": 0}
    assert read(client, run["id"])["state_type"] == "CANCELLED"


def test_finished_runs_are_left_alone(client, deploy, ids):
    run = run_at(client, deploy(), time.time() - 1)
    claim_one(client, ids())
    client.post(f"/api/flow_runs/{run['id']}/state", json={"state": {"type": "RUNNING"}})
    client.post(f"/api/flow_runs/{run['id']}/state", json={"state": {"type": "SUCCESS"}})
    counts = reaper(client).run_once(time.time() + 10_000)
    assert counts == {"late": 0, "crashed": 0, "cancelled": 0, "rescheduled": 0}
    assert read(client, run["id"])["state_type"] == "SUCCESS"


def test_a_run_without_an_agent_lives_as_long_as_its_process_heartbeats(client, new_run):
    run = new_run(state={"type": "RUNNING"})  # recorded by flow.run(), no agent
    quiet = new_run(state={"type": "RUNNING"})  # its process never sent a heartbeat
    now = time.time()
    beat = client.post("/api/flow_runs/heartbeat", json={"flow_run_ids": [run["id"]]})
    assert beat.status_code == 200 and beat.json() == {"cancel": [], "ended": {}}
    with client.app.state.database.write() as session:  # the heartbeat came 60 s "later"
        session.execute(update(FlowRun).where(FlowRun.id == run["id"])
                        .values(heartbeat_at=now + 60))
    counts = reaper(client).run_once(now + 100)
    assert counts == {"late": 0, "crashed": 1, "cancelled": 0, "rescheduled": 0}
    assert read(client, run["id"])["state_type"] == "RUNNING"
    silent = read(client, quiet["id"])
    assert silent["state_type"] == "CRASHED"
    assert "never sent a heartbeat" in silent["state"]["message"]

    assert reaper(client).run_once(now + 200)["crashed"] == 1
    crashed = read(client, run["id"])
    assert crashed["state_type"] == "CRASHED"
    assert "no heartbeat since" in crashed["state"]["message"]
    assert "(140 s ago" in crashed["state"]["message"]
    # The process, if it is alive after all, learns that the server ended its run.
    beat = client.post("/api/flow_runs/heartbeat", json={"flow_run_ids": [run["id"]]}).json()
    assert beat == {"cancel": [], "ended": {run["id"]: "CRASHED"}}


def test_the_grace_after_a_start_counts_from_the_first_request_answered(database_url):
    """The app starts its services before it listens: heartbeats can arrive only once it
    answers, so the reaper's grace after a (re)start counts from the first request."""
    from fastapi.testclient import TestClient

    from proctor.server.api.app import create_app

    app = create_app(database_url, services=True)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        reaper = next(s for s in app.state.services.services if s.name == "reaper")
        started = reaper.awake_since
        time.sleep(0.05)
        assert client.get("/api/health").status_code == 200
        first = reaper.awake_since
        assert first > started  # moved to the first request
        client.get("/api/health")
        assert reaper.awake_since == first  # once only
        assert not reaper.judges_silence(first + reaper.agent_timeout - 0.01)
        assert reaper.judges_silence(first + reaper.agent_timeout)
