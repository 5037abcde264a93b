"""`create_app`: the FastAPI app over one database, built on demand (nothing at import time).

The factory creates the engine, so tests, the CLI and an ASGI server each get an app bound to
the database they name, and importing this module touches no database. Migrations run when the
app starts (its lifespan), so a fresh database is ready before the first request; the services
(scheduler, reaper) start after them and stop before the engine is disposed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from ... import __version__, settings
from ..db import migrate
from ..db.engine import Database
from ..services import Services
from ..ui import mount_ui
from ..ui.session import SessionStore
from .deps import require_api_key
from .errors import install_error_handlers
from .guards import HostGuard, OriginGuard, allowed_host_names
from .metrics import RequestMetrics
from .middleware import BodyLimit, FirstRequest, RequestTimer
from .responses import document_error_answers
from .route_table import hold_to_schema
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
from .schemas import STORABLE_JSON

DESCRIPTION = (
    "Proctor's server: stores flows, runs, states and logs that clients report; never runs code."
)


def create_app(
    database_url: str | None = None,
    *,
    apply_migrations: bool = True,
    services: bool = True,
    hosts: Sequence[str] = (),
) -> FastAPI:
    """The API over `database_url` (default: `PROCTOR_DATABASE_URL`, else an SQLite file in
    `PROCTOR_HOME`). The API key, body limit, allowed hosts, UI session and service settings
    are read from the environment now.

    With `apply_migrations` (the default) the database is brought up to date when the app
    starts; the engine is disposed when it stops. With `services` (the default) the scheduler
    and the reaper run in background threads while the app runs; tests turn them off and call
    their `run_once(now)` with the time they choose. `hosts` are the addresses the server
    listens on (`--host`): Host names it answers besides `PROCTOR_ALLOWED_HOSTS` (default: the
    loopback names; see `guards`).
    """
    allowed_hosts = allowed_host_names(hosts, settings.allowed_hosts())
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

    # The API's own pages (/docs, /redoc, /openapi.json) are served by the UI, behind the key.
    app = FastAPI(title="Proctor", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.database = database
    app.state.api_key = settings.api_key()
    app.state.ui_sessions = (
        SessionStore(database, app.state.api_key, settings.ui_session_ttl())
        if app.state.api_key is not None else None
    )
    app.state.agent_timeout = settings.agent_timeout()
    app.state.agent_forget_after = settings.agent_forget_after()
    app.state.services = None
    app.state.request_metrics = RequestMetrics()
    # Every app made here has the same routes: they share one route table (api.route_table).
    app.state.route_table_key = "proctor-api"
    install_error_handlers(app)
    # Added innermost first: the timer sees every request, the 400/403/413 answers included;
    # the Host and then the Origin are checked before any body is read.
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes())
    app.add_middleware(OriginGuard)
    app.add_middleware(HostGuard, allowed=allowed_hosts)
    app.add_middleware(RequestTimer, metrics=app.state.request_metrics)
    if background is not None:
        app.add_middleware(FirstRequest, on_first=background.serving)

    held = Depends(hold_to_schema)
    app.include_router(document_error_answers(health.router, guarded=False), dependencies=[held])
    guarded = [Depends(require_api_key), held]
    routers = (flows, flow_runs, task_runs, events, deployments, agents, concurrency_limits)
    for module in (*routers, metrics):
        app.include_router(document_error_answers(module.router, guarded=True),
                           dependencies=guarded)
    mount_ui(app)
    _add_schema_components(app)
    return app


def _add_schema_components(app: FastAPI) -> None:
    """Put in the app's OpenAPI schema the shared definitions that models refer to by `$ref`
    but pydantic cannot make (a recursive JSON value)."""
    build = app.openapi

    def openapi() -> dict:
        schema = build()  # FastAPI's, made once and cached
        schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "StorableJson", STORABLE_JSON)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
