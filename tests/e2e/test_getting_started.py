"""docs/getting-started.md cannot rot: every file it shows is written into a folder outside the
repository, and every command it shows is run there, in order, against `proctor dev` started
from the repository (what its first command, `make run`, starts), with `proctor` on PATH as the
page says. A command marked `# exit 1` must exit 1; every other one must exit 0.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "getting-started.md"


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_command_of_the_getting_started_page_works(tmp_path):
    text = PAGE.read_text(encoding="utf-8")
    folder = tmp_path / "myproj"
    folder.mkdir()
    for block in _blocks(text, "python"):
        name = block.splitlines()[0].removeprefix("# ").strip()
        assert re.fullmatch(r"[a-z_]+\.py", name), f"a python block starts with '# file.py': {name}"
        (folder / name).write_text(block)
    commands = [line[2:] for block in _blocks(text, "console") for line in block.splitlines()
                if line.startswith("$ ")]
    assert commands[0] == "make run"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PROCTOR_HOME": str(tmp_path / "home"), "PROCTOR_API_URL": url,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "COLUMNS": "200"}
    env.pop("PROCTOR_API_KEY", None)
    log_path = tmp_path / "dev.log"
    with open(log_path, "wb") as log:
        dev = subprocess.Popen(
            [sys.executable, "-m", "proctor.cli.main", "dev", "--port", str(port)],
            cwd=ROOT, env={**env, "PROCTOR_API_URL": ""}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "Agent on work queue" not in log_path.read_text(errors="replace"):
            assert dev.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        seen = {}
        for command in commands[1:]:
            expected = 1 if command.rstrip().endswith("# exit 1") else 0
            done = subprocess.run(["bash", "-c", command], cwd=folder, env=env,
                                  capture_output=True, text=True, timeout=180)
            assert done.returncode == expected, (
                f"$ {command}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}")
            seen[command.split("#")[0].strip()] = done.stdout + done.stderr
    finally:
        dev.send_signal(signal.SIGINT)
        try:
            dev.wait(30)
        except subprocess.TimeoutExpired:
            dev.kill()
    # What the page says you see.
    assert "loaded 3 rows, total 30" in seen["proctor run etl.py:flow"]
    assert "watch the run at" in seen["proctor run etl.py:flow"]
    assert "loaded 5 rows, total 100" in seen["proctor run etl.py:flow --param n=5"]
    assert "cleaned up" in seen["proctor run errors.py:flow"]
    assert "would post to Slack: check is Failed" in seen["proctor run hooks.py:flow"]
    assert "every-minute" in seen["proctor deployments ls"]
    assert "my-etl" in seen["proctor runs ls"]
