"""The newcomer's first hour, end to end: `proctor dev` started from the repository (what
`make run` does), a project folder of their own elsewhere with a flow that reads a relative data
file, `proctor deploy` typed in that folder, "Run now" clicked in Chromium, and the run seen to
succeed, the file read where the flow was deployed from.

Real processes everywhere: `proctor dev` (its server and its agent), `proctor deploy`, and
Debian's Chromium.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]

PROJECT_FLOW = """
    from pathlib import Path

    from proctor import Flow, Parameter, get_run_logger, task


    @task
    def extract(path):
        rows = Path(path).read_text().splitlines()[1:]  # relative: the project's own folder
        return [int(line.split(",")[1]) for line in rows]


    @task
    def load(amounts, out):
        total = sum(amounts)
        Path(out).write_text(f"total {total}\\n")
        get_run_logger().info("loaded %d rows, total %d", len(amounts), total)
        return total


    with Flow("my-sales") as flow:
        path = Parameter("path", default="data/sales.csv")
        load(extract(path), "out/total.txt")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_flow_of_your_own_folder_deployed_and_run_from_the_ui(tmp_path, page, console_errors):
    project = tmp_path / "somewhere" / "myproj"
    (project / "data").mkdir(parents=True)
    (project / "out").mkdir()
    (project / "flows.py").write_text(textwrap.dedent(PROJECT_FLOW))
    (project / "data" / "sales.csv").write_text("day,amount\nmon,3\ntue,4\nwed,5\n")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PROCTOR_HOME": str(tmp_path / "home")}
    for variable in ("PROCTOR_API_URL", "PROCTOR_API_KEY"):
        env.pop(variable, None)
    log_path = tmp_path / "dev.log"
    with open(log_path, "wb") as log:
        dev = subprocess.Popen(
            [sys.executable, "-m", "proctor.cli.main", "dev", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )

    def output() -> str:
        return log_path.read_text(errors="replace")

    try:
        deadline = time.monotonic() + 60
        while "Agent on work queue" not in output():
            assert dev.poll() is None and time.monotonic() < deadline, output()
            time.sleep(0.1)
        deployed = subprocess.run(
            [sys.executable, "-m", "proctor.cli.main", "deploy", "flows.py:flow", "--name",
             "mine", "--api-url", url], cwd=project, env=env, capture_output=True, text=True,
            timeout=60)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr

        page.goto(f"{url}/flows", wait_until="load")
        page.locator("tr:has-text('mine')").get_by_role("link", name="Run now").click()
        expect(page).to_have_url(re.compile(r"/deployments/[0-9a-f]{32}"))
        expect(page.locator("dl.facts")).to_contain_text(str(project.resolve()))
        page.get_by_role("button", name="Run now", exact=True).click()
        expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{32}$"))
        badge = page.locator("#run h1 .badge")
        expect(badge).to_have_text(re.compile("Success|Failed|Crashed"), timeout=60_000)
        assert badge.inner_text() == "Success", page.locator("#run").inner_text() + output()
        expect(page.locator(".log-lines")).to_contain_text("loaded 3 rows, total 12",
                                                           timeout=10_000)
        assert (project / "out" / "total.txt").read_text() == "total 12\n"
        assert console_errors == []
    finally:
        if dev.poll() is None:
            dev.send_signal(signal.SIGINT)
            try:
                dev.wait(30)
            except subprocess.TimeoutExpired:
                dev.kill()
