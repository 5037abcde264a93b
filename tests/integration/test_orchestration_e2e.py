"""Orchestration end to end, on SQLite and on PostgreSQL: crashes and retries, a server restart
under a schedule, a deployment's run cap, and tag concurrency limits across agents.

Every piece is a real process on 127.0.0.1 (server, agents, flow runs). Flows write what they did
into files next to them; overlaps are judged from the start and end times they write, not from
what the server reports.
"""

from __future__ import annotations

import collections
import signal
import textwrap
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
from run_listing import all_runs  # each run once, though the scheduler adds runs meanwhile

from proctor.schedules import IntervalSchedule

FLOWS = """
    import os
    import time

    from proctor import flow, get_run_context, task


    def span(path, started, label=""):
        # one short append per span: whole lines, never mixed between processes
        with open(path, "a") as fh:
            fh.write(f"{started!r} {time.time()!r} {label}\\n")


    @flow(name="e2e-retried", retries=1)
    def retried(pidfile: str = "first.pid"):
        run_id = get_run_context().flow_run.flow_run_id
        if not os.path.exists(pidfile):  # the first attempt hangs until its agent is killed
            with open(pidfile, "w") as fh:
                fh.write(f"{os.getpid()} {run_id}")
            time.sleep(120)
        return run_id


    @flow(name="e2e-ticker")
    def ticker(out: str = "ticks.txt"):
        with open(out, "a") as fh:
            fh.write(get_run_context().flow_run.flow_run_id + "\\n")


    @flow(name="e2e-capped")
    def capped(out: str = "capped.txt", seconds: float = 0.6):
        started = time.time()
        time.sleep(seconds)
        span(out, started, get_run_context().flow_run.flow_run_id)


    @task(tags=["db"])
    def query(out: str, seconds: float):
        started = time.time()
        time.sleep(seconds)
        span(out, started)


    @flow(name="e2e-limited")
    def limited(out: str = "db.txt", flows_out: str = "flows.txt", seconds: float = 0.4):
        started = time.time()
        query(out, seconds)
        query(out, seconds)
        span(flows_out, started)
"""


@pytest.fixture
def flows_file(tmp_path: Path) -> Path:
    path = tmp_path / "flows.py"
    path.write_text(textwrap.dedent(FLOWS))
    return path


def deploy(api, attribute: str, flow_name: str, name: str, queue: str, **fields) -> dict:
    """Create the deployment `flows.py:attribute` (relative to the agents' directory)."""
    deployment, _ = api.upsert_deployment({
        "flow_name": flow_name, "name": name, "entrypoint": f"flows.py:{attribute}",
        "work_queue_name": queue, **fields,
    })
    return deployment


def wait_for(predicate: Callable[[], object], timeout: float, what: str, every=0.1) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def spans(path: Path) -> list[tuple[float, float]]:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return sorted((float(row[0]), float(row[1])) for row in rows)


def assert_no_overlap(intervals: list[tuple[float, float]], what: str) -> None:
    for (_, end), (start, _) in pairwise(intervals):
        assert start >= end, f"two {what} overlapped: one ended at {end}, the next began {start}"


def outputs(*agents) -> str:
    return "\n".join(agent.output()[-3000:] for agent in agents)


# -- a. an agent killed mid-run: the run crashes, its retry runs elsewhere ----------------------
def test_a_run_of_a_killed_agent_crashes_and_its_retry_succeeds_on_another_agent(
        api, start_agent, flows_file, tmp_path):
    deployment = deploy(api, "retried", "e2e-retried", "retried", "q-retry", retries=1)
    assert deployment["retries"] == 1
    first_agent = start_agent("q-retry")
    run = api.create_deployment_run(deployment["id"])
    pidfile = tmp_path / "first.pid"
    wait_for(lambda: pidfile.exists() and pidfile.read_text(), 20, "the first attempt")
    assert pidfile.read_text().split()[1] == run["id"]
    wait_for(lambda: api.read_flow_run(run["id"])["state_type"] == "RUNNING", 10, "RUNNING")
    first_agent.process.send_signal(signal.SIGKILL)
    first_agent.process.wait(5)
    second_agent = start_agent("q-retry")

    # the reaper (PROCTOR_AGENT_TIMEOUT 3 s, every 0.5 s) ends it and schedules the retry
    wait_for(lambda: api.read_flow_run(run["id"])["state_type"] == "CRASHED", 15,
             "the killed agent's run to be CRASHED")

    def the_retry() -> dict | None:
        retries = [r for r in all_runs(api, deployment["id"]) if r["id"] != run["id"]]
        return retries[0] if retries and retries[0]["state_type"] == "SUCCESS" else None

    try:
        retry = wait_for(the_retry, 30, "the retry to succeed")
    except AssertionError:
        raise AssertionError(outputs(second_agent)) from None
    runs = all_runs(api, deployment["id"])
    assert len(runs) == 2  # one retry, no more
    crashed = api.read_flow_run(run["id"])
    assert "no heartbeat" in crashed["state"]["message"]
    assert retry["retry_of"] == run["id"] and retry["retry_count"] == 1
    assert retry["agent_id"] and retry["agent_id"] != crashed["agent_id"]
    assert {a["id"] for a in api.list_agents() if a["id"] == retry["agent_id"]}


# -- b. the server restarts while runs are scheduled --------------------------------------------
def test_a_server_restart_loses_and_duplicates_no_scheduled_run(
        own_orchestrator, start_agent, flows_file, tmp_path):
    from proctor.client import ProctorClient

    server = own_orchestrator
    every = 2.0
    with ProctorClient(server.url) as api:
        deployment = deploy(api, "ticker", "e2e-ticker", "ticking", "q-tick",
                            schedule=IntervalSchedule(every).to_dict())
    agent = start_agent("q-tick", "--limit", "4", url=server.url)
    try:
        time.sleep(3.5)  # a first tick or two run
        assert server.terminate() is not None
        down_at = time.time()
        time.sleep(4)  # longer than PROCTOR_AGENT_TIMEOUT: two scheduled times pass meanwhile
        assert agent.process.poll() is None, agent.output()
        server.start()
        up_at = time.time()
        time.sleep(4.5)
        cutoff = time.time() - 1.5  # scheduled times before this should have run by now

        with ProctorClient(server.url) as api:
            def due_runs() -> list[dict]:
                return [r for r in all_runs(api, deployment["id"])
                        if r["expected_start_time"] <= cutoff]

            def finished() -> bool:
                return all(r["state_type"] not in ("SCHEDULED", "LATE", "PENDING", "RUNNING")
                           for r in due_runs())

            try:
                wait_for(finished, 30, "the due runs to finish", every=0.5)
            except AssertionError:
                raise AssertionError(agent.output()[-3000:] + server.output()) from None
            runs = all_runs(api, deployment["id"])
            due = due_runs()
            agents = {a["id"] for a in api.list_agents()}
        assert agent.process.poll() is None, agent.output()  # it survived the restart
    finally:
        agent.stop()  # before its server goes (fixture teardown), so it logs no refused polls

    # no duplicates: one run per scheduled time, one per idempotency key
    times = collections.Counter(r["expected_start_time"] for r in runs)
    assert [t for t, n in times.items() if n > 1] == []
    keys = collections.Counter(r["idempotency_key"] for r in runs)
    assert [k for k, n in keys.items() if n > 1] == []
    # none lost: every interval tick from the first run up to the cutoff has its run, and it ran
    first = min(r["expected_start_time"] for r in runs)
    ticks = [first + i * every for i in range(int((cutoff - first) // every) + 1)]
    assert sorted(r["expected_start_time"] for r in due) == pytest.approx(ticks)
    assert any(down_at <= t <= up_at for t in ticks)  # some came due while the server was down
    assert any(t > up_at for t in ticks)  # and some after it came back
    states = {r["id"]: r["state_type"] for r in due}
    assert set(states.values()) == {"SUCCESS"}, states
    assert {r["agent_id"] for r in due} <= agents and len({r["agent_id"] for r in due}) == 1
    executed = (tmp_path / "ticks.txt").read_text().split()
    assert sorted(executed) == sorted(set(executed))  # no run executed twice
    assert {r["id"] for r in due} <= set(executed)


# -- c. max_concurrent_runs=1 across two agents -------------------------------------------------
def test_max_concurrent_runs_1_holds_across_two_agents(api, start_agent, flows_file, tmp_path):
    deployment = deploy(api, "capped", "e2e-capped", "capped", "q-capped",
                        max_concurrent_runs=1)
    assert deployment["max_concurrent_runs"] == 1
    runs = {api.create_deployment_run(deployment["id"])["id"] for _ in range(5)}
    agents = [start_agent("q-capped", "--limit", "3") for _ in range(2)]

    def done() -> bool:
        return all(api.read_flow_run(r)["state_type"] == "SUCCESS" for r in runs)

    try:
        wait_for(done, 60, "the 5 runs to succeed", every=0.3)
    except AssertionError:
        raise AssertionError(outputs(*agents)) from None
    lines = (tmp_path / "capped.txt").read_text().split("\n")
    assert {line.split()[2] for line in lines if line} == runs  # each ran, once
    intervals = spans(tmp_path / "capped.txt")
    assert len(intervals) == 5
    assert_no_overlap(intervals, "runs of a deployment capped at 1")
    # and from the server's side: never two RUNNING states open at once
    running = []
    for run_id in runs:
        history = api.read_flow_run_states(run_id)
        began = next(s["timestamp"] for s in history if s["type"] == "RUNNING")
        ended = next(s["timestamp"] for s in history if s["type"] == "SUCCESS")
        running.append((began, ended))
    assert_no_overlap(sorted(running), "RUNNING periods")


# -- d. a tag concurrency limit holds across agents ----------------------------------------------
def test_a_tag_concurrency_limit_holds_across_two_agents(
        api, start_agent, proctor_cmd, flows_file, tmp_path):
    created = proctor_cmd("concurrency-limit", "create", "db", "1")
    assert created.returncode == 0, created.stderr
    try:
        deployment = deploy(api, "limited", "e2e-limited", "limited", "q-limited")
        runs = {api.create_deployment_run(deployment["id"])["id"] for _ in range(4)}
        agents = [start_agent("q-limited", "--limit", "2") for _ in range(2)]

        def done() -> bool:
            return all(api.read_flow_run(r)["state_type"] == "SUCCESS" for r in runs)

        try:
            wait_for(done, 30, "the 4 runs to succeed", every=0.3)
        except AssertionError:
            raise AssertionError(outputs(*agents)) from None
        limits = {item["tag"]: item for item in api.list_concurrency_limits()}
        assert limits["db"]["active"] == 0  # every slot given back
        warnings = [log["message"] for r in runs for log in api.read_logs(r)
                    if "not enforced" in log["message"]]
        assert warnings == []
    finally:
        proctor_cmd("concurrency-limit", "delete", "db")
    tagged = spans(tmp_path / "db.txt")
    assert len(tagged) == 8
    assert_no_overlap(tagged, "task runs tagged 'db' (limit 1)")
    # the limit was what kept them apart: the flow runs themselves did overlap
    flows = spans(tmp_path / "flows.txt")
    assert any(start < end for (_, end), (start, _) in pairwise(flows))
    assert len({api.read_flow_run(r)["agent_id"] for r in runs}) == 2
