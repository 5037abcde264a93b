"""What the web UI's pages cost the server with 100,000 flow runs stored, and what they weigh.

Everything runs against a real `proctor server start` process (scheduler and reaper on, as in
use), once on SQLite in a temporary home and once on PostgreSQL, each seeded alike. PostgreSQL is
127.0.0.1:5432 (user postgres, trust): the benchmark creates a scratch database for the run and
drops it after, even on failure. `--skip-postgres` leaves PostgreSQL out (so does a PostgreSQL
that does not answer, which is printed). Printed, in one run, one table per database:

1. Server time of each page: the wall time of `GET page` from an HTTP client in this process on
   127.0.0.1 (one kept-alive connection, one request at a time, so rendering and the database
   reads are all that is measured, plus the loopback round trip), over many samples after one
   warm-up request; p50 and p95. Pages: the dashboard `/` with each window (hour, day, week),
   `/runs` (newest 50), `/runs?state=FAILED`, `/runs?offset=5000` (a page deep in the list) and
   `/runs/{id}` of one big run (200 task runs, about 500 log lines); `/flows` and `/agents` for
   information. Target: p95 < 100 ms for the dashboard and the run list; the run page and the
   others are reported without a target.
2. Page weight: bytes of each page's HTML plus every stylesheet and script it loads (`<link
   rel=stylesheet>`, `<script src>`), as sent (uncompressed), images excluded; gzip size for
   information. Target: < 200 KB each.

The data, made to look like a busy week:

- 100,000 flow runs of 8 flows, bulk-inserted into the database with SQLAlchemy Core (the API
  would take minutes): start times spread uniformly over the last 7 days, durations from a
  second to twenty minutes, about 86 % Success, 7 % Failed, 3 % Cancelled, 1 % each Crashed,
  TimedOut and Cached, and the runs started in the last two minutes still Running. Half of them
  belong to a deployment; most carry tags. They have no state history or task runs: no measured
  list reads those. Once they are committed, `ANALYZE` runs on the same connection, on SQLite
  and PostgreSQL alike, so the query planner has statistics of the seeded tables, as it has in
  a long-lived server: PostgreSQL's autovacuum analyzes a table only some time after a bulk
  insert (and not at all where it is turned off), so plans would otherwise be made from
  default guesses that no server in use works from; SQLite keeps statistics only once
  `ANALYZE` (or `PRAGMA optimize`) has run, which Proctor does not do itself, so its table is
  that of an analyzed database. Only `ANALYZE`: no `VACUUM`, so PostgreSQL's visibility map is
  still unset and it reads the heap where a vacuumed table would allow index-only scans.
- 4 deployments through the API (2 with cron schedules, so the scheduler adds upcoming runs;
  1 paused), and one agent heartbeat.
- One run recorded by a real flow through the API (`flow.run(api_url=...)`): 200 task runs
  (a 199-element map plus its source) and about 500 log lines.

`--quick` seeds 5,000 runs and takes 30 samples per page (`/runs?offset=5000` then reads the last
page). Timings are reported, never asserted; the benchmark checks only that each page answered
200 and that the big run was recorded whole.
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proctor import Flow, get_run_logger, task  # noqa: E402
from proctor.core.states import DEFAULT_NAMES, StateType  # noqa: E402

#: p95 target of the dashboard and the run list (ms), and of each page's weight (bytes).
TARGET_MS = 100.0
TARGET_BYTES = 200 * 1024
WEEK = 7 * 86400
#: The seeded flows; the first four are deployed.
FLOWS = ["etl-orders", "etl-customers", "sync-inventory", "report-daily", "ml-features",
         "ml-train", "cleanup-tmp", "backfill-events"]
#: Finished states of seeded runs and their weights (out of 100).
FINISHED = [("SUCCESS", 86), ("FAILED", 7), ("CANCELLED", 3), ("CRASHED", 1), ("TIMED_OUT", 1),
            ("CACHED", 1), ("SUCCESS", 1)]
MESSAGES = {"FAILED": "task(s) failed: load", "CRASHED": "the agent stopped heartbeating",
            "TIMED_OUT": "the flow run exceeded its timeout", "CANCELLED": "cancelled by a user"}
TAGS = [["nightly"], ["etl", "prod"], ["prod"], [], ["ml", "gpu"], ["adhoc"]]
#: The maintenance database of the PostgreSQL server, where scratch databases are made.
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


# -- the server -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real server process on 127.0.0.1 on `database_url` (its home in `home`), for a `with`
    block."""

    def __init__(self, database_url: str, home: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.env = {**os.environ, "PROCTOR_HOME": str(home),
                    "PROCTOR_DATABASE_URL": self.database_url}
        self.env.pop("PROCTOR_API_KEY", None)
        self.log = open(home / "server.log", "wb")

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proctor.cli.main", "server", "start", "--port",
             str(self.port), "--log-level", "warning"],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log.name}")
            try:
                httpx.get(f"{self.url}/api/health", timeout=1).raise_for_status()
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start within 60 s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


def postgres_scratch() -> tuple[str, str] | None:
    """A new empty PostgreSQL database: (name, server URL), or None when PostgreSQL is not
    there."""
    try:
        import psycopg

        name = f"proctor_bench_ui_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    except Exception as exc:  # any failure to reach it: measure SQLite alone, and say so
        print(f"(PostgreSQL unavailable, measured on SQLite only: {exc})")
        return None


def drop_postgres(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the data -------------------------------------------------------------------------------------
def make_deployments(api_url: str) -> dict[str, str]:
    """Four deployments of the first four flows (two scheduled, one paused): flow -> id."""
    from proctor.client import ProctorClient
    from proctor.schedules import CronSchedule

    specs = [
        (FLOWS[0], "nightly", CronSchedule("0 2 * * *").to_dict(), False),
        (FLOWS[1], "hourly", CronSchedule("15 * * * *").to_dict(), False),
        (FLOWS[2], "on-demand", None, False),
        (FLOWS[3], "weekday-mornings", None, True),
    ]
    made = {}
    with ProctorClient(api_url) as client:
        for flow_name, name, schedule, paused in specs:
            answer, _ = client.upsert_deployment({
                "flow_name": flow_name, "name": name, "entrypoint": f"flows/{flow_name}.py:flow",
                "schedule": schedule, "paused": paused, "tags": ["prod"],
                "description": f"{flow_name} as deployed for the benchmark",
            })
            made[flow_name] = answer["id"]
        client.agent_heartbeat(uuid.uuid4().hex, "bench-agent", "default", ["bench"])
    return made


def seed_flow_runs(database_url: str, n: int, deployments: dict[str, str]) -> float:
    """Insert `n` flow runs of FLOWS spread over the last week, in one transaction, then
    `ANALYZE` on the same connection (the planner's statistics, as a server in use has them);
    the seconds `ANALYZE` took."""
    from proctor.server.db.models import Flow as FlowRow
    from proctor.server.db.models import FlowRun

    rng = random.Random(20261125)
    now = time.time()
    engine = sa.create_engine(database_url)
    finished = [state for state, weight in FINISHED for _ in range(weight)]
    with engine.connect() as conn:
        with conn.begin():
            flow_ids = dict(conn.execute(sa.select(FlowRow.name, FlowRow.id)).all())
            missing = [name for name in FLOWS if name not in flow_ids]
            for name in missing:
                flow_ids[name] = uuid.uuid4().hex
            if missing:
                conn.execute(sa.insert(FlowRow.__table__), [{
                    "id": flow_ids[name], "name": name, "description": "", "tags": [],
                    "created_at": now - WEEK - 3600, "updated_at": now - WEEK - 3600,
                } for name in missing])
            for first in range(0, n, 10_000):
                rows = [run_row(i, rng, now, finished, flow_ids, deployments)
                        for i in range(first, min(first + 10_000, n))]
                conn.execute(sa.insert(FlowRun.__table__), rows)
        # The rows committed, the statistics, on this connection in a transaction of its own.
        started = time.perf_counter()
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
        analyzed = time.perf_counter() - started
    engine.dispose()
    return analyzed


def run_row(i: int, rng: random.Random, now: float, finished: list[str],
            flow_ids: dict[str, str], deployments: dict[str, str]) -> dict:
    """The `i`-th seeded flow run, as a row of `flow_runs`."""
    flow_name = FLOWS[i % len(FLOWS)]
    start = now - rng.random() * WEEK
    duration = min(1200.0, rng.lognormvariate(3.0, 1.2))
    running = start + duration > now - 120 and start > now - 120
    state = "RUNNING" if running else rng.choice(finished)
    end = None if running else start + duration
    run_id = uuid.uuid4().hex
    return {
        "id": run_id, "flow_id": flow_ids[flow_name], "flow_name": flow_name,
        "name": f"{flow_name}-{run_id[:8]}", "parameters": {"batch": i % 50},
        "tags": TAGS[i % len(TAGS)], "deployment_id": deployments.get(flow_name),
        "work_queue_name": "default" if flow_name in deployments else None,
        "state_id": uuid.uuid4().hex, "state_type": state,
        "state_name": DEFAULT_NAMES[StateType(state)],
        "state_message": MESSAGES.get(state, ""),
        "state_timestamp": end or start, "state_started_at": start,
        "state_ended_at": end, "state_forced": False,
        "start_time": start, "end_time": end,
        "created_at": start - rng.random() * 2, "updated_at": end or start,
    }


@task
def list_files(n):
    get_run_logger().info("found %d files to process", n)
    return list(range(n))


@task
def process(i):
    logger = get_run_logger()
    logger.info("processing file %d", i)
    if i % 2 == 0:
        logger.warning("file %d has %d malformed lines, skipped", i, i % 7 + 1)
    logger.info("file %d done: %d rows", i, 1000 + i)
    return i


def record_big_run(api_url: str) -> str:
    """A real run of 200 task runs and about 500 log lines, recorded through the API; its id."""
    from proctor.client import ProctorClient

    with Flow("bench-ui-big") as flow:
        process.map(list_files(199))
    run_id = uuid.uuid4().hex
    state = flow.run(api_url=api_url, flow_run_id=run_id)
    assert state.is_successful(), state.message
    with ProctorClient(api_url) as client:
        tasks = client.read_task_runs(run_id, limit=500)
        logs = client.read_logs(run_id, limit=1000)
    assert len(tasks) == 200, f"{len(tasks)} task runs recorded, not 200"
    print(f"  big run {run_id}: {len(tasks)} task runs, {len(logs)} log lines")
    return run_id


# -- the measures ---------------------------------------------------------------------------------
def latency_ms(client: httpx.Client, path: str, samples: int) -> tuple[float, float]:
    """(p50, p95) of `GET path` over `samples` requests after one warm-up."""
    client.get(path).raise_for_status()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    times.sort()
    return percentile(times, 50), percentile(times, 95)


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]


class Assets(HTMLParser):
    """The stylesheets and scripts a page loads (inline ones and data: URLs excepted)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        url = None
        if tag == "link" and "stylesheet" in (values.get("rel") or "").split():
            url = values.get("href")
        elif tag == "script":
            url = values.get("src")
        if url and not url.startswith("data:"):
            self.urls.append(url)


def page_weight(client: httpx.Client, path: str) -> tuple[int, int, int, list[str]]:
    """(HTML bytes, HTML + assets bytes, gzip size of all, asset URLs) of `path`."""
    html = client.get(path)
    html.raise_for_status()
    parser = Assets()
    parser.feed(html.text)
    total, packed = len(html.content), len(gzip.compress(html.content))
    for url in parser.urls:
        asset = client.get(url)
        asset.raise_for_status()
        total += len(asset.content)
        packed += len(gzip.compress(asset.content))
    return len(html.content), total, packed, parser.urls


def measure(server: Server, n_runs: int, samples: int) -> tuple[str, list[tuple]]:
    """Seed `server`'s database and measure every page: (how the data was made, one row a page:
    path, targeted, p50, p95, HTML bytes, total bytes, gzip bytes, asset URLs)."""
    deployments = make_deployments(server.url)
    started = time.perf_counter()
    analyzed = seed_flow_runs(server.database_url, n_runs, deployments)
    seeded = (f"seeded {n_runs:,} flow runs in {time.perf_counter() - started:.1f} s "
              f"(ANALYZE {analyzed:.1f} s of it)")
    print(f"  {seeded}")
    big = record_big_run(server.url)
    deep = min(5_000, (n_runs // 50 - 1) * 50)
    pages = [
        ("/?window=hour", True), ("/?window=day", True), ("/?window=week", True),
        ("/runs", True), ("/runs?state=FAILED", True), (f"/runs?offset={deep}", True),
        (f"/runs/{big}", False), ("/flows", False), ("/agents", False),
    ]
    results = []
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for path, targeted in pages:
            p50, p95 = latency_ms(client, path, samples)
            html, total, packed, assets = page_weight(client, path)
            results.append((path, targeted, p50, p95, html, total, packed, assets))
    return seeded, results


def print_table(label: str, seeded: str, results: list[tuple]) -> None:
    print(f"\n{label}: {seeded}")
    print(f"{'page':<44} {'p50 ms':>7} {'p95 ms':>7}  {'time target':<16} {'HTML KB':>8} "
          f"{'total KB':>9} {'gzip KB':>8}  weight target")
    for path, targeted, p50, p95, html, total, packed, _ in results:
        shown = path if not path.startswith("/runs/") else "/runs/{id} (200 tasks, ~500 logs)"
        time_verdict = (f"p95<{TARGET_MS:.0f}: {'met' if p95 < TARGET_MS else 'MISSED'}"
                        if targeted else "(no target)")
        weight_verdict = f"<200 KB: {'met' if total < TARGET_BYTES else 'MISSED'}"
        print(f"{shown:<44} {p50:7.1f} {p95:7.1f}  {time_verdict:<16} {html / 1024:8.1f} "
              f"{total / 1024:9.1f} {packed / 1024:8.1f}  {weight_verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 runs, 30 samples a page")
    parser.add_argument("--skip-postgres", action="store_true", help="measure on SQLite only")
    args = parser.parse_args()
    n_runs = 5_000 if args.quick else 100_000
    samples = 30 if args.quick else 200
    os.environ["PROCTOR_LOGGING_CONSOLE"] = "false"

    print(f"web UI benchmark, {time.strftime('%Y-%m-%d')}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs{' (quick)' if args.quick else ''}, load average "
          f"{os.getloadavg()[0]:.2f}")
    targets: list[tuple[str, str | None]] = [("SQLite", None)]
    scratch = None if args.skip_postgres else postgres_scratch()
    if scratch:
        targets.append(("PostgreSQL", scratch[1]))
    measured = {}
    try:
        for label, url in targets:
            print(f"{label}:")
            with tempfile.TemporaryDirectory() as tmp:
                home = Path(tmp)
                os.environ["PROCTOR_HOME"] = str(home / "client")
                with Server(url or f"sqlite:///{home / 'proctor.db'}", home) as server:
                    measured[label] = measure(server, n_runs, samples)
    finally:
        if scratch:
            drop_postgres(scratch[0])

    print(f"\nserver time: GET from 127.0.0.1, {samples} samples a page after a warm-up; "
          f"{n_runs:,} runs stored")
    print("page weight: HTML + stylesheets + scripts, uncompressed (gzip for information)")
    for label, (seeded, results) in measured.items():
        print_table(label, seeded, results)
    assets = sorted({a for _, results in measured.values() for r in results for a in r[7]})
    print(f"\nassets loaded by every page: {', '.join(assets)}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
