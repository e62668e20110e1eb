"""The web console at ``/console``: server-rendered pages over the services, with a
little of dbplane's own JavaScript; every asset is served from this package."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from dbplane.api.console import admin, browser, datasafety, pages, routines, schema

__all__ = ["install"]

_STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the console's pages and assets, and send a browser at ``/`` to it."""
    app.mount("/console/static", StaticFiles(directory=_STATIC), name="console-static")
    app.include_router(pages.router)
    app.include_router(browser.router)
    app.include_router(admin.router)
    app.include_router(schema.router)
    app.include_router(routines.router)
    app.include_router(datasafety.router)

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> Response:
        return RedirectResponse("/console", status_code=307)
