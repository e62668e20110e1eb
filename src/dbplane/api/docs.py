"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from assets dbplane serves itself: the
distributions come from the ``fastapi-offline`` package, so the pages work without
internet and no request leaves the host."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["install_docs"]

_ASSETS = "/docs-assets"


def install_docs(app: FastAPI) -> None:
    """Serve the API reference pages and their assets (the app is built with
    ``docs_url=None, redoc_url=None``)."""
    static = Path(str(files("fastapi_offline") / "static"))
    app.mount(_ASSETS, StaticFiles(directory=static), name="docs-assets")
    title = f"{app.title} {app.version}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title=f"{title} · API",
            swagger_js_url=f"{_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{_ASSETS}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json", title=f"{title} · API",
            redoc_js_url=f"{_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{_ASSETS}/favicon.png", with_google_fonts=False)
