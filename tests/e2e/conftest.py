"""Browser tests of the web UI: a real `proctor server start` process, Debian's Chromium driven
through Playwright, and runs recorded by real flows in this process.

Why each piece is real: the UI reads the server's database in the server's own process and its
script calls the JSON API, so only a separate server process, fed by the recorder the way users
feed it, shows what a person sees. The browser is /usr/bin/chromium (Debian's package, installed
by `make test`); Playwright never downloads one. Without it the browser tests skip, with how to
install it, except under CI (`CI=true`), where they fail: CI must not pass without them.

Playwright's sync API keeps an asyncio loop running in the main thread while it is open, so
`asyncio.run()` (and libraries that look for a running loop, such as Dask's client) fail there
until the browser closes. The browser lives for the whole session, so the browser tests are run
last (`pytest_collection_modifyitems` below): no other test ever runs beside an open browser.
Inside these tests, run asyncio code in a thread of its own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from proctor import Flow, get_run_logger, task

#: Debian's Chromium; the only browser these tests use.
CHROMIUM = "/usr/bin/chromium"
INSTALL_CHROMIUM = (
    f"{CHROMIUM} is missing: run `make test` (it installs it), or `apt-get install -y chromium` "
    "(with sudo when not root); never `playwright install`"
)
#: A fast scheduler and reaper, so scheduled runs and lost agents show up within seconds.
FAST_SERVICES = {"PROCTOR_SCHEDULER_INTERVAL": "0.5", "PROCTOR_AGENT_TIMEOUT": "3"}
#: Agent options for tests: quick polls, heartbeats well inside PROCTOR_AGENT_TIMEOUT, and a
#: short wait between SIGTERM and SIGKILL when a run is cancelled.
FAST_AGENT = ["--poll-interval", "0.1", "--heartbeat-interval", "0.5", "--cancel-grace", "2"]
#: The browser window of every page: wide enough for the run tables and the dashboard charts.
VIEWPORT = {"width": 1280, "height": 900}


E2E_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(session, config, items) -> None:
    """Move the browser tests after every other test, keeping both groups' own order."""
    browser_tests = [item for item in items if E2E_DIR in Path(item.path).resolve().parents]
    if browser_tests and len(browser_tests) < len(items):
        chosen = set(map(id, browser_tests))
        items[:] = [item for item in items if id(item) not in chosen] + browser_tests


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing(message: str) -> None:
    """Skip, or fail under CI: a CI run that skipped the browser tests would prove nothing."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# -- the server -----------------------------------------------------------------------------------
class UIServer:
    """`proctor server start` in a subprocess on 127.0.0.1: its own home (SQLite file there),
    fast services, and PROCTOR_API_KEY only when `api_key` is given. The log is kept in the home
    so a failing test can show what the server said."""

    def __init__(self, home: Path, api_key: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.port = unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = home
        self.api_key = api_key
        inherited = {k: v for k, v in os.environ.items()
                     if k not in ("PROCTOR_DATABASE_URL", "PROCTOR_API_KEY")}
        self.env = {**inherited, "PROCTOR_HOME": str(home), **FAST_SERVICES, **(env or {})}
        if api_key is not None:
            self.env["PROCTOR_API_KEY"] = api_key
        home.mkdir(parents=True, exist_ok=True)
        self.log_path = home / "server.log"
        self.log = open(self.log_path, "ab")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proctor.cli.main", "server", "start", "--port",
             str(self.port), "--log-level", "warning"],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{self.output()}")
            try:
                httpx.get(f"{self.url}/api/health", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not answer /api/health within {timeout:.0f} s:\n"
                           f"{self.output()}")

    def client(self):
        """A `ProctorClient` of this server, with its key."""
        from proctor.client import ProctorClient

        return ProctorClient(self.url, api_key=self.api_key)

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


@pytest.fixture
def start_ui_server(tmp_path):
    """start_ui_server(api_key=None, env=None) -> a started `UIServer` of its own home; every
    server it started is killed at the end of the test."""
    servers: list[UIServer] = []

    def start(api_key: str | None = None, env: dict[str, str] | None = None) -> UIServer:
        server = UIServer(tmp_path / f"server-{len(servers)}", api_key, env)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def ui_server(start_ui_server) -> UIServer:
    """A server of this test alone, without an API key (every page open)."""
    return start_ui_server()


@pytest.fixture
def keyed_ui_server(start_ui_server) -> UIServer:
    """A server of this test alone with PROCTOR_API_KEY set: pages ask for the key at /login."""
    return start_ui_server(api_key=f"test-key-{uuid.uuid4().hex[:8]}")


# -- runs recorded by real flows ------------------------------------------------------------------
@task
def extract(n):
    get_run_logger().info("extracting %d rows", n)
    return list(range(n))


@task
def double(x):
    return 2 * x


@task
def load(rows, fail=False):
    if fail:
        raise ValueError(f"cannot load {len(rows)} rows: the warehouse said no")
    get_run_logger().info("loaded %d rows", len(rows))
    return sum(rows)


def sample_flow(name: str, *, fail: bool = False, rows: int = 3) -> Flow:
    """extract -> double (mapped over `rows`) -> load; `fail` makes load raise, so the run ends
    Failed with a traceback in its logs."""
    with Flow(name) as flow:
        load(double.map(extract(rows)), fail=fail)
    return flow


@dataclass
class RecordedRun:
    """A flow run as the server stored it (`record` reads it back after the run)."""

    id: str
    name: str
    flow_name: str
    state_type: str
    data: dict[str, Any]


@pytest.fixture
def record(request, monkeypatch):
    """record(flow_or_name, server=None, fail=False, **parameters) -> `RecordedRun`.

    Runs the flow here with `flow.run(api_url=server.url)`, exactly as a user records a run (the
    call returns once the server has every event), then reads the run back. A name builds
    `sample_flow(name, fail=fail)`. The server defaults to `ui_server`; the recorder is given
    that server's key (PROCTOR_API_KEY) or none."""

    def run(flow: Flow | str, server: UIServer | None = None, *, fail: bool = False,
            **parameters: Any) -> RecordedRun:
        server = server or request.getfixturevalue("ui_server")
        if isinstance(flow, str):
            flow = sample_flow(flow, fail=fail)
        if server.api_key is None:
            monkeypatch.delenv("PROCTOR_API_KEY", raising=False)
        else:
            monkeypatch.setenv("PROCTOR_API_KEY", server.api_key)
        flow_run_id = uuid.uuid4().hex
        flow.run(parameters or None, api_url=server.url, flow_run_id=flow_run_id)
        with server.client() as client:
            stored = client.read_flow_run(flow_run_id)
        return RecordedRun(flow_run_id, stored["name"], stored["flow_name"],
                           stored["state"]["type"], stored)

    return run


# -- agents ---------------------------------------------------------------------------------------
class AgentProcess:
    """`proctor agent start` in a subprocess (run in `cwd`, where deployed code lives), its
    output kept in a file for failure messages."""

    def __init__(self, server: UIServer, queue: str, cwd: Path, *options: str) -> None:
        self.log_path = cwd / f"agent-{queue}-{unused_port()}.log"
        self.log = open(self.log_path, "wb")
        env = {k: v for k, v in os.environ.items() if k != "PROCTOR_API_KEY"}
        if server.api_key is not None:
            env["PROCTOR_API_KEY"] = server.api_key
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proctor.cli.main", "agent", "start", "--queue", queue,
             "--api-url", server.url, *FAST_AGENT, *options],
            cwd=str(cwd), env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


@pytest.fixture
def start_agent(request, tmp_path):
    """start_agent(server=None, queue="default", *options) -> a running `AgentProcess` of
    `server` (default: `ui_server`), started in tmp_path; killed at the end of the test."""
    agents: list[AgentProcess] = []

    def start(server: UIServer | None = None, queue: str = "default",
              *options: str) -> AgentProcess:
        server = server or request.getfixturevalue("ui_server")
        agent = AgentProcess(server, queue, tmp_path, *options)
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.stop()


@pytest.fixture
def agent(start_agent) -> AgentProcess:
    """One agent on the `default` queue of `ui_server`."""
    return start_agent()


# -- the browser ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium for the whole session (starting it costs about a second)."""
    if not os.path.exists(CHROMIUM):
        _missing(INSTALL_CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is missing: `make install` (the dev extra has it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def console_errors() -> list[str]:
    """What the test's page reported as errors: console.error lines (failed loads included)
    and uncaught exceptions in its script."""
    return []


@pytest.fixture
def page(browser, console_errors):
    """A fresh page in a context of its own (no cookies shared between tests), 1280x900."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(10_000)
    opened = context.new_page()

    def on_console(message) -> None:
        if message.type == "error":
            where = message.location or {}
            console_errors.append(f"console.error: {message.text} "
                                  f"({where.get('url', '?')}:{where.get('lineNumber', '?')})")

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
    try:
        yield opened
    finally:
        context.close()
