"""How fast runs get started and scheduled. Prints figures; asserts no timing.

1. One agent (`--limit 4`) against a real `proctor server start` process: N due runs of a
   trivial `@flow` deployment are created, the agent is started, and the time until all are
   SUCCESS gives runs/s. Start-up latency (expected_start_time -> the run's first RUNNING state,
   read back from each run's state history) is given p50/p95 for that backlog, and for runs
   created one at a time while the agent is idle (what a single due run waits).
2. The scheduler filling the next runs of 10,000 interval deployments: the deployments are
   inserted through the queries layer in one transaction into a scratch database, then one
   `Scheduler(db).run_once(now)` pass is timed. The horizon is PROCTOR_SCHEDULER_HORIZON_RUNS
   (10 here, not the default 100, so one pass makes 100,000 runs rather than a million).

Both parts run on SQLite and PostgreSQL (127.0.0.1:5432, user postgres: a scratch database,
dropped after). `--skip-postgres` leaves PostgreSQL out; `--quick` shrinks every size.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proctor.client import ProctorClient  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
HORIZON_RUNS = 10
FLOWS = """
    from proctor import flow


    @flow(name="bench-trivial")
    def trivial():
        return 1
"""
AGENT_OPTIONS = ["--limit", "4", "--poll-interval", "0.1", "--heartbeat-interval", "1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    """The URL of an empty database of `kind` ("sqlite" or "postgresql"), removed after."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as home:
            yield f"sqlite:///{home}/bench.db"
        return
    import psycopg

    name = f"proctor_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def server(database_url: str, home: Path) -> Iterator[str]:
    """A `proctor server start` process on `database_url`; its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROCTOR_API_KEY"}
    env.update(PROCTOR_HOME=str(home), PROCTOR_DATABASE_URL=database_url,
               PROCTOR_SCHEDULER_INTERVAL="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "proctor.cli.main", "server", "start", "--port", str(port),
         "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with ProctorClient(url, timeout=1) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.health()
                    break
                except Exception:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(15)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def start_latency(api: ProctorClient, run_id: str) -> float:
    run = api.read_flow_run(run_id)
    running = next(s for s in api.read_flow_run_states(run_id) if s["type"] == "RUNNING")
    return running["timestamp"] - run["expected_start_time"]


def wait_all(api: ProctorClient, deployment_id: str, total: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while api.request("GET", "/api/flow_runs/count", params={
            "deployment_id": deployment_id, "state": "SUCCESS"})["count"] < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"not all {total} runs succeeded within {timeout} s")
        time.sleep(0.05)


def agent_throughput(kind: str, runs: int, idle_runs: int) -> None:
    with scratch_database(kind) as url, tempfile.TemporaryDirectory() as work:
        workdir = Path(work)
        (workdir / "flows.py").write_text(textwrap.dedent(FLOWS))
        with server(url, workdir / "home") as api_url, ProctorClient(api_url) as api:
            deployment, _ = api.upsert_deployment({
                "flow_name": "bench-trivial", "name": "bench", "entrypoint": "flows.py:trivial",
                "work_queue_name": "bench"})
            backlog = [api.create_deployment_run(deployment["id"])["id"] for _ in range(runs)]
            started = time.perf_counter()
            agent = subprocess.Popen(
                [sys.executable, "-m", "proctor.cli.main", "agent", "start", "--queue", "bench",
                 "--api-url", api_url, *AGENT_OPTIONS],
                cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            try:
                wait_all(api, deployment["id"], runs, timeout=600)
                elapsed = time.perf_counter() - started
                latencies = [start_latency(api, r) for r in backlog]
                idle = []
                for _ in range(idle_runs):  # one due run at a time, the agent otherwise idle
                    run_id = api.create_deployment_run(deployment["id"])["id"]
                    wait_all(api, deployment["id"], runs + len(idle) + 1, timeout=60)
                    idle.append(start_latency(api, run_id))
            finally:
                agent.terminate()
                agent.wait(30)
    print(f"  {kind:10} {runs} due runs, one agent --limit 4: {elapsed:6.1f} s from agent start, "
          f"{runs / elapsed:5.1f} runs/s")
    print(f"  {kind:10} due -> RUNNING, backlog of {runs}: p50 {percentile(latencies, .5):.2f} s, "
          f"p95 {percentile(latencies, .95):.2f} s")
    print(f"  {kind:10} due -> RUNNING, one run on an idle agent ({idle_runs}x): "
          f"p50 {percentile(idle, .5):.2f} s, p95 {percentile(idle, .95):.2f} s")


def scheduler_fill(kind: str, deployments: int) -> None:
    os.environ["PROCTOR_SCHEDULER_HORIZON_RUNS"] = str(HORIZON_RUNS)
    from proctor.schedules import IntervalSchedule
    from proctor.server.db import migrate
    from proctor.server.db import queries as q
    from proctor.server.db.engine import Database
    from proctor.server.db.queries.specs import DeploymentSpec
    from proctor.server.services.scheduler import Scheduler

    schedule = IntervalSchedule(60).to_dict()
    with scratch_database(kind) as url:
        database = Database(url)
        try:
            migrate.upgrade(database)
            began = time.perf_counter()
            with database.write() as session:
                for i in range(deployments):
                    q.upsert_deployment(session, DeploymentSpec(
                        flow_name=f"flow-{i % 100}", name=f"deployment-{i}",
                        entrypoint="flows.py:trivial", values={"schedule": schedule}))
            inserted = time.perf_counter() - began
            scheduler = Scheduler(database)
            began = time.perf_counter()
            made = scheduler.run_once(time.time())
            elapsed = time.perf_counter() - began
            began = time.perf_counter()
            again = scheduler.run_once(time.time())
            second = time.perf_counter() - began
        finally:
            database.dispose()
    print(f"  {kind:10} {deployments} deployments inserted in {inserted:.1f} s (one transaction)")
    print(f"  {kind:10} first pass: {made} runs in {elapsed:.1f} s "
          f"({made / elapsed:,.0f} runs/s, {elapsed / deployments * 1000:.2f} ms/deployment)")
    print(f"  {kind:10} second pass (runs now due for the time the first took): "
          f"{again} runs in {second:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    kinds = ["sqlite"] if args.skip_postgres else ["sqlite", "postgresql"]
    runs, idle_runs, deployments = (10, 3, 200) if args.quick else (100, 20, 10_000)

    print(f"1. starting runs: {runs} due runs of a trivial flow, one agent")
    for kind in kinds:
        agent_throughput(kind, runs, idle_runs)
    print(f"2. scheduler: {deployments} interval deployments, horizon "
          f"PROCTOR_SCHEDULER_HORIZON_RUNS={HORIZON_RUNS} (default 100)")
    for kind in kinds:
        scheduler_fill(kind, deployments)


if __name__ == "__main__":
    main()
