"""Shared test settings: quiet console, predictable executor, and no writes to the real home."""

import os

import pytest

os.environ.setdefault("PROCTOR_LOGGING_CONSOLE", "false")
os.environ.pop("PROCTOR_EXECUTOR", None)
# Recorded runs heartbeat often enough for the fast agent timeout (3 s) of the test servers.
os.environ.setdefault("PROCTOR_HEARTBEAT_INTERVAL", "0.5")


@pytest.fixture(autouse=True)
def proctor_home(tmp_path_factory, monkeypatch):
    """Every test gets its own PROCTOR_HOME (results, cache, database) in a temporary folder."""
    home = tmp_path_factory.mktemp("proctor-home")
    monkeypatch.setenv("PROCTOR_HOME", str(home))
    monkeypatch.delenv("PROCTOR_RESULTS_DIR", raising=False)
    return home
