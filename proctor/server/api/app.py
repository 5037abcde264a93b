"""`create_app`: the FastAPI app over one database, built on demand (nothing at import time).

The factory creates the engine, so tests, the CLI and an ASGI server each get an app bound to
the database they name, and importing this module touches no database. Migrations run when the
app starts (its lifespan), so a fresh database is ready before the first request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from ... import __version__, settings
from ..db import migrate
from ..db.engine import Database
from .deps import require_api_key
from .errors import install_error_handlers
from .metrics import RequestMetrics
from .middleware import BodyLimit, RequestTimer
from .routers import events, flow_runs, flows, health, metrics, task_runs

DESCRIPTION = (
    "Proctor's server: stores flows, runs, states and logs that clients report; never runs code."
)


def create_app(database_url: str | None = None, *, apply_migrations: bool = True) -> FastAPI:
    """The API over `database_url` (default: `PROCTOR_DATABASE_URL`, else an SQLite file in
    `PROCTOR_HOME`). The API key and body limit are read from the environment now.

    With `apply_migrations` (the default) the database is brought up to date when the app
    starts; the engine is disposed when it stops.
    """
    database = Database(database_url or settings.database_url())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if apply_migrations:
            await run_in_threadpool(migrate.upgrade, database)
        try:
            yield
        finally:
            database.dispose()

    app = FastAPI(title="Proctor", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.database = database
    app.state.api_key = settings.api_key()
    app.state.request_metrics = RequestMetrics()
    install_error_handlers(app)
    # Added innermost first: the timer sees every request, the 413 answers included.
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes())
    app.add_middleware(RequestTimer, metrics=app.state.request_metrics)

    app.include_router(health.router)
    guarded = [Depends(require_api_key)]
    for module in (flows, flow_runs, task_runs, events, metrics):
        app.include_router(module.router, dependencies=guarded)
    return app
