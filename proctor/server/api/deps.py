"""Dependencies the routers declare: the database, the API key check, and shared query params.

Each is an `Annotated` alias, so a route says `database: DB` or `page: PageQuery` and the
signature alone documents what the route needs.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..db.engine import Database
from ..db.queries import Page
from ..ui.session import has_session
from .schemas import ID_PATTERN, Name

#: Largest offset a list accepts (deeper pages are better reached with filters).
MAX_OFFSET = 2**31 - 1
#: Default and largest page sizes.
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_LOG_LIMIT = 1000


def get_database(request: Request) -> Database:
    """The app's database (made by `create_app`; one per app, never a module global)."""
    return request.app.state.database


DB = Annotated[Database, Depends(get_database)]

_bearer = HTTPBearer(auto_error=False, description="The server's PROCTOR_API_KEY")


def require_api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse (401) a request without the right `Authorization: Bearer <key>` when the server
    has a key. Compared in constant time, so response times do not leak the key. The web UI's
    session cookie (set by its login page, SameSite=Strict) is accepted in its place."""
    expected: str | None = request.app.state.api_key
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not credentials and has_session(request):  # the web UI's own requests
        return
    if not credentials or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong API key: send 'Authorization: Bearer <PROCTOR_API_KEY>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


def page_query(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


def log_page_query(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LOG_LIMIT, description="Lines per page")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Lines to skip")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageQuery = Annotated[Page, Depends(page_query)]
LogPageQuery = Annotated[Page, Depends(log_page_query)]

FlowId = Annotated[str, Path(pattern=ID_PATTERN, description="The flow's id")]
FlowRunId = Annotated[str, Path(pattern=ID_PATTERN, description="The flow run's id")]
TaskRunId = Annotated[str, Path(pattern=ID_PATTERN, description="The task run's id")]
DeploymentId = Annotated[str, Path(pattern=ID_PATTERN, description="The deployment's id")]
#: A name in the path (flow, deployment, work queue, tag): same rules as in bodies.
PathName = Annotated[Name, Path()]


def wake_service(request: Request, name: str) -> None:
    """Ask the app's service `name` for a pass now (after a change it should act on soon); does
    nothing when the app runs without services."""
    services = getattr(request.app.state, "services", None)
    if services is not None:
        services.wake(name)
