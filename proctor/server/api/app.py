"""`create_app`: the FastAPI app over one database, built on demand (nothing at import time).

The factory creates the engine, so tests, the CLI and an ASGI server each get an app bound to
the database they name, and importing this module touches no database. Migrations run when the
app starts (its lifespan), so a fresh database is ready before the first request; the services
(scheduler, reaper) start after them and stop before the engine is disposed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from ... import __version__, settings
from ..db import migrate
from ..db.engine import Database
from ..services import Services
from ..ui import mount_ui
from .deps import require_api_key
from .errors import install_error_handlers
from .metrics import RequestMetrics
from .middleware import BodyLimit, RequestTimer
from .routers import (
    agents,
    concurrency_limits,
    deployments,
    events,
    flow_runs,
    flows,
    health,
    metrics,
    task_runs,
)

DESCRIPTION = (
    "Proctor's server: stores flows, runs, states and logs that clients report; never runs code."
)


def create_app(
    database_url: str | None = None, *, apply_migrations: bool = True, services: bool = True
) -> FastAPI:
    """The API over `database_url` (default: `PROCTOR_DATABASE_URL`, else an SQLite file in
    `PROCTOR_HOME`). The API key, body limit and service settings are read from the environment
    now.

    With `apply_migrations` (the default) the database is brought up to date when the app
    starts; the engine is disposed when it stops. With `services` (the default) the scheduler
    and the reaper run in background threads while the app runs; tests turn them off and call
    their `run_once(now)` with the time they choose.
    """
    database = Database(database_url or settings.database_url())
    background = Services.for_database(database) if services else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if apply_migrations:
            await run_in_threadpool(migrate.upgrade, database)
        if background is not None:
            background.start()
            app.state.services = background
        try:
            yield
        finally:
            if background is not None:
                app.state.services = None
                await run_in_threadpool(background.stop)
            database.dispose()

    app = FastAPI(title="Proctor", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.database = database
    app.state.api_key = settings.api_key()
    app.state.agent_timeout = settings.agent_timeout()
    app.state.agent_forget_after = settings.agent_forget_after()
    app.state.services = None
    app.state.request_metrics = RequestMetrics()
    install_error_handlers(app)
    # Added innermost first: the timer sees every request, the 413 answers included.
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes())
    app.add_middleware(RequestTimer, metrics=app.state.request_metrics)

    app.include_router(health.router)
    guarded = [Depends(require_api_key)]
    routers = (flows, flow_runs, task_runs, events, deployments, agents, concurrency_limits)
    for module in (*routers, metrics):
        app.include_router(module.router, dependencies=guarded)
    mount_ui(app)
    return app
