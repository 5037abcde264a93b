"""The web UI, served by the API server at `/` (see `routes` for pages and access)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount_ui(app: FastAPI) -> None:
    """Add the UI's pages and its static files (CSS, script) to the API app."""
    from .routes import router

    app.include_router(router)
    app.mount("/ui-static", StaticFiles(directory=str(STATIC)), name="ui-static")
