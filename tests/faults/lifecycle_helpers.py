"""What the run-lifecycle fault tests share: flow files, real processes, and waiting on states.

Every wait polls a condition with a generous deadline and ends as soon as the condition holds,
so a loaded machine makes a test slower, never wrong.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proctor.client import ProctorClient

PROCTOR = [sys.executable, "-m", "proctor.cli.main"]
#: Seconds a wait may take on a loaded machine before the test fails.
PATIENCE = 60.0
FINISHED = {"SUCCESS", "FAILED", "CACHED", "SKIPPED", "TRIGGER_FAILED", "TIMED_OUT", "CRASHED",
            "CANCELLED"}

#: A flow whose mapped tasks hold until the file `$TEST_GATE` exists (never, unless a test
#: creates it), counting each start in `$TEST_STARTS` (one line per start), so a test can stop
#: or kill the run while task runs are Running, and count how often work was started.
HOLD_FLOW = '''
import os
import time

from proctor import Flow, task

GATE = os.environ["TEST_GATE"]
STARTS = os.environ.get("TEST_STARTS")


@task
def hold(i):
    if STARTS:
        with open(STARTS, "a") as fh:
            fh.write(f"{os.getpid()} {i}\\n")
    while not os.path.exists(GATE):
        time.sleep(0.05)
    return i


with Flow(os.environ.get("TEST_FLOW_NAME", "hold")) as flow:
    hold.map(list(range(int(os.environ.get("TEST_WIDTH", "6")))))
'''


def wait_for(condition: Callable[[], Any], what: str, timeout: float = PATIENCE) -> Any:
    """Poll `condition` until it returns something true (returned); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f}s: {what}")
        time.sleep(0.1)


def write_flow(folder: Path, name: str = "hold.py", text: str = HOLD_FLOW) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def flow_env(tmp_path: Path, flow_name: str, **extra: str) -> dict[str, str]:
    """The environment of a flow process: its own gate and start log."""
    return {
        **os.environ,
        "TEST_GATE": str(tmp_path / f"{flow_name}.gate"),
        "TEST_STARTS": str(tmp_path / f"{flow_name}.starts"),
        "TEST_FLOW_NAME": flow_name,
        **extra,
    }


def starts(tmp_path: Path, flow_name: str) -> list[str]:
    path = tmp_path / f"{flow_name}.starts"
    return path.read_text().splitlines() if path.exists() else []


def open_gate(tmp_path: Path, flow_name: str) -> None:
    (tmp_path / f"{flow_name}.gate").write_text("go")


def start_recorded_run(
    tmp_path: Path, api_url: str, flow_name: str, executor: str = "threads:3", **env: str
) -> subprocess.Popen:
    """`proctor run hold.py:flow` recording to `api_url` (no agent), in a session of its own
    (as a terminal would start it: a Ctrl-C there reaches its whole process group)."""
    flow_file = write_flow(tmp_path)
    log = open(tmp_path / f"{flow_name}.log", "wb")
    return subprocess.Popen(
        [*PROCTOR, "run", f"{flow_file}:flow", "--executor", executor],
        cwd=str(tmp_path), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env={**flow_env(tmp_path, flow_name), "PROCTOR_API_URL": api_url, **env},
        start_new_session=True,
    )


def run_log(tmp_path: Path, flow_name: str) -> str:
    path = tmp_path / f"{flow_name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def the_run(client: ProctorClient, flow_name: str) -> dict | None:
    runs = client.list_flow_runs(flow_name=flow_name)
    return runs[0] if runs else None


def task_runs(client: ProctorClient, run_id: str) -> list[dict]:
    return client.read_task_runs(run_id, limit=500)


def running_tasks(client: ProctorClient, run_id: str) -> list[dict]:
    return [t for t in task_runs(client, run_id) if t.get("state_type") == "RUNNING"]


def open_task_runs(client: ProctorClient, run_id: str) -> list[dict]:
    return [t for t in task_runs(client, run_id) if t.get("state_type") not in FINISHED]


def wait_until_running(client: ProctorClient, flow_name: str, tasks: int = 1) -> dict:
    """The run of `flow_name` once it is RUNNING with at least `tasks` task runs RUNNING, and
    its process has sent a heartbeat."""

    def ready() -> dict | None:
        run = the_run(client, flow_name)
        if run and run["state_type"] == "RUNNING" and run.get("heartbeat_at"):
            if len(running_tasks(client, run["id"])) >= tasks:
                return run
        return None

    return wait_for(ready, f"flow {flow_name} running with {tasks} task run(s) running")


def wait_for_state(client: ProctorClient, run_id: str, states: set[str],
                   timeout: float = PATIENCE) -> dict:
    return wait_for(lambda: (r := client.read_flow_run(run_id))["state_type"] in states and r,
                    f"run {run_id} to reach {sorted(states)}", timeout)


def kill_group(proc: subprocess.Popen, signum: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:
        pass


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TcpProxy:
    """A TCP relay from a local port to `target`, that a test can cut: `cut()` closes every
    relayed connection and refuses new ones until `mend()`. Put between a server and its
    PostgreSQL, it is a database outage while the server process stays up."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = unused_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._open = threading.Event()
        self._open.set()
        self._closing = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            if not self._open.is_set():
                conn.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                conn.close()
                continue
            with self._lock:
                self._sockets += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self) -> None:
        self._open.clear()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def mend(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closing = True
        self.cut()
        self._listener.close()
