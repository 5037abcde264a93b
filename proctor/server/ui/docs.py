"""The API's own reference: `/openapi.json` and `/docs` (Swagger UI), behind the key like the
rest of the API and served entirely by this server.

Why not FastAPI's built-in pages: they are open whatever the key, they load their script and
style from a CDN (so a page of the server runs code the server did not ship, and breaks
offline), and they start with an inline script, which the UI's Content-Security-Policy
(`script-src 'self'`) forbids. Here:

- `/openapi.json` needs the bearer key or a UI session (401 otherwise, like every API route);
  the schema lists every route and field, which is no business of someone without the key.
- `/docs` needs the same; without it, it answers 401 with the login form, which comes back to
  the page once logged in.
- Its script and style are files of an installed package (the `server` extra's
  `fastapi-offline`, used for its bundled Swagger UI 5 files only, under `/docs-static/`;
  `swagger-ui-bundle` ships Swagger UI 4, which refuses OpenAPI 3.1 schemas), started by the
  UI's own `docs.js`; the page carries the UI's CSP, so nothing from elsewhere can load or run.
  Swagger UI's "Try it out" calls send the session's CSRF token, as the UI's own calls do.
- There is no ReDoc page: the same package ships ReDoc 2, but ReDoc asks a CDN for its logo on
  every page and runs its search in a `blob:` worker, both of which the CSP refuses (errors on
  every load). Rather than loosen the policy, `/redoc` sends the browser to `/docs`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..api.deps import bearer_key_matches
from .routes import UIError, login_form, render
from .session import has_session

#: The installed package whose Swagger UI and ReDoc files the pages use.
ASSET_PACKAGE = "fastapi_offline"
#: The files the page loads, from `/docs-static/`.
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")

router = APIRouter(include_in_schema=False)


def asset_folder() -> Path | None:
    """The folder of the bundled Swagger UI files, found without importing the package; None
    when it is not installed (or lacks a file the page needs)."""
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


@router.get("/docs", response_class=HTMLResponse)
def swagger_page(request: Request) -> Response:
    if not _allowed(request):
        return login_form(request, status=401)
    if asset_folder() is None:
        return render(request, "error.html", status=503, message=str(UIError(
            f"the API reference page needs the {ASSET_PACKAGE} package (its Swagger UI files); "
            "install the server extra: pip install 'proctor[server]'")))
    return render(request, "docs.html", openapi_url="/openapi.json")


@router.get("/redoc")
def redoc_page() -> Response:
    """No ReDoc page (see the module docstring): the Swagger UI one."""
    return RedirectResponse("/docs", status_code=303)
