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
from ..ui.session import CSRF_HEADER, SAFE_METHODS, current_session, store_of
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


#: The 403 detail of a change that carries the UI's cookie but not its CSRF token.
MISSING_CSRF = (
    "this request is authenticated by the web UI's session cookie but does not carry that "
    "session's CSRF token: "
    f"send the {CSRF_HEADER} header (the UI's pages carry it in <meta name=\"proctor-csrf\">), "
    "or authenticate with 'Authorization: Bearer <PROCTOR_API_KEY>' instead of the cookie"
)


def bearer_key_matches(request: Request) -> bool:
    """Does the request carry `Authorization: Bearer <key>` with the server's key? Compared in
    constant time, so response times do not leak the key."""
    expected: str | None = request.app.state.api_key
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if expected is None or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def require_api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse (401) a request without the right `Authorization: Bearer <key>` when the server
    has a key. The web UI's session cookie (set by its login page, SameSite=Strict) is accepted
    in its place; a change (POST, PUT, PATCH, DELETE) made with the cookie must also carry the
    session's CSRF token (403 without it), since a browser sends the cookie with requests that
    other pages make too."""
    if request.app.state.api_key is None:
        return
    if credentials is None:
        session_id = current_session(request)  # the web UI's own requests
        if session_id is not None:
            store = store_of(request)
            if request.method not in SAFE_METHODS and (
                store is None or not store.csrf_matches(session_id,
                                                        request.headers.get(CSRF_HEADER))
            ):
                raise HTTPException(status.HTTP_403_FORBIDDEN, detail=MISSING_CSRF)
            return
    if not bearer_key_matches(request):
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
