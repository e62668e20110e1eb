"""What every console page shares: the signed-in caller from the session cookie, CSRF
tokens, the templates, the security headers, and how errors become pages.

The cookie holds the bearer token the API would take (a session token from a login, or an
admin API token), so the console authenticates exactly as the API does
(``services.auth.authenticate``) and grants apply identically. It is ``HttpOnly``,
``SameSite=Strict`` and scoped to ``/console``. A form's CSRF token is an HMAC of that
bearer token: the page knows it, a cross-site form cannot, and any replica can check it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from dbplane import __version__
from dbplane.errors import CsrfFailed, DbplaneError, Unauthorized
from dbplane.services.auth import Principal, authenticate
from dbplane.services.context import AppContext

__all__ = ["COOKIE", "LOGIN_CSRF_COOKIE", "ConsoleRoute", "admin_form", "caller",
           "check_csrf", "context_of", "csrf_token", "render"]

COOKIE = "dbplane_console"
LOGIN_CSRF_COOKIE = "dbplane_console_login"

# no inline script or style anywhere: every script, style and icon is a file dbplane serves
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{value} B"


def _when(iso: str | None) -> Markup | str:
    """A time in UTC, in a ``<time>`` the page's script shows in the browser's zone."""
    if not iso:
        return "-"
    try:
        moment = datetime.fromisoformat(iso).astimezone(UTC)
    except ValueError:
        return iso
    return Markup('<time datetime="{}">{}</time>').format(
        moment.isoformat(timespec="milliseconds"), moment.strftime("%Y-%m-%d %H:%M:%S UTC"))


_env = Environment(loader=PackageLoader("dbplane.api.console", "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True,
                   lstrip_blocks=True)
_env.filters["size"] = _size
_env.filters["when"] = _when
_env.filters["ms"] = lambda ms: _when(
    datetime.fromtimestamp(ms / 1000, UTC).isoformat() if isinstance(ms, int) else None)
_env.filters["q"] = lambda v: quote(str(v), safe="")


def context_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _bearer(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


async def caller(request: Request) -> Principal:
    """The signed-in caller; Unauthorized (a redirect to the sign-in page) else."""
    token = _bearer(request)
    return await authenticate(context_of(request), f"Bearer {token}" if token else None)


def csrf_token(request: Request) -> str:
    token = _bearer(request) or ""
    return hmac.new(token.encode(), b"dbplane-console-csrf", hashlib.sha256).hexdigest()


def check_csrf(request: Request, form: Any) -> None:
    sent = str(form.get("csrf") or "")
    if not _bearer(request) or not hmac.compare_digest(sent, csrf_token(request)):
        raise CsrfFailed()


async def admin_form(request: Request) -> tuple[Principal, Any]:
    """The caller and its form, after the CSRF check, for an admin's action."""
    principal = await caller(request)
    form = await request.form()
    check_csrf(request, form)
    principal.require_admin()
    return principal, form


def login_csrf(request: Request) -> str:
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)


def render(request: Request, template: str, status: int = 200,
           principal: Principal | None = None, **values: Any) -> HTMLResponse:
    html = _env.get_template(template).render(
        request=request, principal=principal, version=__version__,
        csrf=csrf_token(request) if principal is not None else "", **values)
    return HTMLResponse(html, status_code=status)


def _error_page(request: Request, exc: DbplaneError) -> Response:
    if isinstance(exc, Unauthorized):
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.method == "GET" and not target.endswith(".json"):
            return RedirectResponse(f"/console/login?next={quote(target, safe='')}", 303)
    return render(request, "error.html", status=exc.status, error=exc, principal=None)


class ConsoleRoute(APIRoute):
    """Every console answer carries the security headers, and a dbplane error becomes a
    page (a sign-in redirect when the caller is not signed in) instead of problem JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except DbplaneError as exc:
                if exc.status >= 500 and exc.status != 503:
                    raise  # a bug: logged and answered as the API answers it
                response = _error_page(request, exc)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return route
