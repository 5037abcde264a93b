"""Agents through the API: heartbeats, the claim of due runs (atomic under concurrency, within a
deployment's run limit), release, and cancellation both before and after an agent took a run."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, update

from proctor.core.states import StateType as T
from proctor.server.db import queries as q
from proctor.server.db.engine import Database
from proctor.server.db.models import Agent, StateRecord

AGENT_KEYS = {"id", "name", "work_queue_name", "labels", "last_heartbeat", "status"}


def heartbeat(client, agent_id: str, **fields) -> dict:
    body = {"id": agent_id, "name": "agent-1", "work_queue_name": "default", **fields}
    answer = client.post("/api/agents/heartbeat", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def claim(client, agent_id: str, limit: int = 10, queue: str = "default") -> list[dict]:
    answer = client.post(f"/api/work_queues/{queue}/claim",
                         json={"agent_id": agent_id, "limit": limit})
    assert answer.status_code == 200, answer.text
    return answer.json()


def run_now(client, deployment: dict, **body) -> dict:
    body.setdefault("scheduled_time", time.time() - 1)
    answer = client.post(f"/api/deployments/{deployment['id']}/runs", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def set_state(client, run_id: str, type_: str) -> None:
    answer = client.post(f"/api/flow_runs/{run_id}/state", json={"state": {"type": type_}})
    assert answer.status_code == 201, answer.text


class TestHeartbeat:
    def test_creates_then_refreshes_the_agent(self, client, ids):
        agent_id = ids()
        first = heartbeat(client, agent_id, labels=["gpu"])
        assert {"agent", "cancel"} <= set(first) and first["cancel"] == []
        assert set(first["agent"]) == AGENT_KEYS and first["agent"]["status"] == "online"
        second = heartbeat(client, agent_id, name="renamed", work_queue_name="q2")
        assert second["agent"]["last_heartbeat"] >= first["agent"]["last_heartbeat"]
        assert (second["agent"]["name"], second["agent"]["labels"]) == ("renamed", [])
        agents = client.get("/api/agents").json()
        assert [a["id"] for a in agents["items"]] == [agent_id]
        assert agents["items"][0]["work_queue_name"] == "q2"

    def test_an_agent_silent_for_longer_than_the_timeout_is_offline(self, client, ids):
        alive, silent = ids(), ids()
        heartbeat(client, alive, name="a")
        heartbeat(client, silent, name="b")
        with client.app.state.database.write() as session:
            old = time.time() - 91  # PROCTOR_AGENT_TIMEOUT defaults to 90 s
            session.execute(update(Agent).where(Agent.id == silent).values(last_heartbeat=old))
        status = {a["id"]: a["status"] for a in client.get("/api/agents").json()["items"]}
        assert status == {alive: "online", silent: "offline"}

    def test_bad_heartbeats_are_422(self, client, ids):
        for body in ({"id": "x", "name": "a", "work_queue_name": "q"},
                     {"id": ids(), "work_queue_name": "q"},
                     {"id": ids(), "name": "a", "work_queue_name": "q", "labels": "gpu"}):
            assert client.post("/api/agents/heartbeat", json=body).status_code == 422


class TestClaim:
    def test_claims_due_runs_of_the_queue_oldest_first(self, client, deploy, ids):
        deployment = deploy(parameters={"n": 1})
        other_queue = deploy(name="other", work_queue_name="elsewhere")
        now = time.time()
        later = run_now(client, deployment, scheduled_time=now - 5)
        sooner = run_now(client, deployment, scheduled_time=now - 50)
        run_now(client, deployment, scheduled_time=now + 3600)  # not due yet
        run_now(client, other_queue)
        agent_id = ids()
        taken = claim(client, agent_id, limit=10)
        assert [item["flow_run"]["id"] for item in taken] == [sooner["id"], later["id"]]
        first = taken[0]
        assert set(first) == {"flow_run", "deployment"}
        assert first["deployment"] == client.get(f"/api/deployments/{deployment['id']}").json()
        assert first["flow_run"]["state_type"] == "PENDING"
        assert first["flow_run"]["agent_id"] == agent_id
        states = client.get(f"/api/flow_runs/{sooner['id']}/states").json()
        assert [s["type"] for s in states] == ["SCHEDULED", "PENDING"]
        # The claim counted as a heartbeat of an agent the server had not heard of.
        [agent] = client.get("/api/agents").json()["items"]
        assert (agent["id"], agent["name"], agent["status"]) == (agent_id, agent_id, "online")
        assert claim(client, ids()) == []

    def test_late_runs_are_claimable_and_the_limit_is_kept(self, client, deploy, ids):
        deployment = deploy()
        runs = [run_now(client, deployment) for _ in range(3)]
        set_state(client, runs[0]["id"], "LATE")
        assert len(claim(client, ids(), limit=2)) == 2
        assert len(claim(client, ids(), limit=2)) == 1

    def test_bad_claims_are_422(self, client, ids):
        for body in ({"agent_id": ids(), "limit": 0}, {"agent_id": ids(), "limit": 101},
                     {"agent_id": "nope", "limit": 1}, {"limit": 1}):
            answer = client.post("/api/work_queues/default/claim", json=body)
            assert answer.status_code == 422, body

    @pytest.mark.timeout(120)
    def test_concurrent_claimers_take_every_run_exactly_once(self, database_url: str):
        """200 due runs; four claimers over two engines (two servers), five runs per claim."""
        databases = [Database(database_url), Database(database_url)]
        try:
            first = databases[0]
            spec = q.DeploymentSpec(flow_name="etl", name="bulk", entrypoint="etl.py:etl")
            deployment = first.transact(lambda s: q.upsert_deployment(s, spec))[0]

            def make_runs(session) -> None:
                for _ in range(200):
                    due = q.DeploymentRunSpec(scheduled_time=time.time() - 10)
                    q.create_deployment_run(session, deployment.id, due)

            first.transact(make_runs)
            barrier = threading.Barrier(4)

            def claimer(index: int) -> list[str]:
                database = databases[index % 2]
                agent_id = q.new_id()
                taken: list[str] = []
                barrier.wait()
                while True:
                    batch = database.transact(
                        lambda s: q.claim_runs(s, "default", agent_id, 5)
                    )
                    if not batch:
                        return taken
                    assert len(batch) <= 5
                    taken.extend(run.id for run, _ in batch)

            with ThreadPoolExecutor(4) as pool:
                per_claimer = list(pool.map(claimer, range(4)))
            claimed = Counter(run_id for taken in per_claimer for run_id in taken)
            assert len(claimed) == 200 and set(claimed.values()) == {1}
            with first.read() as session:
                pending = session.scalars(
                    select(StateRecord.flow_run_id).where(StateRecord.type == "PENDING")
                ).all()
            assert sorted(pending) == sorted(claimed)  # one PENDING state per run
        finally:
            for database in databases:
                database.dispose()


class TestMaxConcurrentRuns:
    def test_a_full_deployment_waits_and_others_still_run(self, client, deploy, ids):
        limited = deploy(name="limited", max_concurrent_runs=2)
        free = deploy(name="free")
        now = time.time()
        limited_runs = [run_now(client, limited, scheduled_time=now - 60 + i) for i in range(5)]
        free_runs = [run_now(client, free, scheduled_time=now - 30 + i) for i in range(2)]
        taken = [item["flow_run"]["id"] for item in claim(client, ids(), limit=3)]
        assert taken == [limited_runs[0]["id"], limited_runs[1]["id"], free_runs[0]["id"]]
        assert [i["flow_run"]["id"] for i in claim(client, ids())] == [free_runs[1]["id"]]
        set_state(client, limited_runs[0]["id"], "RUNNING")
        assert claim(client, ids()) == []  # one RUNNING and one PENDING: still full
        set_state(client, limited_runs[0]["id"], "SUCCESS")
        assert [i["flow_run"]["id"] for i in claim(client, ids())] == [limited_runs[2]["id"]]

    @pytest.mark.timeout(120)
    def test_concurrent_claimers_never_exceed_the_limit(self, database: Database):
        spec = q.DeploymentSpec(flow_name="etl", name="limited", entrypoint="etl.py:etl",
                                values={"max_concurrent_runs": 3})
        deployment = database.transact(lambda s: q.upsert_deployment(s, spec))[0]

        def make_runs(session) -> None:
            for _ in range(20):
                q.create_deployment_run(session, deployment.id,
                                        q.DeploymentRunSpec(scheduled_time=time.time() - 1))

        database.transact(make_runs)
        barrier = threading.Barrier(6)

        def claimer(_: int) -> int:
            barrier.wait()
            agent_id = q.new_id()
            taken = 0
            for _ in range(3):
                taken += len(database.transact(lambda s: q.claim_runs(s, "default", agent_id, 1)))
            return taken

        with ThreadPoolExecutor(6) as pool:
            assert sum(pool.map(claimer, range(6))) == 3


class TestRelease:
    def test_a_released_run_is_scheduled_again_for_others(self, client, deploy, ids):
        run = run_now(client, deploy())
        agent_id = ids()
        claim(client, agent_id)
        released = client.post(f"/api/flow_runs/{run['id']}/release", json={"agent_id": agent_id})
        assert released.status_code == 200
        assert (released.json()["state_type"], released.json()["agent_id"]) == ("SCHEDULED", None)
        states = client.get(f"/api/flow_runs/{run['id']}/states").json()
        assert [s["type"] for s in states] == ["SCHEDULED", "PENDING", "SCHEDULED"]
        assert [i["flow_run"]["id"] for i in claim(client, ids())] == [run["id"]]

    def test_only_the_claimer_releases_and_only_before_it_starts(self, client, deploy, ids):
        run = run_now(client, deploy())
        agent_id = ids()
        path = f"/api/flow_runs/{run['id']}/release"
        not_claimed = client.post(path, json={"agent_id": agent_id})
        assert not_claimed.status_code == 409
        assert not_claimed.json()["detail"]["rule"] == "release-by-claimer-only"
        claim(client, agent_id)
        assert client.post(path, json={"agent_id": ids()}).status_code == 409
        set_state(client, run["id"], "RUNNING")
        started = client.post(path, json={"agent_id": agent_id})
        assert started.status_code == 409
        assert started.json()["detail"]["rule"] == "release-only-pending"
        assert client.post(f"/api/flow_runs/{ids()}/release",
                           json={"agent_id": agent_id}).status_code == 404
        assert client.post(path, json={"agent_id": "x"}).status_code == 422

    def test_releasing_a_run_whose_cancellation_was_asked_cancels_it(self, client, deploy, ids):
        run = run_now(client, deploy())
        agent_id = ids()
        claim(client, agent_id)
        client.post(f"/api/flow_runs/{run['id']}/cancel")
        released = client.post(f"/api/flow_runs/{run['id']}/release", json={"agent_id": agent_id})
        assert released.json()["state_type"] == "CANCELLED"


class TestCancel:
    def test_a_run_not_started_is_cancelled_at_once_with_its_task_runs(
        self, client, deploy, ids
    ):
        run = run_now(client, deploy(), scheduled_time=3e9)
        task = client.post("/api/task_runs", json={
            "flow_run_id": run["id"], "task_key": "t", "task_name": "t",
            "tags": ["db"], "state": {"type": "PENDING"},
        }).json()
        client.post("/api/concurrency_limits", json={"tag": "db", "limit": 1})
        client.post("/api/concurrency_limits/acquire",
                    json={"task_run_id": task["id"], "tags": ["db"]})
        answer = client.post(f"/api/flow_runs/{run['id']}/cancel")
        assert answer.status_code == 200
        assert (answer.json()["state_type"], answer.json()["cancel_requested"]) == (
            "CANCELLED", False,
        )
        assert client.get(f"/api/task_runs/{task['id']}").json()["state_type"] == "CANCELLED"
        assert client.get("/api/concurrency_limits").json()["items"][0]["active"] == 0
        again = client.post(f"/api/flow_runs/{run['id']}/cancel")
        assert again.status_code == 200 and again.json()["state"] == answer.json()["state"]

    def test_a_claimed_run_is_cancelled_through_its_agents_heartbeat(self, client, deploy, ids):
        deployment = deploy()
        pending, running = run_now(client, deployment), run_now(client, deployment)
        agent_id = ids()
        heartbeat(client, agent_id)
        claim(client, agent_id)
        set_state(client, running["id"], "RUNNING")
        for run in (pending, running):
            answer = client.post(f"/api/flow_runs/{run['id']}/cancel").json()
            assert answer["cancel_requested"] is True
            assert answer["state_type"] in ("PENDING", "RUNNING")
        assert heartbeat(client, ids())["cancel"] == []  # only the holder is told
        assert heartbeat(client, agent_id)["cancel"] == sorted([pending["id"], running["id"]])
        set_state(client, running["id"], "CANCELLED")  # the agent stopped it and says so
        assert heartbeat(client, agent_id)["cancel"] == [pending["id"]]

    def test_a_finished_run_cannot_be_cancelled(self, client, new_run, ids):
        run = new_run(state={"type": "RUNNING"})
        set_state(client, run["id"], "SUCCESS")
        answer = client.post(f"/api/flow_runs/{run['id']}/cancel")
        assert answer.status_code == 409
        assert answer.json()["detail"]["rule"] == "cancel-unfinished-only"
        assert client.post(f"/api/flow_runs/{ids()}/cancel").status_code == 404

    def test_a_run_recorded_by_the_engine_gets_the_request(self, client, new_run):
        run = new_run(state={"type": "RUNNING"})
        answer = client.post(f"/api/flow_runs/{run['id']}/cancel").json()
        assert (answer["state_type"], answer["cancel_requested"]) == ("RUNNING", True)
        assert T(answer["state_type"]) is T.RUNNING
