"""`make run` / `proctor dev` as real processes, ended the ways a terminal user ends them.

Closing the terminal (SIGHUP to make's process group) used to orphan the server, which kept the
port; the next `make run` then reported "Server ready" for that old server, deployed into it and
added a second agent. Here: every process of a dev session is gone, and its port free, after
SIGHUP, SIGTERM, or SIGKILL of `proctor dev` alone; a port in use is refused with the process that
holds it and nothing is deployed; an agent stopped cleanly is offline at once; and two sessions
one after the other leave one `dev-agent` listed.

Each session has a PROCTOR_HOME of its own, so "every process of the session" is found by that
variable in the processes' environment: what the session started, however deep, is counted and,
in teardown, killed if a test left it behind.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from proctor.client import ProctorClient, ServerUnreachable

ROOT = Path(__file__).resolve().parents[2]
PROCTOR = [sys.executable, "-m", "proctor.cli.main"]
#: Deadlines are generous: the machine may be loaded; every wait ends as soon as it can.
STARTUP = 90.0
SHUTDOWN = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition: Callable[[], object], timeout: float, what: Callable[[], str]) -> None:
    """Poll `condition` until it is true; fail with `what()` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f}s: {what()}")
        time.sleep(0.1)


def processes_of(home: Path) -> list[psutil.Process]:
    """The live (not zombie) processes whose PROCTOR_HOME is `home`."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("PROCTOR_HOME") == str(home) and \
                    proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def describe(processes: list[psutil.Process]) -> str:
    lines = []
    for proc in processes:
        try:
            lines.append(f"{proc.pid}: {' '.join(proc.cmdline())}")
        except psutil.Error:
            lines.append(f"{proc.pid}: (ended)")
    return "; ".join(lines) or "none"


class DevSession:
    """`proctor dev` (or `make run`), started in a process group of its own, its output in a
    file, with its own PROCTOR_HOME and a fast scheduler."""

    def __init__(self, tmp_path: Path, home: Path, port: int) -> None:
        self.home, self.port = home, port
        self.url = f"http://127.0.0.1:{port}"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PROCTOR_API_URL", "PROCTOR_DATABASE_URL", "PROCTOR_API_KEY")}
        self.env.update(PROCTOR_HOME=str(home), PROCTOR_SCHEDULER_INTERVAL="0.5")
        self.log_path = tmp_path / f"dev-{port}-{time.monotonic_ns()}.log"
        self.process: subprocess.Popen | None = None

    def start(self, *options: str, make: bool = False) -> DevSession:
        if make:
            # The Makefile's own `run` target, with the installation step taken as done.
            command = ["make", "-s", "-o", str(self.home / "installed"), "run",
                       f"PORT={self.port}", f"STAMP={self.home / 'installed'}",
                       f"BIN={Path(sys.executable).parent}"]
        else:
            command = [*PROCTOR, "dev", "--port", str(self.port), *options]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        """Until the server answers and its `dev-agent` has sent a heartbeat."""
        assert self.process is not None
        wait_until(lambda: "Agent on work queue" in self.output() or
                   self.process.poll() is not None, STARTUP, self.output)
        assert self.process.poll() is None, self.output()
        wait_until(lambda: self.dev_agents(online=True), STARTUP,
                   lambda: f"no dev-agent online: {self.output()}")

    def dev_agents(self, online: bool = False) -> list[dict]:
        try:
            with ProctorClient(self.url, timeout=5) as client:
                agents = client.list_agents()
        except ServerUnreachable:
            return []
        return [a for a in agents if a["name"] == "dev-agent"
                and (not online or a["status"] == "online")]

    def server_pid(self) -> int:
        found = re.search(r"\(process (\d+);", self.output())
        assert found, self.output()
        return int(found.group(1))

    def wait_exit(self) -> int:
        assert self.process is not None
        try:
            return self.process.wait(SHUTDOWN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"proctor dev still running {SHUTDOWN:.0f}s after the signal: "
                        f"{self.output()}")

    def kill_everything(self) -> None:
        """Teardown: the process group, then anything else of this home still alive."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(10)
        for proc in processes_of(self.home):
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(processes_of(self.home), timeout=10)


@pytest.fixture
def dev_session(tmp_path: Path) -> Iterator[Callable[..., DevSession]]:
    """dev_session(home=None, port=None) -> a `DevSession` (not started); all killed after."""
    sessions: list[DevSession] = []

    def make(home: Path | None = None, port: int | None = None) -> DevSession:
        session = DevSession(tmp_path, home or tmp_path / f"home-{len(sessions)}",
                             port or free_port())
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.kill_everything()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """spawn(command, env) -> a started process in its own group, its output in a file;
    the group is killed after the test."""
    started: list[subprocess.Popen] = []

    def run(command: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(tmp_path / f"spawned-{len(started)}.log", "wb")
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        log.close()
        started.append(proc)
        return proc

    yield run
    for proc in started:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)


def server_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PROCTOR_API_URL", "PROCTOR_DATABASE_URL", "PROCTOR_API_KEY")}
    home.mkdir(parents=True, exist_ok=True)
    return {**env, "PROCTOR_HOME": str(home), **extra}


def start_server(spawn: Callable[..., subprocess.Popen], home: Path, port: int,
                 **extra: str) -> subprocess.Popen:
    """`proctor server start` on `port`, once it answers."""
    server = spawn([*PROCTOR, "server", "start", "--port", str(port), "--log-level", "warning"],
                   server_env(home, **extra))

    def healthy() -> bool:
        assert server.poll() is None, f"the server exited with code {server.returncode}"
        try:
            with ProctorClient(f"http://127.0.0.1:{port}", timeout=2) as client:
                client.health()
            return True
        except ServerUnreachable:
            return False

    wait_until(healthy, STARTUP, lambda: f"server on {port} never answered")
    return server


# -- a session ends, however it ends, and takes everything with it ------------------------------
MAKE_AVAILABLE = shutil.which("make") is not None


@pytest.mark.timeout(300)
@pytest.mark.parametrize("how", ["SIGHUP to make's process group", "SIGTERM to proctor dev"])
def test_a_stopped_session_leaves_no_process_and_frees_its_port(dev_session, how):
    by_make = how.startswith("SIGHUP")
    if by_make and not MAKE_AVAILABLE:
        pytest.skip("GNU make is not installed")
    session = dev_session()
    session.start(make=True) if by_make else session.start("--interval", "2s")
    session.wait_ready()
    server = session.server_pid()
    before = processes_of(session.home)
    assert server in {p.pid for p in before}, describe(before)

    if by_make:  # what closing the terminal does
        os.killpg(session.process.pid, signal.SIGHUP)
    else:  # what `kill PID` does
        session.process.send_signal(signal.SIGTERM)
    session.wait_exit()

    wait_until(lambda: not processes_of(session.home), SHUTDOWN,
               lambda: f"left running: {describe(processes_of(session.home))}")
    wait_until(lambda: not port_listening(session.port), SHUTDOWN,
               lambda: f"port {session.port} still listening")
    assert "Stopped." in session.output(), session.output()


@pytest.mark.timeout(300)
def test_sigkill_of_proctor_dev_alone_takes_its_server_with_it(dev_session, tmp_path):
    session = dev_session()
    session.start("--examples", str(tmp_path / "no-examples"))  # no runs: only the server
    session.wait_ready()
    server = psutil.Process(session.server_pid())
    assert server.ppid() == session.process.pid

    session.process.send_signal(signal.SIGKILL)  # the process alone, not its group
    assert session.process.wait(SHUTDOWN) == -signal.SIGKILL

    def server_gone() -> bool:
        try:
            return server.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_until(server_gone, SHUTDOWN, lambda: f"server {server.pid} outlived proctor dev")
    wait_until(lambda: not port_listening(session.port), SHUTDOWN,
               lambda: f"port {session.port} still listening")


# -- a port in use ------------------------------------------------------------------------------
@pytest.mark.timeout(300)
def test_a_port_held_by_an_old_server_is_refused_naming_it(dev_session, spawn, tmp_path):
    port = free_port()
    old = start_server(spawn, tmp_path / "old-home", port)
    session = dev_session(port=port)
    session.start("--interval", "2s")
    code = session.wait_exit()
    text = session.output()

    assert code != 0, text
    assert f"port {port} on 127.0.0.1 is already in use by process {old.pid}" in text, text
    assert "proctor.cli.main server start" in text, text  # its command line
    assert f"kill {old.pid}" in text and "--port " in text and "make run PORT=" in text, text
    for never in ("Server ready", "Deployed", "Agent on work queue"):
        assert never not in text, text
    with ProctorClient(f"http://127.0.0.1:{port}") as client:  # the old server got nothing
        assert client.list_deployments() == [] and client.list_agents() == []
    assert not (session.home / "proctor.db").exists()  # no server of its own started either
    assert not processes_of(session.home)
    assert old.poll() is None


@pytest.mark.timeout(120)
def test_a_port_held_by_any_process_is_refused_with_its_command_line(dev_session, spawn):
    port = free_port()
    holder = spawn([sys.executable, "-c",
                    "import signal, socket; s = socket.socket(); "
                    f"s.bind(('127.0.0.1', {port})); s.listen(); signal.pause()  # port-holder"],
                   dict(os.environ))
    wait_until(lambda: port_listening(port), STARTUP, lambda: "the holder never listened")
    session = dev_session(port=port)
    session.start()
    assert session.wait_exit() != 0
    text = session.output()
    assert f"in use by process {holder.pid}" in text and "port-holder" in text, text
    assert "Server ready" not in text, text


# -- agents that stop, and sessions that follow one another -------------------------------------
@pytest.mark.timeout(300)
def test_an_agent_stopped_cleanly_is_offline_at_once(spawn, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    start_server(spawn, tmp_path / "home", port, PROCTOR_AGENT_TIMEOUT="600")
    agent = spawn([*PROCTOR, "agent", "start", "--queue", "default", "--name", "stopping",
                   "--api-url", url, "--poll-interval", "0.1", "--heartbeat-interval", "0.5"],
                  server_env(tmp_path / "agent-home"))

    def status() -> str | None:
        with ProctorClient(url) as client:
            return {a["name"]: a["status"] for a in client.list_agents()}.get("stopping")

    wait_until(lambda: status() == "online", STARTUP, lambda: f"agent status {status()}")
    agent.send_signal(signal.SIGINT)
    assert agent.wait(SHUTDOWN) == 0
    with ProctorClient(url) as client:
        [row] = [a for a in client.list_agents() if a["name"] == "stopping"]
    assert row["status"] == "offline"
    assert time.time() - row["last_heartbeat"] < 600  # offline although not timed out


@pytest.mark.timeout(300)
def test_two_sessions_in_a_row_leave_one_dev_agent_listed(dev_session, tmp_path):
    home, port = tmp_path / "home", free_port()
    first = dev_session(home=home, port=port).start("--interval", "2s")
    first.wait_ready()
    [old] = first.dev_agents()
    first.process.send_signal(signal.SIGINT)
    assert first.wait_exit() == 0, first.output()

    second = dev_session(home=home, port=port).start("--interval", "2s")
    second.wait_ready()
    listed = second.dev_agents()
    assert [a["status"] for a in listed] == ["online"], listed
    assert listed[0]["id"] != old["id"]
    with sqlite3.connect(home / "proctor.db") as db:  # merged in the list, kept in the database
        assert db.execute("SELECT count(*) FROM agents WHERE name = 'dev-agent'").fetchone() == (2,)
    second.process.send_signal(signal.SIGINT)
    assert second.wait_exit() == 0, second.output()
