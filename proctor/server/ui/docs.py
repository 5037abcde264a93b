"""The API's own reference pages: `/openapi.json`, `/docs` (Swagger UI) and `/redoc` (ReDoc),
behind the key like the rest of the API and served entirely by this server.

Why not FastAPI's built-in pages: they are open whatever the key, they load their script and
style from a CDN (so a page of the server runs code the server did not ship, and breaks
offline), and they start with an inline script, which the UI's Content-Security-Policy
(`script-src 'self'`) forbids. Here:

- `/openapi.json` needs the bearer key or a UI session (401 otherwise, like every API route);
  the schema lists every route and field, which is no business of someone without the key.
- `/docs` and `/redoc` need the same; without it they answer 401 with the login form, which
  comes back to the page once logged in.
- Their scripts and styles are files of an installed package (the `server` extra's
  `fastapi-offline`, used for its bundled Swagger UI 5 and ReDoc 2 files only, under
  `/docs-static/`) started by the UI's own `docs.js`; the pages carry the UI's CSP, so nothing
  from elsewhere can load or run. Swagger UI's "Try it out" calls send the session's CSRF
  token, as the UI's own calls do.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ..api.deps import bearer_key_matches
from .routes import UIError, login_form, render
from .session import has_session

#: The installed package whose Swagger UI and ReDoc files the pages use.
ASSET_PACKAGE = "fastapi_offline"
#: The files the pages load, all from `/docs-static/`.
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")

router = APIRouter(include_in_schema=False)


def asset_folder() -> Path | None:
    """The folder of the bundled Swagger UI and ReDoc files, found without importing the
    package; None when it is not installed (or lacks a file the pages need)."""
    spec = importlib.util.find_spec(ASSET_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "static"
        if all((folder / name).is_file() for name in ASSET_FILES):
            return folder
    return None


def _allowed(request: Request) -> bool:
    return has_session(request) or bearer_key_matches(request)


@router.get("/openapi.json")
def openapi_schema(request: Request) -> Response:
    if not _allowed(request):
        return JSONResponse(
            {"detail": "missing or wrong API key: send 'Authorization: Bearer <PROCTOR_API_KEY>'"},
            status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return JSONResponse(request.app.openapi())


def _page(request: Request, template: str) -> Response:
    if not _allowed(request):
        return login_form(request, status=401)
    if asset_folder() is None:
        return render(request, "error.html", status=503, message=str(UIError(
            f"the API reference pages need the {ASSET_PACKAGE} package (Swagger UI and ReDoc "
            "files); install the server extra: pip install 'proctor[server]'")))
    return render(request, template, openapi_url="/openapi.json")


@router.get("/docs", response_class=HTMLResponse)
def swagger_page(request: Request) -> Response:
    return _page(request, "docs.html")


@router.get("/redoc", response_class=HTMLResponse)
def redoc_page(request: Request) -> Response:
    return _page(request, "redoc.html")
