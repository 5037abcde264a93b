"""Executors every engine test runs on: sequential, real threads, real worker processes, and a
real Dask cluster (a `dask scheduler` and two `dask worker` processes on 127.0.0.1)."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from proctor.executors import LocalExecutor, ProcessExecutor, ThreadExecutor

EXECUTORS = {
    "local": lambda: LocalExecutor(),
    "threads": lambda: ThreadExecutor(4),
    "processes": lambda: ProcessExecutor(2),
}


def _make_executor(request, name: str):
    if name == "dask":
        from proctor.executors import DaskExecutor

        return DaskExecutor(address=request.getfixturevalue("dask_cluster").address)
    return EXECUTORS[name]()


@pytest.fixture(params=[*EXECUTORS, "dask"])
def executor(request):
    return _make_executor(request, request.param)


@pytest.fixture(params=["threads", "processes", "dask"])
def parallel_executor(request):
    return _make_executor(request, request.param)


@pytest.fixture(params=list(EXECUTORS))
def basic_executor(request):
    """The executors of the flow's own machine (local, threads, processes): for features that
    do not touch results or mapping, which the `executor` fixture also runs on Dask."""
    return _make_executor(request, request.param)


# -- a real Dask cluster, started with Dask's own commands ---------------------------------------
class DaskCluster:
    """`dask scheduler` and `dask worker` subprocesses on 127.0.0.1.

    Workers get this test process's `sys.path` (so tasks defined in test modules unpickle by
    reference there) and 2 threads each; the first one also offers the resource GPU=1."""

    def __init__(self, workdir, workers: int = 2) -> None:
        self.port = unused_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.log_path = os.path.join(self.workdir, "dask.log")
        self.log = open(self.log_path, "ab")
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.wanted = workers

    def _dask(self, *args: str) -> subprocess.Popen:
        command = [os.path.join(os.path.dirname(sys.executable), "dask"), *args]
        return subprocess.Popen(command, env=self.env, cwd=self.workdir, stdout=self.log,
                                stderr=subprocess.STDOUT)

    def start(self) -> None:
        self.scheduler = self._dask("scheduler", "--host", "127.0.0.1", "--port",
                                    str(self.port), "--no-dashboard")
        for index in range(self.wanted):
            self.add_worker(resources="GPU=1" if index == 0 else None)
        self.wait_for_workers(self.wanted)

    def add_worker(self, resources: str | None = None) -> subprocess.Popen:
        args = ["worker", self.address, "--nthreads", "2", "--nworkers", "1",
                "--no-dashboard", "--no-nanny", "--host", "127.0.0.1",
                "--local-directory", self.workdir]
        if resources:
            args += ["--resources", resources]
        worker = self._dask(*args)
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, count: int, timeout: float = 60) -> None:
        from distributed import Client

        with Client(self.address, timeout=timeout, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=timeout)

    def output(self) -> str:
        self.log.flush()
        with open(self.log_path, "rb") as fh:
            return fh.read().decode(errors="replace")

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.scheduler]:
            if process is not None:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        self.log.close()


@pytest.fixture
def new_dask_cluster(tmp_path):
    """Make a cluster of the test's own (stopped at the end of the test)."""
    made: list[DaskCluster] = []

    def make(workers: int = 2) -> DaskCluster:
        cluster = DaskCluster(tmp_path / f"dask-{len(made)}", workers)
        os.makedirs(cluster.workdir, exist_ok=True)
        made.append(cluster)
        cluster.start()
        return cluster

    yield make
    for cluster in made:
        cluster.stop()


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"))
    try:
        cluster.start()
    except Exception:
        cluster.stop()
        raise RuntimeError(f"the Dask test cluster did not start:\n{cluster.output()}") from None
    yield cluster
    cluster.stop()


# -- a real HTTP listener on 127.0.0.1 that records what it receives ----------------------------
class HttpRecorder:
    """What the test HTTP server received, and how it should answer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, str], object]] = []
        self.fail_first = 0  # answer 500 to this many requests, then 200
        self.status = 200  # the answer once fail_first is used up
        self.delay = 0.0  # seconds to wait before answering
        self.url = ""

    def answer(self, path: str, headers: dict[str, str], body: object) -> int:
        with self.lock:
            self.requests.append((path, headers, body))
            if self.fail_first > 0:
                self.fail_first -= 1
                return 500
            return self.status

    @property
    def bodies(self) -> list:
        return [body for _, _, body in self.requests]


@pytest.fixture
def http_server():
    recorder = HttpRecorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the name http.server dispatches to
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = recorder.answer(self.path, headers, json.loads(raw))
            if recorder.delay:
                time.sleep(recorder.delay)
            reply = b"ok" if status == 200 else b"no good"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- a real Proctor server, and agents, as subprocesses on 127.0.0.1 ----------------------------
#: What the orchestration tests set on their server: a fast scheduler and reaper, so a crashed
#: agent is noticed in seconds rather than minutes.
FAST_SERVICES = {"PROCTOR_SCHEDULER_INTERVAL": "0.5", "PROCTOR_AGENT_TIMEOUT": "3"}
#: Agent options for tests: quick polls, and heartbeats well inside PROCTOR_AGENT_TIMEOUT.
FAST_AGENT = ["--poll-interval", "0.1", "--heartbeat-interval", "0.5", "--cancel-grace", "2"]


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProctorServer:
    """`proctor server start` in a subprocess with its own home and extra env.

    The database is an SQLite file in the home unless `env` sets PROCTOR_DATABASE_URL. The server
    can be stopped and started again: same port, same database, one log (appended to)."""

    def __init__(self, home, env: dict[str, str] | None = None) -> None:
        self.port = unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        inherited = {k: v for k, v in os.environ.items()
                     if k not in ("PROCTOR_DATABASE_URL", "PROCTOR_API_KEY")}
        self.env = {**inherited, "PROCTOR_HOME": str(home), **(env or {})}
        self.database = "postgresql" if "PROCTOR_DATABASE_URL" in self.env else "sqlite"
        os.makedirs(str(home), exist_ok=True)
        self.log_path = os.path.join(str(home), "server.log")
        self.log = open(self.log_path, "ab")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from proctor.client import ProctorClient

        if self.log.closed:
            self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proctor.cli.main", "server", "start", "--port",
             str(self.port), "--log-level", "warning"],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        with ProctorClient(self.url, timeout=1) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited: {self.output()}")
                try:
                    client.health()
                    return
                except Exception:
                    time.sleep(0.1)
        raise RuntimeError("server did not answer /api/health within 30 s")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as fh:
            return fh.read().decode(errors="replace")

    def terminate(self, timeout: float = 15) -> int:
        """Stop the way an operator does (SIGTERM), and wait; the exit code."""
        assert self.process is not None
        self.process.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


# -- the database behind the orchestration servers: SQLite and PostgreSQL ------------------------
#: Every test using the `orchestrator` server (or `database_env`) runs once per database.
DATABASES = ["sqlite", "postgresql"]
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ENABLE_POSTGRES = (
    "start PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) "
    "or set PROCTOR_TEST_POSTGRES_URL"
)


def _postgres_admin(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                           autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The PostgreSQL server that orchestration databases are created on. Unreachable: the
    PostgreSQL tests are skipped, with how to enable them, except under CI (`CI=true`), where
    they fail: CI must not pass while testing one backend only."""
    import psycopg

    url = os.environ.get("PROCTOR_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    try:
        _postgres_admin(url).close()
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL unreachable at {url} ({exc}); {ENABLE_POSTGRES}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return url


@contextmanager
def fresh_postgres_database(admin_url: str):
    """A new, empty database `proctor_e2e_<hex>` (its psycopg URL), dropped WITH (FORCE) after:
    a server killed with connections open must not keep it alive."""
    from psycopg import sql

    name = f"proctor_e2e_{uuid.uuid4().hex[:12]}"
    with _postgres_admin(admin_url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = admin_url.replace("postgresql://", "postgresql+psycopg://", 1).rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _postgres_admin(admin_url) as admin:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin.execute(drop.format(sql.Identifier(name)))


@pytest.fixture(scope="module", params=DATABASES)
def database_kind(request) -> str:
    """"sqlite" or "postgresql": the database of this module's servers."""
    return request.param


@contextmanager
def database_env(request, kind: str):
    """The server env for a fresh database of `kind`: {} (an SQLite file in the server's home)
    or PROCTOR_DATABASE_URL of a new PostgreSQL database, dropped at exit."""
    if kind == "sqlite":
        yield {}
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    with fresh_postgres_database(admin_url) as url:
        yield {"PROCTOR_DATABASE_URL": url}


@pytest.fixture(scope="module")
def orchestrator(request, database_kind, tmp_path_factory):
    """One server per test module and database, with fast scheduler and reaper (FAST_SERVICES)."""
    home = tmp_path_factory.mktemp(f"orchestrator-{database_kind}")
    with database_env(request, database_kind) as env:
        server = ProctorServer(home, {**FAST_SERVICES, **env})
        try:
            server.start()
            yield server
        finally:
            server.stop()


@pytest.fixture
def own_orchestrator(request, database_kind, tmp_path):
    """A started server of this test alone, on a fresh database of the module's kind, for tests
    that stop and restart it; killed at the end of the test."""
    with database_env(request, database_kind) as env:
        server = ProctorServer(tmp_path / "own-server", {**FAST_SERVICES, **env})
        try:
            server.start()
            yield server
        finally:
            server.stop()


@pytest.fixture
def api(orchestrator):
    """A client of the module's server."""
    from proctor.client import ProctorClient

    with ProctorClient(orchestrator.url) as client:
        yield client


class AgentProcess:
    """`proctor agent start` in a subprocess, its output kept in a file for failure messages."""

    def __init__(self, url: str, queue: str, cwd, *options: str) -> None:
        self.log_path = os.path.join(str(cwd), f"agent-{queue}-{unused_port()}.log")
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proctor.cli.main", "agent", "start", "--queue", queue,
             "--api-url", url, *FAST_AGENT, *options],
            cwd=str(cwd), stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ},
        )

    def output(self) -> str:
        self.log.flush()
        with open(self.log_path, "rb") as fh:
            return fh.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


@pytest.fixture
def start_agent(orchestrator, tmp_path):
    """start_agent(queue, *options, url=None) -> a running `AgentProcess` (in tmp_path) of the
    module's server (or of the server at `url`), killed at the end of the test if still running."""
    agents: list[AgentProcess] = []

    def start(queue: str, *options: str, url: str | None = None) -> AgentProcess:
        agent = AgentProcess(url or orchestrator.url, queue, tmp_path, *options)
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.stop()


@pytest.fixture
def proctor_cmd(orchestrator, tmp_path):
    """proctor_cmd(*args, cwd=tmp_path, timeout=60) -> the finished `proctor *args` process,
    talking to the module's server through PROCTOR_API_URL."""

    def run(*args: object, cwd=None, timeout: float = 60) -> subprocess.CompletedProcess:
        env = {**os.environ, "PROCTOR_API_URL": orchestrator.url, "COLUMNS": "200"}
        return subprocess.run(
            [sys.executable, "-m", "proctor.cli.main", *map(str, args)], cwd=str(cwd or tmp_path),
            env=env, capture_output=True, text=True, timeout=timeout,
        )

    return run
