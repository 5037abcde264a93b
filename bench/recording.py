"""What recording runs to a server costs, and how fast the server reads and writes.

Printed, in one run:

1. us/task of a 10,000-element map on the local executor: in memory (the floor, measured in the
   same run), then recorded to a real `proctor server start` process on SQLite and on PostgreSQL,
   as two figures per database. "End to end" includes the final flush, as `flow.run(api_url=...)`
   returns only once the server has every event (or its flush timeout passed, which would be
   reported); target: recording adds <= 100 us/task. "Run" stops when the engine's work is done,
   before that flush: what recording costs the run itself while the sender works alongside.
2. State writes per second through `POST /api/events` (batches of 1,000 state events for 1,000
   task runs), per database.
3. p50/p99 of `GET /api/flow_runs?limit=50` (newest first, and filtered by state) with 100,000
   flow runs in the database (seeded with one bulk insert), per database. Target: p99 < 50 ms.

PostgreSQL is 127.0.0.1:5432 (user postgres); the benchmark creates a scratch database and drops
it after. `--skip-postgres` leaves PostgreSQL out; `--quick` shrinks every size.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proctor import Flow, task  # noqa: E402
from proctor.executors import LocalExecutor  # noqa: E402
from proctor.recording.api import ApiRecorder  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@task
def rows(n):
    return list(range(n))


@task
def double(x):
    return 2 * x


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real server process on 127.0.0.1 for the duration of a `with` block."""

    def __init__(self, database_url: str, home: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.env = {**os.environ, "PROCTOR_HOME": str(home),
                    "PROCTOR_DATABASE_URL": database_url, "PROCTOR_LOGGING_LEVEL": "WARNING"}
        self.env.pop("PROCTOR_API_KEY", None)

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proctor.cli.main", "server", "start", "--port",
             str(self.port)], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/api/health", timeout=1).raise_for_status()
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


def map_flow(n: int) -> Flow:
    with Flow("bench-map") as f:
        double.map(rows(n))
    return f


def us_per_task(n: int) -> float:
    flow = map_flow(n)
    started = time.perf_counter()
    state = flow.run(executor=LocalExecutor())
    elapsed = time.perf_counter() - started
    assert state.is_successful(), state.message
    return elapsed / n * 1e6


def recorded_us_per_task(n: int, api_url: str) -> tuple[float, float]:
    """(run, end to end) us/task of the map recorded to `api_url`.

    This is what `flow.run(api_url=...)` does (make an `ApiRecorder`, run with it, close it),
    spelled out so that the end of the run and the end of the flush are timed apart.
    """
    flow = map_flow(n)
    started = time.perf_counter()
    recorder = ApiRecorder(api_url)
    try:
        state = flow.run(executor=LocalExecutor(), observers=[recorder])
        ran = time.perf_counter() - started
    finally:
        delivered = recorder.close()
    elapsed = time.perf_counter() - started
    assert state.is_successful(), state.message
    assert delivered, "the recorder did not deliver everything within its flush timeout"
    return ran / n * 1e6, elapsed / n * 1e6


def state_writes_per_second(api_url: str, batches: int, size: int) -> float:
    client = httpx.Client(base_url=api_url, timeout=60)
    run_id = uuid.uuid4().hex
    client.post("/api/flow_runs", json={"id": run_id, "flow_name": "bench-writes"})
    total = 0
    started = time.perf_counter()
    for _ in range(batches):
        task_runs = [{"id": uuid.uuid4().hex, "flow_run_id": run_id, "task_key": "t",
                      "task_name": "t", "map_index": i} for i in range(size)]
        states = [{"id": uuid.uuid4().hex, "flow_run_id": run_id, "task_run_id": t["id"],
                   "state": {"type": "RUNNING"}} for t in task_runs]
        answer = client.post("/api/events", json={"task_runs": task_runs, "states": states})
        answer.raise_for_status()
        total += len(states)
    elapsed = time.perf_counter() - started
    client.close()
    return total / elapsed


def seed_flow_runs(database_url: str, n: int) -> None:
    """Insert `n` finished flow runs with one bulk insert (the API would take minutes)."""
    import sqlalchemy as sa

    from proctor.server.db.models import Flow as FlowRow
    from proctor.server.db.models import FlowRun

    engine = sa.create_engine(database_url)
    now = time.time()
    flow_id = uuid.uuid4().hex
    kinds = ["SUCCESS", "FAILED", "SUCCESS", "SUCCESS", "CANCELLED"]
    with engine.begin() as conn:
        conn.execute(sa.insert(FlowRow.__table__), [{
            "id": flow_id, "name": f"seeded-{flow_id[:6]}", "description": "", "tags": [],
            "created_at": now, "updated_at": now,
        }])
        for start in range(0, n, 10_000):
            conn.execute(sa.insert(FlowRun.__table__), [{
                "id": uuid.uuid4().hex, "flow_id": flow_id, "flow_name": f"seeded-{flow_id[:6]}",
                "name": f"run-{i}", "parameters": {"i": i}, "tags": ["bench"],
                "state_id": uuid.uuid4().hex, "state_type": kinds[i % 5],
                "state_name": kinds[i % 5].title(), "state_message": "", "state_timestamp": now,
                "start_time": now - n + i, "end_time": now - n + i + 1,
                "created_at": now - n + i, "updated_at": now,
            } for i in range(start, min(start + 10_000, n))])
    engine.dispose()


def list_latency_ms(api_url: str, samples: int, params: dict) -> tuple[float, float]:
    client = httpx.Client(base_url=api_url, timeout=30)
    client.get("/api/flow_runs", params=params).raise_for_status()  # warm up
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        answer = client.get("/api/flow_runs", params=params)
        times.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
        assert len(answer.json()["items"]) == params["limit"]
    client.close()
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def postgres_scratch() -> tuple[str, str] | None:
    try:
        import psycopg

        name = f"proctor_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    except Exception as exc:
        print(f"(PostgreSQL unavailable: {exc})")
        return None


def drop_postgres(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _series(values: list[float]) -> str:
    return " / ".join(f"{v:.1f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    n_map = 1_000 if args.quick else 10_000
    n_seed = 5_000 if args.quick else 100_000
    batches, size = (3, 500) if args.quick else (10, 1_000)
    samples = 50 if args.quick else 300
    os.environ.setdefault("PROCTOR_LOGGING_LEVEL", "WARNING")

    print(f"recording benchmark, {time.strftime('%Y-%m-%d')}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs{' (quick)' if args.quick else ''}, load average "
          f"{os.getloadavg()[0]:.2f}")
    floor = min(us_per_task(n_map) for _ in range(3))
    print(f"\n1. {n_map:,}-element map, local executor")
    print(f"   in memory (floor, best of 3):            {floor:8.1f} us/task")

    targets = [("SQLite", None)]
    scratch = None if args.skip_postgres else postgres_scratch()
    if scratch:
        targets.append(("PostgreSQL", scratch[1]))
    results = {}
    try:
        for label, url in targets:
            with tempfile.TemporaryDirectory() as tmp:
                home = Path(tmp)
                database_url = url or f"sqlite:///{home / 'proctor.db'}"
                with Server(database_url, home) as server:
                    os.environ["PROCTOR_HOME"] = str(home / "client")
                    timings = [recorded_us_per_task(n_map, server.url) for _ in range(3)]
                    writes = state_writes_per_second(server.url, batches, size)
                    seed_flow_runs(database_url, n_seed)
                    latest = list_latency_ms(server.url, samples, {"limit": 50})
                    failed = list_latency_ms(server.url, samples, {"limit": 50,
                                                                   "state": "FAILED"})
                    results[label] = (timings, writes, latest, failed)
    finally:
        if scratch:
            drop_postgres(scratch[0])

    for label, (timings, _, _, _) in results.items():
        runs = [t[0] for t in timings]
        ends = [t[1] for t in timings]
        added = min(ends) - floor
        print(f"   recorded to {label:<10} end to end (best of 3): {min(ends):8.1f} us/task "
              f"-> adds {added:6.1f} us/task  [target <= 100: "
              f"{'met' if added <= 100 else 'MISSED'}]  (3 runs: {_series(ends)})")
        print(f"   recorded to {label:<10} run only   (best of 3): {min(runs):8.1f} us/task "
              f"-> adds {min(runs) - floor:6.1f} us/task  (3 runs: {_series(runs)})")
    print(f"\n2. state writes through POST /api/events ({batches} x {size:,} states)")
    for label, (_, writes, _, _) in results.items():
        print(f"   {label:<11} {writes:10,.0f} states/s")
    print(f"\n3. GET /api/flow_runs?limit=50 with {n_seed:,} runs in the database "
          f"({samples} samples)")
    for label, (_, _, latest, failed) in results.items():
        for name, (p50, p99) in (("newest first", latest), ("state=FAILED", failed)):
            print(f"   {label:<11} {name:<13} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
                  f"[target p99 < 50: {'met' if p99 < 50 else 'MISSED'}]")

    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
