"""Scheduled runs under faults: one run per scheduled time, and a pause or a re-deploy that keeps
what already happened.

Two findings of issue 11 are replayed here, on SQLite and on PostgreSQL.

Item 8, "a duplicate scheduled run under load". The database never held two runs at one time
(the idempotency key `scheduled:<deployment>:<time>` and its unique index rule that out); the
test counted one run twice. It read the runs in pages of 100, newest first, while the server's
scheduler kept adding a run each tick at the far end of its horizon: a run added between two
page requests pushed the list down by one, so the second page began with the last run of the
first. A loaded machine widens the gap between the requests, hence "failed once under load".
`test_a_run_list_read_while_the_scheduler_adds_runs_...` replays that interleaving on a real
server process without relying on luck: it waits, between two pages, until the scheduler has
added a run. The old reading shows a run twice; `run_listing.all_runs` shows each once.

Item 11, "pausing deletes Late runs without a trace". The rule (docs/schedules.md): runs that
came due and never started are CANCELLED with a message saying why and when, and stay; future
auto-scheduled runs are a projection of the schedule, removed and made again later; runs made
by hand are never removed. The tests drive the clock (`now=`), so each one knows exactly which
runs were due; the scheduler's plan-then-lock pass is interleaved with the change by hand, at
the point a concurrent pass would be. The last test churns a real server (pause, resume,
re-deploy while its scheduler runs) and checks the invariant on everything it made.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select

from proctor.client import ProctorClient
from proctor.schedules import IntervalSchedule
from proctor.server.db import queries as q
from proctor.server.db.engine import Database
from proctor.server.db.models import FlowRun
from proctor.server.db.queries import scheduling
from proctor.server.db.queries.deployments import moment_text
from proctor.server.services import Scheduler
from tests.integration.run_listing import all_runs

#: A whole minute (and a whole two minutes) in the past, so that every run is due for a claim.
NOW = 1_700_000_040.0
EVERY_MINUTE = {"kind": "interval", "interval": 60}
EVERY_2_MINUTES = {"kind": "interval", "interval": 120}


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> object:
    """Poll `predicate` until it is true; generous deadlines, since the machine may be loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# -- item 8: the duplicate was in the counting -------------------------------------------------
def offset_pages(api: ProctorClient, deployment_id: str, page_size: int,
                 between_pages: Callable[[], object]) -> list[dict]:
    """The reading the e2e test did before: pages by offset, concatenated."""
    runs: list[dict] = []
    while True:
        page = api.list_flow_runs(deployment_id=deployment_id, limit=page_size, offset=len(runs))
        runs += page
        if len(page) < page_size:
            return runs
        between_pages()


def test_a_run_list_read_while_the_scheduler_adds_runs_counts_each_run_once(own_orchestrator):
    server = own_orchestrator  # scheduler every 0.5 s, 100 runs ahead
    with ProctorClient(server.url) as api:
        deployment, _ = api.upsert_deployment({
            "flow_name": "fault-ticker", "name": "every-second", "entrypoint": "flows.py:tick",
            "work_queue_name": "nobody-polls", "schedule": IntervalSchedule(1.0).to_dict(),
        })

        def count() -> int:
            return len(all_runs(api, deployment["id"]))  # one page: one consistent snapshot

        wait_for(lambda: count() >= 100, 60, "the scheduler to fill its horizon")

        def scheduler_adds_a_run() -> Callable[[], None]:
            """Between the first two pages only: wait until the scheduler has added a run."""
            pages = iter([True])

            def between_pages() -> None:
                if next(pages, False):
                    before = count()
                    wait_for(lambda: count() > before, 60, "the scheduler to add the next run")

            return between_pages

        # The old reading: a run added between the first two pages shows its predecessor twice.
        read = offset_pages(api, deployment["id"], 10, scheduler_adds_a_run())
        twice = [i for i, n in collections.Counter(r["id"] for r in read).items() if n > 1]
        assert twice, "a run added between two pages must push the list down"
        times = collections.Counter(r["expected_start_time"] for r in read)
        assert [t for t, n in times.items() if n > 1]  # what the e2e test took for a duplicate

        # The reading the tests use now, under the same interleaving: each run once.
        before = {r["id"] for r in all_runs(api, deployment["id"])}
        runs = all_runs(api, deployment["id"], page_size=10,
                        between_pages=scheduler_adds_a_run())
        ids = collections.Counter(r["id"] for r in runs)
        assert [i for i, n in ids.items() if n > 1] == []
        assert before <= set(ids)  # and none missed
        # The server itself never made two runs at one time, nor two with one key.
        stored = all_runs(api, deployment["id"])
        times = collections.Counter(r["expected_start_time"] for r in stored)
        assert [t for t, n in times.items() if n > 1] == []
        keys = collections.Counter(r["idempotency_key"] for r in stored)
        assert [k for k, n in keys.items() if n > 1] == []


# -- item 11: pause and re-deploy keep what happened -------------------------------------------
def add_deployment(database: Database, now: float = NOW - 3600, **values) -> str:
    spec = q.DeploymentSpec(flow_name="etl", name="nightly", entrypoint="etl.py:etl",
                            values={"schedule": EVERY_MINUTE, **values})
    return database.transact(lambda s: q.upsert_deployment(s, spec, now=now))[0].id


def redeploy(database: Database, now: float, **values) -> None:
    spec = q.DeploymentSpec(flow_name="etl", name="nightly", entrypoint="etl.py:etl",
                            values=values)
    database.transact(lambda s: q.upsert_deployment(s, spec, now=now))


def set_paused(database: Database, deployment_id: str, paused: bool, now: float) -> None:
    database.transact(lambda s: q.set_paused(s, deployment_id, paused, now=now))


def scheduler(database: Database) -> Scheduler:
    return Scheduler(database, max_runs=10, horizon_days=7)


def runs_of(database: Database, deployment_id: str) -> list[FlowRun]:
    with database.read() as session:
        query = select(FlowRun).where(FlowRun.deployment_id == deployment_id)
        runs = list(session.scalars(query.order_by(FlowRun.expected_start_time, FlowRun.id)))
        session.expunge_all()
        return runs


def by_time(runs: list[FlowRun]) -> dict[float, list[tuple[str, str]]]:
    """Auto-scheduled runs by expected start time: [(state type, message), ...] at each (the
    message of cancelled runs only: the others' are not this rule's business)."""
    found: dict[float, list[tuple[str, str]]] = collections.defaultdict(list)
    for run in runs:
        if run.auto_scheduled:
            message = (run.state_message or "") if run.state_type == "CANCELLED" else ""
            found[run.expected_start_time].append((run.state_type, message))
    return dict(found)


def assert_one_run_per_time(runs: list[FlowRun]) -> None:
    times = collections.Counter(r.expected_start_time for r in runs if r.auto_scheduled)
    assert [moment_text(t) for t, n in times.items() if n > 1] == []
    keys = collections.Counter(r.idempotency_key for r in runs if r.auto_scheduled)
    assert [k for k, n in keys.items() if n > 1] == []


def mark_late(database: Database, now: float) -> int:
    return database.transact(lambda s: q.mark_late_runs(s, now=now, late_after=60.0))


def hand_made(client, deployment_id: str, when: float) -> dict:
    answer = client.post(f"/api/deployments/{deployment_id}/runs", json={"scheduled_time": when})
    assert answer.status_code == 201, answer.text
    return answer.json()


def claim(client, agent_id: str, limit: int = 20) -> list[dict]:
    answer = client.post("/api/work_queues/default/claim",
                         json={"agent_id": agent_id, "limit": limit})
    assert answer.status_code == 200, answer.text
    return answer.json()


def paused_message(paused_at: float, due: float) -> str:
    return (f"deployment paused at {moment_text(paused_at)}; this run was due at "
            f"{moment_text(due)} and will not run")


def test_pausing_cancels_the_overdue_runs_with_a_message_and_keeps_them(client, database, ids):
    deployment_id = add_deployment(database)
    assert scheduler(database).run_once(NOW - 300) == 10  # due NOW-240 ... NOW+300
    assert mark_late(database, NOW - 10) == 3  # NOW-240, -180, -120; -60 and NOW: SCHEDULED
    [taken] = claim(client, ids(), limit=1)  # the oldest: an agent holds it
    assert taken["flow_run"]["expected_start_time"] == NOW - 240
    by_hand = [hand_made(client, deployment_id, NOW - 30), hand_made(client, deployment_id,
                                                                     NOW + 600)]

    set_paused(database, deployment_id, True, now=NOW)

    runs = runs_of(database, deployment_id)
    assert by_time(runs) == {
        NOW - 240: [("PENDING", "")],  # claimed: not touched
        **{NOW - s: [("CANCELLED", paused_message(NOW, NOW - s))] for s in (180, 120, 60, 0)},
    }  # the future ones, a projection of the schedule, are gone
    assert [(r.id, r.state_type) for r in runs if not r.auto_scheduled] == [
        (run["id"], "SCHEDULED") for run in by_hand
    ]
    late = next(r for r in runs if r.expected_start_time == NOW - 180)
    history = client.get(f"/api/flow_runs/{late.id}/states").json()
    assert [s["type"] for s in history] == ["SCHEDULED", "LATE", "CANCELLED"]
    # An agent polling the queue gets the runs made by hand (a paused deployment runs on
    # demand), never one of its scheduled runs.
    assert {c["flow_run"]["id"] for c in claim(client, ids())} == {r["id"] for r in by_hand}
    assert scheduler(database).run_once(NOW + 60) == 0  # paused: nothing scheduled


def test_resuming_schedules_the_future_and_nothing_for_the_paused_time(client, database, ids):
    deployment_id = add_deployment(database)
    scheduler(database).run_once(NOW - 300)
    mark_late(database, NOW)
    set_paused(database, deployment_id, True, now=NOW)
    resumed_at = NOW + 900  # 15 scheduled times went by while it was paused
    set_paused(database, deployment_id, False, now=resumed_at)
    assert scheduler(database).run_once(resumed_at) == 10

    runs = runs_of(database, deployment_id)
    assert_one_run_per_time(runs)
    found = by_time(runs)
    assert [t for t in found if NOW < t <= resumed_at] == []  # none for the paused time
    cancelled = [t for t, states in found.items() if states[0][0] == "CANCELLED"]
    assert cancelled == [NOW - s for s in (240, 180, 120, 60, 0)]  # they stay cancelled
    scheduled = [t for t, states in found.items() if states[0][0] == "SCHEDULED"]
    assert scheduled == [resumed_at + 60 * k for k in range(1, 11)]
    # The Late runs of before the pause stay cancelled: an agent gets none of them, only the
    # runs due since the resume (all due for a claim: NOW is in the past).
    claimed = claim(client, ids())
    assert sorted(c["flow_run"]["expected_start_time"] for c in claimed) == scheduled


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ({"schedule": EVERY_2_MINUTES}, "the deployment's schedule changed"),
        ({"parameters": {"n": 2}}, "the deployment's parameters changed"),
        ({"tags": ["x"], "work_queue_name": "other"},
         "the deployment's tags and work queue name changed"),
        ({"schedule": None}, "the deployment's schedule was removed"),
    ],
)
def test_a_redeploy_that_changes_the_runs_cancels_the_overdue_and_replans_the_future(
    client, database, values, why
):
    deployment_id = add_deployment(database)
    scheduler(database).run_once(NOW - 300)
    mark_late(database, NOW)
    by_hand = hand_made(client, deployment_id, NOW - 30)
    changed_at = NOW + 1  # between two scheduled times

    redeploy(database, changed_at, **values)

    message = f"{why} at {moment_text(changed_at)}; this run was due at {{}} and will not run"
    expected = {
        NOW - s: [("CANCELLED", message.format(moment_text(NOW - s)))]
        for s in (240, 180, 120, 60, 0)
    }
    runs = runs_of(database, deployment_id)
    assert by_time(runs) == expected
    assert [(r.id, r.state_type) for r in runs if not r.auto_scheduled] == [
        (by_hand["id"], "SCHEDULED")
    ]
    made = scheduler(database).run_once(changed_at)
    runs = runs_of(database, deployment_id)
    assert_one_run_per_time(runs)
    future = sorted(t for t, states in by_time(runs).items() if states[0][0] == "SCHEDULED")
    assert len(future) == made
    if values.get("schedule", EVERY_MINUTE) is None:
        assert made == 0
    else:
        every = (values.get("schedule") or EVERY_MINUTE)["interval"]
        assert made == 10 and future[0] > changed_at and future[0] % every == 0


def test_an_identical_redeploy_changes_no_run(database):
    deployment_id = add_deployment(database, parameters={"n": 1})
    scheduler(database).run_once(NOW - 300)
    before = [(r.id, r.state_type) for r in runs_of(database, deployment_id)]
    redeploy(database, NOW, schedule=EVERY_MINUTE, parameters={"n": 1})
    assert [(r.id, r.state_type) for r in runs_of(database, deployment_id)] == before


def test_a_pass_planned_before_a_schedule_change_makes_no_second_run_at_a_time(database):
    """The scheduler plans without a lock, then locks and makes the runs. A re-deploy landing in
    between cancels the overdue runs and removes the future ones; the pass notices the new
    definition and plans again, from its own (earlier) clock: the times it plans that already
    have a cancelled run keep that run, and nothing is made twice."""
    deployment_id = add_deployment(database)
    scheduler(database).run_once(NOW - 300)
    basis = {"now": NOW - 300, "max_runs": 10, "horizon_seconds": 7 * 86_400}
    with database.read() as session:
        plans = scheduling.plan_deployments(session, [deployment_id], **basis)

    redeploy(database, NOW, schedule=EVERY_2_MINUTES)  # lands between the plan and the insert

    result = database.transact(
        lambda s: scheduling.schedule_deployments(s, [deployment_id], plans=plans, **basis)
    )
    runs = runs_of(database, deployment_id)
    assert_one_run_per_time(runs)
    found = by_time(runs)
    # NOW-240, NOW-120 and NOW are on the new schedule too: their cancelled runs hold the key.
    assert all(states[0][0] == "CANCELLED" for t, states in found.items() if t <= NOW)
    made = sorted(t for t, states in found.items() if states[0][0] == "SCHEDULED")
    assert result.made == len(made) == 10 - 3
    assert made == [NOW + 120 * k for k in range(1, 8)]


def test_a_pass_planned_before_a_pause_makes_nothing(database):
    deployment_id = add_deployment(database)
    scheduler(database).run_once(NOW - 300)
    basis = {"now": NOW, "max_runs": 10, "horizon_seconds": 7 * 86_400}
    with database.read() as session:
        plans = scheduling.plan_deployments(session, [deployment_id], **basis)
    set_paused(database, deployment_id, True, now=NOW)
    result = database.transact(
        lambda s: scheduling.schedule_deployments(s, [deployment_id], plans=plans, **basis)
    )
    assert result.made == 0
    found = by_time(runs_of(database, deployment_id))
    assert [t for t in found if t > NOW] == []


def test_deleting_a_deployment_cancels_its_unstarted_runs_and_keeps_them(client, database, ids):
    deployment_id = add_deployment(database)
    scheduler(database).run_once(NOW - 300)
    [taken] = claim(client, ids(), limit=1)
    later_by_hand = hand_made(client, deployment_id, NOW + 3600)
    database.transact(lambda s: q.delete_deployment(s, deployment_id, now=NOW))
    runs = {r.id: r for r in runs_of(database, deployment_id)}
    assert runs[taken["flow_run"]["id"]].state_type == "PENDING"
    assert runs[later_by_hand["id"]].state_type == "CANCELLED"
    assert runs[later_by_hand["id"]].state_message.startswith(
        f"deployment deleted at {moment_text(NOW)}; this run was due at")
    auto = sorted(r.expected_start_time for r in runs.values() if r.auto_scheduled)
    assert auto == [NOW - s for s in (240, 180, 120, 60, 0)]  # the future ones are gone


def test_the_pause_route_says_when_and_why_on_each_run_it_cancels(client, database):
    deployment = client.post("/api/deployments", json={
        "flow_name": "etl", "name": "nightly", "entrypoint": "etl.py:etl",
        "schedule": EVERY_MINUTE,
    }).json()
    scheduler(database).run_once(time.time() - 300)  # about five due, five to come
    paused = client.post(f"/api/deployments/{deployment['id']}/pause").json()
    listed = client.get("/api/flow_runs", params={"deployment_id": deployment["id"],
                                                  "limit": 500}).json()["items"]
    assert listed and all(run["expected_start_time"] <= paused["updated_at"] for run in listed)
    for run in listed:
        assert run["state_type"] == "CANCELLED"
        assert run["state"]["message"] == paused_message(paused["updated_at"],
                                                         run["expected_start_time"])


# -- a real server under churn: pause, resume, re-deploy while its scheduler runs --------------
def test_pausing_resuming_and_redeploying_under_a_running_scheduler_makes_one_run_per_time(
    own_orchestrator,
):
    server = own_orchestrator
    body = {
        "flow_name": "fault-churn", "name": "churn", "entrypoint": "flows.py:churn",
        "work_queue_name": "nobody-polls", "schedule": IntervalSchedule(1.0).to_dict(),
    }
    with ProctorClient(server.url) as api:
        deployment, _ = api.upsert_deployment(body)
        deployment_id = deployment["id"]

        def scheduled() -> list[dict]:
            return [r for r in all_runs(api, deployment_id) if r["state_type"] == "SCHEDULED"]

        def due_ones_came() -> bool:  # the scheduler made runs, and some came due since
            return any(r["expected_start_time"] < time.time() - 1 for r in scheduled())

        for round_ in range(3):
            wait_for(due_ones_came, 60, "scheduled runs to come due")
            api.request("POST", f"/api/deployments/{deployment_id}/pause")
            assert scheduled() == []
            api.request("POST", f"/api/deployments/{deployment_id}/resume")
            wait_for(due_ones_came, 60, "scheduled runs after the resume")
            deployment, _ = api.upsert_deployment({**body, "parameters": {"round": round_}})
            assert all(r["parameters"] == {"round": round_} for r in scheduled())
        runs = all_runs(api, deployment_id)

    times = collections.Counter(r["expected_start_time"] for r in runs)
    assert [t for t, n in times.items() if n > 1] == []
    keys = collections.Counter(r["idempotency_key"] for r in runs)
    assert [k for k, n in keys.items() if n > 1] == []
    cancelled = [r for r in runs if r["state_type"] == "CANCELLED"]
    assert cancelled and all(" and will not run" in r["state"]["message"] for r in cancelled)
    assert {r["state_type"] for r in runs} <= {"SCHEDULED", "LATE", "CANCELLED"}
