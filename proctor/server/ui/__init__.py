"""The web UI, served by the API server at `/` (see `routes` for pages and access, `session`
for logins, `docs` for the API reference page)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount_ui(app: FastAPI) -> None:
    """Add the UI's pages, the API reference page and their static files (CSS, scripts) to
    the API app."""
    from . import docs
    from .routes import router

    app.include_router(router)
    app.include_router(docs.router)
    app.mount("/ui-static", StaticFiles(directory=str(STATIC)), name="ui-static")
    assets = docs.asset_folder()
    if assets is not None:  # without them /docs says what to install
        app.mount("/docs-static", StaticFiles(directory=str(assets)), name="docs-static")
