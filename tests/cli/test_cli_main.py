"""`proctor version`, `--help`, and the promise that help needs none of the heavy imports."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import proctor


def test_version(proctor_cli):
    proc = proctor_cli("version")
    assert proc.returncode == 0, proc.stderr
    assert f"proctor {proctor.__version__}" in proc.stdout
    assert f"Python {platform.python_version()}" in proc.stdout


def test_version_in_process(invoke):
    result = invoke("version")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"proctor {proctor.__version__}\n")


def test_help_lists_the_commands(invoke):
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("run", "graph", "version"):
        assert command in result.stdout


def test_no_arguments_shows_help(invoke):
    result = invoke()
    assert "Usage" in result.output


def test_unknown_command_exits_2(invoke):
    assert invoke("fly").exit_code == 2


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("proctor")
    if not script.exists():  # pragma: no cover - only without an editable install
        return
    proc = subprocess.run([str(script), "version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("proctor ")


def test_importing_the_cli_stays_light():
    """`proctor --help` must not pay for rich's live display, pydantic or the command bodies."""
    code = (
        "import sys, proctor.cli.main\n"
        "heavy = ['rich.progress', 'rich.table', 'pydantic', 'proctor.cli.progress',"
        " 'proctor.cli.loader', 'proctor.core.render']\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
