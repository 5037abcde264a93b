"""Fixtures for the CLI tests: flow files written into tmp_path, and two ways to run `proctor`.

`proctor_cli` runs the real command in a subprocess (what a user gets, exit codes included);
`invoke` runs it in-process through Typer's CliRunner, which is faster and easier to debug.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import cloudpickle
import pytest
from typer.testing import CliRunner

from proctor.cli.main import app


@pytest.fixture(autouse=True)
def _forget_loaded_files(tmp_path: Path):
    """Undo what loading flow files in this process did: sys.path entries, modules, and the
    pickle-by-value registrations, so no test sees another test's files."""
    path_before = list(sys.path)
    modules_before = set(sys.modules)
    yield
    sys.path[:] = path_before
    for name in set(sys.modules) - modules_before:
        module = sys.modules[name]
        if name.startswith("proctor_flowfile_"):
            cloudpickle.unregister_pickle_by_value(module)
        if str(getattr(module, "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


@pytest.fixture
def write_flow(tmp_path: Path) -> Callable[..., Path]:
    """write_flow(source, name="flows.py") -> path of a file holding the dedented source."""

    def write(source: str, name: str = "flows.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture
def proctor_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """proctor_cli(*args) -> the finished `python -m proctor.cli.main *args` process."""

    def run(*args: object, timeout: float = 60) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "COLUMNS": "200",  # a wide table: no key or state is wrapped across lines
            "PROCTOR_EXECUTOR": "local",
        }
        return subprocess.run(
            [sys.executable, "-m", "proctor.cli.main", *map(str, args)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=timeout,
        )

    return run


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """invoke(*args) -> a click Result of `proctor *args`, run in this process."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("PROCTOR_EXECUTOR", "local")
    runner = CliRunner()

    def run(*args: object):
        return runner.invoke(app, [str(a) for a in args])

    return run
