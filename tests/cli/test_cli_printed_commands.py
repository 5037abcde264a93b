"""Commands printed for the user work as printed: `proctor` when it is on PATH, else the path
of the `proctor` being run (after `make run`, `.venv/bin/proctor`)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from proctor.cli.dev import first_steps
from proctor.cli.output import proctor_command

BIN = Path(sys.executable).parent


def test_off_path_the_command_is_the_script_itself_and_it_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # as in a shell where the venv is not active
    monkeypatch.chdir(tmp_path)
    command = proctor_command()
    assert command != "proctor"
    done = subprocess.run([*shlex.split(command), "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "Usage" in done.stdout


def test_under_the_current_folder_the_path_is_relative(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.chdir(BIN.parent.parent)  # the folder that holds the venv
    assert proctor_command() == f"{BIN.parent.name}/bin/proctor"


def test_on_path_it_is_plain_proctor(monkeypatch):
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}/usr/bin:/bin")
    assert proctor_command() == "proctor"


def test_proctor_dev_says_how_to_type_proctor_and_what_to_do_next(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.chdir(BIN.parent.parent)
    text = first_steps("http://127.0.0.1:4200")
    assert "`proctor` is not on your PATH" in text and "bin/activate" in text
    assert f"{BIN.parent.name}/bin/proctor runs ls" in text
    # The deploy line is typed in another folder: its path is absolute.
    assert f"{BIN / 'proctor'} deploy flows.py:etl" in text or \
        f"{(BIN / 'proctor').resolve()} deploy flows.py:etl" in text
    assert "http://127.0.0.1:4200/flows" in text
