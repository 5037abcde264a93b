"""Many writers at once lose nothing and never see "database is locked".

Eight threads each record 500 state changes, one write transaction per change. On SQLite the
threads share a file; in the second test they are split over two `Database` objects (as two
server processes would be), so the in-process write lock cannot serialize them and only
`BEGIN IMMEDIATE` with the busy timeout keeps them apart.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from proctor.core.states import StateType as T
from proctor.server.db import queries as q
from proctor.server.db.engine import Database
from proctor.server.db.models import StateRecord

THREADS = 8
CHANGES = 500


def _writer(database: Database, run_id: str, barrier: threading.Barrier) -> int:
    """Record CHANGES state changes on one run, alternating RUNNING and RETRYING."""
    barrier.wait()
    accepted = 0
    for i in range(CHANGES):
        event = q.StateEvent(
            flow_run_id=run_id, state=q.StateSpec(T.RETRYING if i % 2 else T.RUNNING)
        )
        outcome = database.transact(lambda s, event=event: q.set_run_state(s, event))
        accepted += outcome.accepted
    return accepted


def _hammer(databases: list[Database], shared_run: bool) -> None:
    first = databases[0]
    runs = [
        first.transact(lambda s: q.create_flow_run(s, q.FlowRunSpec(flow_name="load")))[0].id
        for _ in range(1 if shared_run else THREADS)
    ]
    barrier = threading.Barrier(THREADS)
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [
            pool.submit(_writer, databases[i % len(databases)], runs[i % len(runs)], barrier)
            for i in range(THREADS)
        ]
        accepted = [f.result() for f in futures]  # re-raises any "database is locked"
    assert accepted == [CHANGES] * THREADS
    with first.read() as session:
        stored = session.scalar(select(func.count()).select_from(StateRecord))
        per_run = [len(q.read_states(session, flow_run_id=run_id)) for run_id in runs]
    assert stored == THREADS * CHANGES
    assert sum(per_run) == THREADS * CHANGES


@pytest.mark.timeout(180)
def test_eight_threads_one_database(database: Database):
    _hammer([database], shared_run=False)


@pytest.mark.timeout(180)
def test_eight_threads_two_databases_on_one_run(database_url: str):
    """Two engines on one file (or one PostgreSQL database), all threads on the same run."""
    databases = [Database(database_url), Database(database_url)]
    try:
        _hammer(databases, shared_run=True)
    finally:
        for database in databases:
            database.dispose()


@pytest.mark.timeout(180)
def test_concurrent_batches_through_the_api(client, new_run, ids):
    """Eight clients posting batches at once (some items sent twice) lose nothing."""
    runs = [new_run()["id"] for _ in range(THREADS)]

    def post(run_id: str) -> tuple[int, int]:
        accepted = duplicates = 0
        logs = [
            {"id": ids(), "flow_run_id": run_id, "level": 20, "message": f"m{i}",
             "timestamp": float(i)}
            for i in range(1000)
        ]
        for start in range(0, 1000, 250):
            chunk = logs[start : start + 250]
            for body in ({"logs": chunk}, {"logs": chunk[:50]}):  # the second is a retry
                answer = client.post("/api/events", json=body)
                assert answer.status_code == 200, answer.text
                accepted += answer.json()["accepted"]
                duplicates += answer.json()["duplicates"]
        return accepted, duplicates

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(post, runs))
    assert results == [(1000, 200)] * THREADS
    for run_id in runs:
        logs = client.get(f"/api/flow_runs/{run_id}/logs", params={"limit": 1000}).json()
        assert len(logs["items"]) == 1000
