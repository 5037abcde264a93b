"""`proctor dev`: server, workshop deployments and an agent from one command; Ctrl-C stops all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from proctor.client import ProctorClient

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_dev_deploys_the_examples_runs_them_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PROCTOR_HOME": str(tmp_path / "home"),
           "PROCTOR_SCHEDULER_INTERVAL": "0.5"}
    env.pop("PROCTOR_API_URL", None)
    log = open(tmp_path / "dev.log", "wb")
    dev = subprocess.Popen(
        [sys.executable, "-m", "proctor.cli.main", "dev", "--port", str(port),
         "--interval", "2s", "--shutdown-grace", "2"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )

    def output() -> str:
        return (tmp_path / "dev.log").read_text(errors="replace")

    try:
        deadline = time.monotonic() + 30
        while "Agent on work queue" not in output():
            assert dev.poll() is None and time.monotonic() < deadline, output()
            time.sleep(0.1)
        text = output()
        for label in ("etl/workshop", "parallel-etl/workshop", "etl-with-parameters/workshop",
                      "errors-and-triggers/workshop", "hooks-demo/workshop",
                      "scheduled-snapshot/workshop", "sales-report/workshop",
                      "dask etl/workshop"):  # every workshop step, the failing ones too
            assert label in text, text
        assert "not deployed" not in text, text
        assert "'dask etl/workshop' --watch" in text  # a name with a space, quoted
        assert "every 2 seconds" in text

        # The command printed for an on-demand example works as printed, in a shell whose
        # PATH does not hold the venv (as after `make run`).
        (printed,) = [line.split("on demand: ", 1)[1] for line in text.splitlines()
                      if "parallel-etl/workshop" in line and "on demand: " in line]
        assert re.match(r"\S*bin/proctor run parallel-etl/workshop --watch", printed), printed
        assert printed.endswith(f"--api-url {url}")
        watch = subprocess.run(
            ["bash", "-c", printed], cwd=ROOT, env={**env, "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, timeout=60,
        )
        assert watch.returncode == 0, watch.stdout + watch.stderr + output()

        with ProctorClient(url) as client:
            deadline = time.monotonic() + 30
            while not client.list_flow_runs(flow_name="etl", state=["SUCCESS"]):
                assert time.monotonic() < deadline, "no scheduled run of etl succeeded"
                time.sleep(0.3)

        dev.send_signal(signal.SIGINT)
        assert dev.wait(30) == 0, output()
        assert not port_open(port), "the server is still listening after Ctrl-C"
        assert "Stopped." in output()
    finally:
        if dev.poll() is None:
            dev.kill()
            dev.wait(10)
        server_pid = re.search(r"\(process (\d+);", output())
        if server_pid and port_open(port):  # the server has a session of its own: stop it too
            os.kill(int(server_pid.group(1)), signal.SIGKILL)
        log.close()
