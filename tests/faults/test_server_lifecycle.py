"""The server's side of a run's end (issue items 4-7, 9, 12), on SQLite and PostgreSQL.

The rules are exercised through the API (an in-process app, services off, the reaper driven
with explicit times): final states are final unless forced; the run's own late report corrects
a Crashed the server inferred, and cancels the retry made for it; every end closes the open
task runs; agents' heartbeats give back claims they never got and say which runs to stop; a
crash an agent reports is retried at once, a crash the server infers one timeout later.
"""

from __future__ import annotations

import time

import pytest

from proctor.server.services import Reaper


def state(client, run_id: str, type_: str, force: bool = False, **extra):
    return client.post(f"/api/flow_runs/{run_id}/state",
                       json={"state": {"type": type_, **extra}, "force": force})


def own_report(client, run_id: str, type_: str, task_run_id: str | None = None, **extra):
    """A state sent as the run's own recorder sends it: in a batch of /api/events."""
    body = {"states": [{"id": _id(), "flow_run_id": run_id, "task_run_id": task_run_id,
                        "state": {"type": type_, **extra}}]}
    answer = client.post("/api/events", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _id() -> str:
    import uuid

    return uuid.uuid4().hex


def history(client, run_id: str) -> list[str]:
    return [s["type"] for s in client.get(f"/api/flow_runs/{run_id}/states").json()]


def read(client, run_id: str) -> dict:
    return client.get(f"/api/flow_runs/{run_id}").json()


def task_run(client, run_id: str, key: str, first: str | None = None) -> dict:
    made = client.post("/api/task_runs", json={"flow_run_id": run_id, "task_key": key,
                                              "task_name": key})
    assert made.status_code == 201, made.text
    if first:
        client.post(f"/api/task_runs/{made.json()['id']}/state", json={"state": {"type": first}})
    return made.json()


def task_states(client, run_id: str) -> dict[str, tuple[str, str]]:
    items = client.get(f"/api/flow_runs/{run_id}/task_runs").json()["items"]
    return {t["task_key"]: (t["state_type"], t["state"]["message"]) for t in items}


def reaper(client) -> Reaper:
    return Reaper(client.app.state.database, interval=1, late_after=60, agent_timeout=90)


def claimed_run(client, deploy, ids, **fields) -> tuple[dict, str]:
    deployment = deploy(**fields)
    run = client.post(f"/api/deployments/{deployment['id']}/runs",
                      json={"scheduled_time": time.time() - 1}).json()
    agent = ids()
    [item] = client.post("/api/work_queues/default/claim",
                         json={"agent_id": agent, "limit": 1}).json()
    assert item["flow_run"]["id"] == run["id"]
    return run, agent


# -- 12. final states are final unless forced -------------------------------------------------
@pytest.mark.parametrize("final", ["SUCCESS", "FAILED", "CRASHED"])
def test_a_finished_run_cannot_be_relabelled_without_force(client, new_run, final):
    run = new_run(state={"type": "RUNNING"})
    assert state(client, run["id"], final).status_code == 201
    refused = state(client, run["id"], "CANCELLED")
    assert refused.status_code == 409
    assert refused.json()["detail"]["rule"] == "finished-stays-finished"
    assert read(client, run["id"])["state_type"] == final
    forced = state(client, run["id"], "CANCELLED", force=True)
    assert forced.status_code == 201 and forced.json()["forced"] is True


def test_a_cancelled_run_stays_cancelled(client, new_run):
    run = new_run(state={"type": "RUNNING"})
    state(client, run["id"], "CANCELLED")
    assert state(client, run["id"], "SUCCESS").status_code == 409
    assert own_report(client, run["id"], "SUCCESS")["rejected"]


# -- 6. the run's own late report corrects an inferred CRASHED --------------------------------
def test_a_late_report_corrects_an_inferred_crash_and_cancels_its_retry(client, deploy, ids):
    run, agent = claimed_run(client, deploy, ids, retries=1)
    state(client, run["id"], "RUNNING")
    done = task_run(client, run["id"], "t", first="RUNNING")
    now = time.time()
    assert reaper(client).run_once(now + 91)["crashed"] == 1  # the agent went silent
    assert task_states(client, run["id"])["t"][0] == "CRASHED"
    [retry] = client.get(f"/api/flow_runs?deployment_id={run['deployment_id']}"
                         "&state=SCHEDULED").json()["items"]
    assert retry["retry_of"] == run["id"]
    # The server was wrong: the process was alive, and its recorder now delivers the truth.
    # (Stamped after the reaper's pass, which ran 91 s "later".)
    own_report(client, run["id"], "SUCCESS", task_run_id=done["id"], timestamp=now + 95)
    answer = own_report(client, run["id"], "SUCCESS", message="All reference tasks succeeded.",
                        timestamp=now + 96)
    assert answer["rejected"] == []
    corrected = read(client, run["id"])
    assert corrected["state_type"] == "SUCCESS"
    assert "corrects the Crashed state inferred" in corrected["state"]["message"]
    assert history(client, run["id"])[-2:] == ["CRASHED", "SUCCESS"]
    assert task_states(client, run["id"])["t"][0] == "SUCCESS"
    cancelled = read(client, retry["id"])
    assert cancelled["state_type"] == "CANCELLED" and "in fact ended SUCCESS" in (
        cancelled["state"]["message"])


def test_only_the_runs_own_report_corrects_and_never_a_forced_crash(client, new_run):
    run = new_run(state={"type": "RUNNING"})
    state(client, run["id"], "CRASHED")
    assert state(client, run["id"], "SUCCESS").status_code == 409  # an agent, the UI: no
    forced = new_run(state={"type": "RUNNING"})
    state(client, forced["id"], "FAILED")
    state(client, forced["id"], "CRASHED", force=True)  # an operator's decision stands
    assert own_report(client, forced["id"], "SUCCESS")["rejected"]
    assert read(client, forced["id"])["state_type"] == "CRASHED"


# -- 4. every end closes the open task runs ---------------------------------------------------
@pytest.mark.parametrize("final, closed", [("CANCELLED", "CANCELLED"), ("CRASHED", "CRASHED"),
                                           ("FAILED", "CRASHED")])
def test_the_end_of_a_flow_run_closes_its_open_task_runs(client, new_run, final, closed):
    run = new_run(state={"type": "RUNNING"})
    task_run(client, run["id"], "running", first="RUNNING")
    task_run(client, run["id"], "pending", first="PENDING")
    done = task_run(client, run["id"], "done", first="RUNNING")
    client.post(f"/api/task_runs/{done['id']}/state", json={"state": {"type": "SUCCESS"}})
    assert state(client, run["id"], final).status_code == 201
    states = task_states(client, run["id"])
    assert states["done"][0] == "SUCCESS"
    for key in ("running", "pending"):
        assert states[key][0] == closed
        assert "flow run" in states[key][1]


def test_a_batch_that_ends_a_flow_run_closes_its_task_runs_too(client, new_run):
    run = new_run(state={"type": "RUNNING"})
    task_run(client, run["id"], "left", first="RUNNING")
    own_report(client, run["id"], "CANCELLED", message="interrupted by the user (Ctrl-C)")
    assert task_states(client, run["id"])["left"][0] == "CANCELLED"


# -- 5. heartbeats reconcile what an agent holds with what it runs ----------------------------
def test_an_agents_heartbeat_gives_back_claims_it_never_got(client, deploy, ids):
    run, agent = claimed_run(client, deploy, ids)
    beat = client.post("/api/agents/heartbeat", json={
        "id": agent, "name": "a", "work_queue_name": "default", "running": []}).json()
    assert beat["released"] == [run["id"]]
    released = read(client, run["id"])
    assert released["state_type"] == "SCHEDULED" and released["agent_id"] is None
    assert "never started it" in released["state"]["message"]


def test_an_agents_heartbeat_lists_runs_to_stop_and_ends_runs_it_lost(client, deploy, ids):
    lost, agent = claimed_run(client, deploy, ids, name="lost")
    state(client, lost["id"], "RUNNING")
    fenced, _ = claimed_run(client, deploy, ids, name="fenced")
    # `fenced` is held by another agent: listing it is a mistake the server corrects.
    beat = client.post("/api/agents/heartbeat", json={
        "id": agent, "name": "a", "work_queue_name": "default",
        "running": [fenced["id"]]}).json()
    assert beat["crashed"] == [lost["id"]] and beat["stop"] == [fenced["id"]]
    assert read(client, lost["id"])["state_type"] == "CRASHED"


# -- 7 and 9. a crash is retried: at once when known, one timeout later when inferred ----------
def test_a_crash_an_agent_reports_is_retried_at_once(client, deploy, ids):
    run, _ = claimed_run(client, deploy, ids, retries=2)
    state(client, run["id"], "RUNNING")
    before = time.time()
    state(client, run["id"], "CRASHED", message="its process 12 killed by signal 9")
    [retry] = client.get(f"/api/flow_runs?deployment_id={run['deployment_id']}"
                         "&state=SCHEDULED").json()["items"]
    assert retry["retry_of"] == run["id"] and retry["expected_start_time"] <= time.time()
    assert retry["expected_start_time"] >= before


def test_no_silence_is_judged_until_a_timeout_after_a_database_outage(client, deploy, ids):
    run, agent = claimed_run(client, deploy, ids, retries=1)
    state(client, run["id"], "RUNNING")
    database = client.app.state.database
    service = reaper(client)
    database.last_outage_at = time.time() + 100  # heartbeats could not be recorded until then
    assert service.run_once(time.time() + 150)["crashed"] == 0
    assert read(client, run["id"])["state_type"] == "RUNNING"
    assert service.run_once(time.time() + 191)["crashed"] == 1


def test_a_paused_run_is_resting_and_never_reaped(client, deploy, ids, new_run):
    mine = new_run(state={"type": "RUNNING"})
    state(client, mine["id"], "PAUSED")  # its process ended, waiting for an approval
    held, _ = claimed_run(client, deploy, ids)
    state(client, held["id"], "RUNNING")
    state(client, held["id"], "PAUSED")
    counts = reaper(client).run_once(time.time() + 10_000)
    assert counts["crashed"] == 0
    assert read(client, mine["id"])["state_type"] == "PAUSED"
    assert read(client, held["id"])["state_type"] == "PAUSED"
