"""Executors every engine test runs on: sequential, real threads, real worker processes."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from proctor.executors import LocalExecutor, ProcessExecutor, ThreadExecutor

EXECUTORS = {
    "local": lambda: LocalExecutor(),
    "threads": lambda: ThreadExecutor(4),
    "processes": lambda: ProcessExecutor(2),
}


@pytest.fixture(params=list(EXECUTORS))
def executor(request):
    return EXECUTORS[request.param]()


@pytest.fixture(params=["threads", "processes"])
def parallel_executor(request):
    return EXECUTORS[request.param]()


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
    """`proctor server start` in a subprocess with its own home (database) and extra env."""

    def __init__(self, home, env: dict[str, str] | None = None) -> None:
        self.port = unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PROCTOR_HOME": str(home), **(env or {})}
        self.env.pop("PROCTOR_DATABASE_URL", None)
        self.env.pop("PROCTOR_API_KEY", None)
        self.log = open(os.path.join(str(home), "server.log"), "wb")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from proctor.client import ProctorClient

        os.makedirs(self.env["PROCTOR_HOME"], exist_ok=True)
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
        self.log.flush()
        with open(self.log.name, "rb") as fh:
            return fh.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def orchestrator(tmp_path_factory):
    """One server per test module, with fast scheduler and reaper (see FAST_SERVICES)."""
    home = tmp_path_factory.mktemp("orchestrator")
    server = ProctorServer(home, FAST_SERVICES)
    server.start()
    try:
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
    """start_agent(queue, *options) -> a running `AgentProcess` (in tmp_path), killed at the end
    of the test if still running."""
    agents: list[AgentProcess] = []

    def start(queue: str, *options: str) -> AgentProcess:
        agent = AgentProcess(orchestrator.url, queue, tmp_path, *options)
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
