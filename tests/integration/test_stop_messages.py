"""Stopping a local scheduled `flow.run()` with Ctrl-C ends with one line saying what was
stopped, not a traceback (a real process, a real SIGINT)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

SCRIPT = """
    from proctor import Flow, task
    from proctor.schedules import IntervalSchedule

    @task
    def tick():
        print("ticked", flush=True)

    with Flow("ticker", schedule=IntervalSchedule("1s")) as flow:
        tick()

    flow.run()
"""


def test_ctrl_c_stops_a_scheduled_loop_with_one_line(tmp_path):
    script = tmp_path / "ticker.py"
    script.write_text(textwrap.dedent(SCRIPT))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        first = proc.stdout.readline()
        assert first.strip() == "ticked", first
        assert time.monotonic() < deadline
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    (line,) = [x for x in err.splitlines() if "schedule stopped" in x]
    assert line.startswith("Flow 'ticker': schedule stopped (interrupted by the user")
    assert "finished run(s)" in line


SLOW = """
    import time

    from proctor import Flow, task

    @task
    def slow(i):
        print("started", i, flush=True)
        time.sleep(60)

    with Flow("slow-flow") as flow:
        slow.map(list(range(4)))
"""


def _interrupt_proctor_run(tmp_path, *options):
    (tmp_path / "slow.py").write_text(textwrap.dedent(SLOW))
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PROCTOR_API_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "proctor.cli.main", "run", "slow.py:flow",
                             *options], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("started"), line + proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err


def test_ctrl_c_of_proctor_run_says_what_was_stopped_in_one_line(tmp_path):
    code, err = _interrupt_proctor_run(tmp_path, "--executor", "threads:4")
    assert code == 130
    assert "Traceback" not in err
    assert ("Flow run 'slow-flow' stopped (interrupted by the user (Ctrl-C)): it ended "
            "Cancelled.") in err


def test_ctrl_c_of_a_dask_run_says_so_without_tracebacks(tmp_path):
    code, err = _interrupt_proctor_run(tmp_path, "--executor", "dask")
    assert code == 130
    assert "Traceback" not in err, err
    assert "Flow run 'slow-flow' stopped" in err
