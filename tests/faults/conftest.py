"""Fixtures of the fault-injection suite: the same real databases and real processes as the
server and integration tests, not a second copy of them.

A conftest outside a package cannot be imported by its file name, but `tests` is importable as
a namespace package from the repository root (put on `sys.path` here, as `python -m pytest`
does already), so the fixtures are imported from there; a fixture imported into a conftest is
a fixture of its folder. So a fault test asks for `database_url`, `database`, `client` and
`deploy` (SQLite and PostgreSQL, an in-process app with its services off) or
`own_orchestrator` and `start_agent` (a real server process per database, and agents) exactly
as it would in tests/server or tests/integration.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.integration.conftest import (  # noqa: E402, F401 - fixtures, found by name
    database_kind,
    orchestrator,
    own_orchestrator,
    postgres_admin_url,
    start_agent,
)
from tests.server.conftest import (  # noqa: E402, F401 - fixtures, found by name
    client,
    database,
    database_url,
    deploy,
    ids,
    make_client,
    new_run,
    postgres_url,
    sqlite_template,
)


def pytest_configure(config) -> None:
    # As in tests/server: Starlette warns that its test client will move off httpx one day.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")
