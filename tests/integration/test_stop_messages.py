"""Stopping a local scheduled `flow.run()` with Ctrl-C ends with one line saying what was
stopped, not a traceback (a real process, a real SIGINT)."""

from __future__ import annotations

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
