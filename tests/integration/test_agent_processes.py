"""How the agent stops a run's process: SIGTERM to its whole group, SIGKILL after the grace."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from proctor.agent.processes import FlowRunProcess, execute_command


def start(code: str, tmp_path: Path) -> FlowRunProcess:
    return FlowRunProcess.start("0" * 32, "test/proc", [sys.executable, "-c", code],
                                cwd=tmp_path, env=None, now=time.time())


def wait_exit(proc: FlowRunProcess, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        assert time.monotonic() < deadline, "the process did not end"
        time.sleep(0.02)
    return proc.exit_code


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stop_terminates_the_process_and_its_children(tmp_path):
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(tmp_path / 'child.pid')!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    proc = start(code, tmp_path)
    pidfile = tmp_path / "child.pid"
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    grandchild = int(pidfile.read_text())
    proc.request_stop("test", time.time())
    assert wait_exit(proc) == -15
    deadline = time.monotonic() + 5
    while alive(grandchild):  # a worker of the run goes with it (it is reaped by init)
        assert time.monotonic() < deadline, "the run's own child outlived it"
        time.sleep(0.02)


def test_a_process_ignoring_sigterm_is_killed_after_the_grace(tmp_path):
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"open({str(tmp_path / 'ready')!r}, 'w').write('1')\n"
        "time.sleep(60)\n"
    )
    proc = start(code, tmp_path)
    deadline = time.monotonic() + 10
    while not (tmp_path / "ready").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    asked = time.time()
    proc.request_stop("cancelled", asked)
    time.sleep(0.3)
    assert proc.poll() is None  # SIGTERM ignored
    assert proc.escalate(asked + 0.5, grace=2) is False
    assert proc.escalate(asked + 2.5, grace=2) is True
    assert wait_exit(proc) == -9
    assert proc.stop_reason == "cancelled" and proc.killed


def test_execute_command_carries_the_run_and_its_parameters():
    command = execute_command("a" * 32, "flows.py:etl", {"n": 5}, "http://127.0.0.1:4200")
    assert command[:3] == [sys.executable, "-m", "proctor.agent.execute"]
    assert command[command.index("--parameters") + 1] == '{"n": 5}'
    assert command[command.index("--entrypoint") + 1] == "flows.py:etl"
